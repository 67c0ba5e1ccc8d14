"""A labelling session: the paragraphs to label, the analyst's decisions, the queue and the model.

    from pipeline.labelling import open_session
    session = open_session(["reports/"], "my_labels.csv", model="models/default")
    item = session.item(session.next_id())
    session.label(item["id"], "politics")      # on disk when this returns
    session.undo(); session.retrain()

Everything here is plain Python: the web layer (``server``) only turns requests into these
calls. Paragraphs are numbered 0..n-1 in reading order for the life of the session; on disk a
paragraph is known by its document and position (``doc_id``, ``para_index``), so a rerun on the
same inputs and labels file picks up every earlier decision.
"""
from __future__ import annotations

import os
import threading
import time
import traceback
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from .queue import ORDERS, document_order, margins, uncertain_order
from .store import Key, LabelStore, SkipStore, check_labels_path, paragraph_key
from .training import MIN_PER_LABEL, Trainer, cross_validate_user, fit_and_score, learnable

SUGGESTIONS = 3
RECENT = 50
DOCUMENT_WINDOW = 300  # paragraphs of the current document sent around the current one, each side
PARAGRAPH_COLUMNS = ["doc_id", "para_index", "text", "heading", "role", "file"]


class SessionError(Exception):
    """A request the session cannot honour; ``status`` is the HTTP status the page gets."""

    status = 400


class NotFound(SessionError):
    status = 404


class Conflict(SessionError):
    status = 409


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class LabelSession:
    """The state of one labelling session. Thread-safe: the web layer calls it from its event
    loop, and retraining reports back from a background thread."""

    def __init__(self, paragraphs: pd.DataFrame, store: LabelStore, skips: SkipStore, labels: Sequence[str], *,
                 proba: np.ndarray | None = None, model_labels: Sequence[str] | None = None,
                 model_name: str | None = None, order: str = "uncertain", trained_keys: Iterable[Key] = (),
                 retrain: dict | None = None, notes: Iterable[str] = (), log: Callable[[str], None] | None = None):
        """``proba``: the model's scores for every paragraph (columns in ``model_labels`` order),
        or None without a model. ``retrain``: None when the page cannot retrain, else a dict of
        ``config``, ``base`` (a frame of the model's training data, or None), ``cold`` (no model
        was given: train a first one from the analyst's labels), ``model_out`` (folder to save
        retrained models to, or None), ``card`` (what the saved card records of the session)
        and ``why_not`` (None, or why retraining is off)."""
        if order not in ORDERS:
            raise InputError(f"unknown order {order!r}; choose one of {', '.join(ORDERS)}")
        self.paragraphs = paragraphs.reset_index(drop=True)
        self.keys: list[Key] = [paragraph_key(d, p) for d, p in zip(self.paragraphs["doc_id"], self.paragraphs["para_index"])]
        self.index_of = {key: i for i, key in enumerate(self.keys)}
        codes, names = pd.factorize(self.paragraphs["doc_id"], sort=False)
        self.doc_codes = codes
        self.doc_names = [str(n) for n in names]
        self._doc_rows: dict[int, list[int]] = {}  # document -> its paragraphs, in reading order
        for i, code in enumerate(codes):
            self._doc_rows.setdefault(int(code), []).append(i)
        self.store, self.skips = store, skips
        self.labels = list(labels)
        self.order_mode = order
        self.notes = list(notes)
        self.log = log or (lambda message: None)
        self._lock = threading.RLock()
        self.labelled: dict[int, str] = {}
        stale = 0
        for key, row in store.rows.items():
            i = self.index_of.get(key)
            if i is None:
                continue
            if row["text"] != self.paragraphs.at[i, "text"]:
                stale += 1
                continue
            self.labelled[i] = row["label"]
        if stale:
            self.notes.append(f"{stale} label(s) in {store.path} are for paragraphs whose text has changed in the inputs; "
                              "they stay in the file and those paragraphs are offered again")
        extra = sorted({row["label"] for row in store.rows.values()} - set(self.labels))
        if extra:
            self.notes.append(f"{store.path} has label(s) outside the label set: {', '.join(extra)}; added to it")
            self.labels += extra
        self._undo: list[tuple] = []
        self.proba, self.model_labels, self.model_name = None, [], model_name
        self.model_version = 0
        self.trained_keys: set[Key] = set(trained_keys)
        self.trained_labels: set[str] = set(model_labels or ())
        self._retrain = retrain
        self._trainer: Trainer | None = None
        self._auto_tried: frozenset = frozenset()
        self.status = {"state": "idle", "message": None, "report": None}
        self.order: list[int] = document_order(len(self.paragraphs))
        self.rank = np.arange(len(self.paragraphs))
        self._cursor = 0
        if proba is not None:
            self._set_model(proba, list(model_labels), model_name)

    # ------------------------------------------------------------------ model and queue
    @property
    def cold(self) -> bool:
        """No model was given: the page trains its own from the analyst's labels."""
        return self._retrain is not None and bool(self._retrain.get("cold"))

    def _set_model(self, proba: np.ndarray, model_labels: list[str], name: str | None) -> None:
        proba = np.asarray(proba, dtype=np.float32)
        if proba.shape != (len(self.paragraphs), len(model_labels)):
            raise ValueError(f"scores of shape {proba.shape} for {len(self.paragraphs)} paragraphs and {len(model_labels)} labels")
        self.proba, self.model_labels, self.model_name = proba, list(model_labels), name
        self.model_version += 1
        self._rank()

    def _rank(self) -> None:
        if self.order_mode == "uncertain" and self.proba is not None:
            self.order = uncertain_order(margins(self.proba), self.doc_codes)
        else:
            self.order = document_order(len(self.paragraphs))
        self.rank = np.empty(len(self.order), dtype=int)
        self.rank[self.order] = np.arange(len(self.order))
        self._cursor = 0

    def suggestions(self, i: int) -> list[dict]:
        """The model's best labels for paragraph ``i`` (those in the label set), with scores."""
        if self.proba is None:
            return []
        row = self.proba[i]
        allowed = set(self.labels)
        ranked = [j for j in np.argsort(-row, kind="stable") if self.model_labels[j] in allowed]
        return [{"label": self.model_labels[j], "score": round(float(row[j]), 4)} for j in ranked[:SUGGESTIONS]]

    def _done(self, i: int) -> bool:
        return i in self.labelled or self.keys[i] in self.skips.keys

    def next_id(self) -> int | None:
        """The paragraph to offer now: the first in queue order neither labelled nor skipped;
        when only skipped ones are left, the first of those."""
        with self._lock:
            n = len(self.order)
            while self._cursor < n and self._done(self.order[self._cursor]):
                self._cursor += 1
            if self._cursor < n:
                return int(self.order[self._cursor])
            for i in self.order:
                if i not in self.labelled:
                    return int(i)
            return None

    # ------------------------------------------------------------------ reading
    def _check_id(self, i) -> int:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise SessionError(f"paragraph id must be an integer, got {i!r}")
        if not 0 <= i < len(self.paragraphs):
            raise NotFound(f"no paragraph {i} (ids are 0 to {len(self.paragraphs) - 1})")
        return int(i)

    def item(self, i) -> dict:
        """Paragraph ``i`` with everything the page shows around it."""
        with self._lock:
            i = self._check_id(i)
            p = self.paragraphs.iloc[i]
            code = int(self.doc_codes[i])
            rows = self._doc_rows[code]
            pos = rows.index(i)
            first, last = max(pos - DOCUMENT_WINDOW, 0), min(pos + DOCUMENT_WINDOW + 1, len(rows))
            return {
                "id": i, "doc_id": str(p["doc_id"]), "para_index": _plain(p["para_index"]), "text": str(p["text"]),
                "heading": str(p["heading"]), "role": str(p["role"]), "file": str(p["file"]),
                "position": pos + 1, "doc_length": len(rows),
                "label": self.labelled.get(i), "skipped": self.keys[i] in self.skips.keys,
                "suggestions": self.suggestions(i),
                "before": [self._brief(j) for j in rows[max(pos - 2, 0):pos]],
                "after": [self._brief(j) for j in rows[pos + 1:pos + 3]],
                "document": {"doc_id": str(p["doc_id"]), "index": code + 1, "documents": len(self.doc_names),
                             "hidden_before": first, "hidden_after": len(rows) - last,
                             "paragraphs": [self._brief(j) for j in rows[first:last]]},
            }

    def _brief(self, j: int) -> dict:
        return {"id": int(j), "text": str(self.paragraphs.at[j, "text"]), "role": str(self.paragraphs.at[j, "role"]),
                "label": self.labelled.get(j)}

    def state(self) -> dict:
        with self._lock:
            counts = {label: 0 for label in self.labels}
            for label in self.labelled.values():
                counts[label] = counts.get(label, 0) + 1
            skipped = sum(1 for key in self.skips.keys if key in self.index_of and self.index_of[key] not in self.labelled)
            recent = []
            for key in reversed(list(self.store.rows)):
                i = self.index_of.get(key)
                if i is not None and i in self.labelled:
                    recent.append({"id": i, "label": self.labelled[i], "doc_id": self.keys[i][0],
                                   "text": str(self.paragraphs.at[i, "text"])[:80]})
                    if len(recent) >= RECENT:
                        break
            return {
                "labels": self.labels, "counts": counts, "total": len(self.paragraphs),
                "labelled": len(self.labelled), "left": len(self.paragraphs) - len(self.labelled), "skipped": skipped,
                "other_rows": len(self.store.rows) - len(self.labelled), "out": str(self.store.path),
                "order": self.order_mode if self.proba is not None else "document", "next_id": self.next_id(),
                "can_undo": bool(self._undo) or self._last_session_row() is not None, "recent": recent,
                "model": self._model_state(), "notes": self.notes,
            }

    def _model_state(self) -> dict:
        retrain = self._retrain
        why_not = None
        if retrain is None:
            why_not = "retraining is off"
        elif retrain.get("why_not"):
            why_not = retrain["why_not"]
        elif self.cold:
            ready = learnable(self.labelled_rows_labels(), MIN_PER_LABEL)
            if len(ready) < 2:
                why_not = (f"the first model is trained once two labels have {MIN_PER_LABEL} examples each"
                           + (f" (ready: {', '.join(sorted(ready))})" if ready else ""))
        elif not self.store.rows:
            why_not = "label some paragraphs first"
        return {"name": self.model_name, "version": self.model_version, "labels": self.model_labels,
                "state": self.status["state"], "message": self.status["message"], "report": self.status["report"],
                "can_retrain": why_not is None and self.status["state"] in ("idle", "failed"), "why_not": why_not,
                "cold": self.cold}

    def labelled_rows_labels(self) -> list[str]:
        return [row["label"] for row in self.store.rows.values()]

    # ------------------------------------------------------------------ decisions
    def label(self, i, label) -> int:
        """Record ``label`` for paragraph ``i`` (new, or a change); on disk when this returns."""
        with self._lock:
            i = self._check_id(i)
            if not isinstance(label, str) or label not in self.labels:
                raise SessionError(f"unknown label {label!r}; labels are {', '.join(self.labels)}")
            key = self.keys[i]
            previous = self.store.rows.get(key)
            if self.labelled.get(i) == label and previous is not None:
                return i
            p = self.paragraphs.iloc[i]
            top = self.suggestions(i)[:1]
            row = {"doc_id": key[0], "para_index": _plain(p["para_index"]), "text": str(p["text"]), "label": label,
                   "heading": str(p["heading"]), "role": str(p["role"]), "file": str(p["file"]), "labelled_at": _now(),
                   "model_label": top[0]["label"] if top else "", "model_score": top[0]["score"] if top else None}
            self.store.put(row)
            was_skipped = key in self.skips.keys
            self._undo.append(("label", i, previous, self.labelled.get(i), was_skipped))
            self.labelled[i] = label
            if was_skipped:
                self.skips.discard(key)
            self._maybe_first_model()
            return i

    def skip(self, i) -> int:
        with self._lock:
            i = self._check_id(i)
            if i in self.labelled:
                raise Conflict(f"paragraph {i} is labelled {self.labelled[i]!r}; undo or relabel it instead of skipping")
            key = self.keys[i]
            if key not in self.skips.keys:
                self.skips.add(key)
                self._undo.append(("skip", i))
            return i

    def undo(self) -> int | None:
        """Undo the last decision of this run (or, after a restart, the last label in the file);
        returns the paragraph it concerned, which the page shows again."""
        with self._lock:
            if not self._undo:
                i = self._last_session_row()
                if i is None:
                    return None
                self.store.remove(self.keys[i])
                del self.labelled[i]
                self._cursor = min(self._cursor, int(self.rank[i]))
                return i
            action = self._undo.pop()
            i = action[1]
            key = self.keys[i]
            if action[0] == "skip":
                self.skips.discard(key)
            else:
                _, _, previous_row, previous_label, was_skipped = action
                if previous_row is None:
                    self.store.remove(key)
                else:  # a change: the earlier label (or a row for an older text of the paragraph) comes back
                    self.store.put(previous_row)
                if previous_label is None:
                    self.labelled.pop(i, None)
                else:
                    self.labelled[i] = previous_label
                if was_skipped:
                    self.skips.add(key)
            self._cursor = min(self._cursor, int(self.rank[i]))
            return i

    def _last_session_row(self) -> int | None:
        for key in reversed(list(self.store.rows)):
            i = self.index_of.get(key)
            if i is not None and i in self.labelled:
                return i
            return None
        return None

    # ------------------------------------------------------------------ retraining
    def start(self) -> None:
        """Start the training process (from the thread that runs the server) and, in a cold
        start resumed with enough labels, the first model."""
        if self._retrain is not None and not self._retrain.get("why_not"):
            self._trainer = Trainer(self._retrain.get("base"), self.paragraphs["text"].astype(str).tolist()).start()
        with self._lock:
            self._maybe_first_model()

    def close(self) -> None:
        if self._trainer is not None:
            self._trainer.close()

    def _maybe_first_model(self) -> None:
        """Cold start: train when two labels first have a few examples each, and again whenever
        another label gets there, so suggestions cover every label as soon as they can."""
        if not self.cold or self._trainer is None or self.status["state"] not in ("idle", "failed"):
            return
        ready = frozenset(learnable(self.labelled_rows_labels(), MIN_PER_LABEL))
        if len(ready) >= 2 and not ready <= self.trained_labels and ready != self._auto_tried:
            self._auto_tried = ready
            try:
                self.retrain(auto=True)
            except SessionError as exc:
                self.log(f"first model not started: {exc}")

    def retrain(self, auto: bool = False) -> dict:
        """Start training on the model's training data plus every label in the file, in the
        background. Returns the model state at once; the page polls it."""
        with self._lock:
            state = self._model_state()
            if self.status["state"] in ("training", "measuring"):
                raise Conflict("a model is already being trained; wait for it to finish")
            if not state["can_retrain"]:
                raise SessionError(f"cannot retrain: {state['why_not']}")
            if self._trainer is None:
                raise SessionError("cannot retrain: the training process is not running")
            user = self.store.frame()[["doc_id", "para_index", "text", "label"]]
            keys = [paragraph_key(d, p) for d, p in zip(user["doc_id"], user["para_index"])]
            # Before: how the model in use did on labels it was not trained on (the new ones).
            new = [n for n, key in enumerate(keys) if key not in self.trained_keys]
            before = None
            if self.proba is not None:
                rows = [(n, self.index_of[keys[n]]) for n in new if keys[n] in self.index_of]
                if rows:
                    top = self.proba[[i for _, i in rows]].argmax(axis=1)
                    guesses = [self.model_labels[t] for t in top]
                    right = sum(g == user["label"].iat[n] for (n, _), g in zip(rows, guesses))
                    before = {"n": len(rows), "correct": int(right), "accuracy": right / len(rows)}
            snapshot = {"keys": keys, "labels": user["label"].tolist(), "new": new, "before": before,
                        "started": time.perf_counter(), "auto": auto,
                        "labels_until": max((r["labelled_at"] for r in self.store.rows.values()), default="")}
            min_per = MIN_PER_LABEL if self.cold else None
            card = {**self._retrain.get("card", {}), "labels_until": snapshot["labels_until"]}
            model_out = self._retrain.get("model_out")
            try:
                future = self._trainer.submit(fit_and_score, self._retrain["config"], user,
                                              str(model_out) if model_out else None, card, min_per)
            except RuntimeError as exc:
                raise SessionError(f"cannot retrain: {exc}") from None
            what = "first model" if self.cold and self.proba is None else "model"
            self.status = {"state": "training", "report": self.status["report"],
                           "message": f"training a {what} on {len(user)} of your labels"
                                      + (f" + {len(self._retrain['base']):,} paragraphs of training data"
                                         if self._retrain.get("base") is not None else "") + " …"}
            self.log(self.status["message"])
            future.add_done_callback(lambda f: self._fitted(f, snapshot, user, min_per))
            return self._model_state()

    def _fitted(self, future: Future, snapshot: dict, user: pd.DataFrame, min_per: int | None) -> None:
        try:
            result = future.result()
        except Exception as exc:  # reported on the page and in the log; the session goes on
            self._failed("training failed", exc)
            return
        with self._lock:
            old_top = self.proba.argmax(axis=1) if self.proba is not None else None
            old_labels = self.model_labels
            trained_labels = set(result["labels"])
            when = datetime.now().strftime("%H:%M:%S")
            name = (f"trained {when} on {result['user_rows']} of your labels" if self._retrain.get("base") is None
                    else f"retrained {when} on the training data + {result['user_rows']} of your labels")
            self._set_model(result["proba"], result["labels"], name)
            self.trained_labels = trained_labels
            self.trained_keys = {k for k, label in zip(snapshot["keys"], snapshot["labels"]) if label in trained_labels}
            open_rows = [i for i in range(len(self.paragraphs)) if i not in self.labelled]
            changed = None
            if old_top is not None and open_rows:
                new_top = np.asarray(self.model_labels, dtype=object)[self.proba[open_rows].argmax(axis=1)]
                changed = int(sum(a != b for a, b in zip(np.asarray(old_labels, dtype=object)[old_top[open_rows]], new_top)))
            base = self._retrain.get("base")
            report = {"finished": datetime.now().strftime("%H:%M:%S"), "seconds": round(result["seconds"], 1),
                      "rows": result["rows"], "user_rows": result["user_rows"], "base_rows": 0 if base is None else len(base),
                      "replaced": result["replaced"], "left_out": result["left_out"], "saved": result["saved"],
                      "changed": changed, "open": len(open_rows), "order": self.order_mode, "before": snapshot["before"],
                      "after": None, "measuring": True}
            self.status = {"state": "measuring", "report": report,
                           "message": "new model in use; measuring it on your labels (cross-validation) …"}
            self.log(f"new model: {result['rows']} training rows in {result['seconds']:.1f}s; "
                     + (f"suggestions changed for {changed} of {len(open_rows)} open paragraph(s)" if changed is not None
                        else f"suggestions on for {len(open_rows)} open paragraph(s)"))
            try:
                cv = self._trainer.submit(cross_validate_user, self._retrain["config"], user, min_per)
            except Exception as exc:
                self._failed("measuring failed", exc)
                return
            cv.add_done_callback(lambda f: self._measured(f, snapshot, report))
            self._maybe_first_model()

    def _measured(self, future: Future, snapshot: dict, report: dict) -> None:
        try:
            result = future.result()
        except Exception as exc:
            self._failed("measuring failed", exc, report)
            return
        with self._lock:
            truth = snapshot["labels"]
            predicted = result["predicted"]

            def score(rows):
                rows = [n for n in rows if predicted[n] is not None]
                right = sum(predicted[n] == truth[n] for n in rows)
                return {"n": len(rows), "correct": int(right), "accuracy": right / len(rows) if rows else None}

            report = {**report, "measuring": False,
                      "after": {"k": result["k"], "by": result["by"], "note": result.get("note"),
                                "all": score(range(len(truth))), "new": score(snapshot["new"])}}
            self.status = {"state": "idle", "report": report, "message": None}
            after = report["after"]["all"]
            if result["k"]:
                self.log(f"new model cross-validated on your labels ({result['k']} folds by {result['by']}): "
                         f"{after['correct']} of {after['n']} right")
            else:
                self.log(f"new model not measured: {result.get('note')}")
            self._maybe_first_model()

    def _failed(self, what: str, exc: BaseException, report: dict | None = None) -> None:
        message = str(exc) if isinstance(exc, InputError) else f"{exc.__class__.__name__}: {exc}"
        if isinstance(exc, BrokenProcessPool) and self._trainer is not None:
            self._trainer.close()
        with self._lock:
            self.status = {"state": "failed", "report": report or self.status["report"], "message": f"{what}: {message}"}
        self.log(f"{what}: {message}")
        if not isinstance(exc, InputError):
            self.log("".join(traceback.format_exception(exc)).rstrip())

    def wait_idle(self, timeout: float = 120) -> dict:
        """Block until no training is running (for scripts and tests); returns the model state."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.status["state"] not in ("training", "measuring"):
                    return self._model_state()
            time.sleep(0.05)
        raise TimeoutError(f"training still running after {timeout} s")


def _plain(value):
    """numpy scalars as Python ones, for JSON."""
    return value.item() if isinstance(value, np.generic) else value


# --------------------------------------------------------------------------- opening a session

def read_paragraphs(inputs: Sequence[str | os.PathLike], skip: Iterable[Path] = (),
                    say: Callable[[str], None] = lambda message: None) -> pd.DataFrame:
    """What ``predict`` reads (report files and folders, split and outlined as ``ingest`` does,
    and tables of paragraphs, predictions included) → one row per paragraph to label:
    ``doc_id, para_index, text, heading, role, file``. Unreadable files are reported through
    ``say`` and left out; a path that does not exist is an error."""
    from ..batch import iter_units, read_unit

    if not inputs:
        raise InputError("no inputs given: name report files, folders or tables to label")
    for item in inputs:
        if not Path(item).exists():
            raise InputError(f"{item}: file not found")
    skip = {Path(p).resolve() for p in skip}
    frames, failures = [], []
    for path in iter_units(inputs):
        if path.resolve() in skip:
            say(f"note: {path} is the labels file itself; not read as an input")
            continue
        try:
            frame = read_unit(path)
        except InputError as exc:
            failures.append(str(exc))
            continue
        for column in ("heading", "role"):
            if column not in frame.columns:
                frame[column] = ""
        frame["file"] = str(path)
        frames.append(frame[PARAGRAPH_COLUMNS])
    for reason in failures:
        say(f"skipped: {reason}")
    if not frames:
        raise InputError("no paragraphs found in the inputs" + (f": {failures[0]}" if failures else ""))
    frame = pd.concat(frames, ignore_index=True)
    frame["text"] = frame["text"].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    for column in ("heading", "role"):
        frame[column] = frame[column].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    frame["doc_id"] = frame["doc_id"].astype(str)
    empty = frame["text"].str.strip() == ""
    frame = frame[~empty]
    keys = frame["doc_id"] + "\x1f" + frame["para_index"].astype(str)
    repeated = keys.duplicated()
    if repeated.any():
        say(f"note: {int(repeated.sum())} paragraph(s) appear in more than one input (same doc_id and para_index); "
            "each is offered once")
        frame = frame[~repeated]
    if frame.empty:
        raise InputError("the inputs hold no paragraphs with text")
    return frame.reset_index(drop=True)


def parse_label_set(text: str | Sequence[str] | None) -> list[str] | None:
    """``a,b,c`` (or a list) → labels in the given order, stripped, each once."""
    if text is None:
        return None
    items = text.split(",") if isinstance(text, str) else list(text)
    labels = list(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))
    if len(labels) < 2:
        raise InputError(f"--labels needs at least two labels, comma-separated (got {text!r})")
    return labels


def _base_identity(card: dict) -> dict:
    training = card.get("training_data", {})
    return {"data_sha256": training.get("sha256"), "created": card.get("created")}


def open_session(inputs: Sequence[str | os.PathLike], out: str | os.PathLike, *, model=None,
                 labels: str | Sequence[str] | None = None, order: str = "uncertain",
                 train_data: Sequence[str | os.PathLike] | None = None,
                 say: Callable[[str], None] = lambda message: None) -> LabelSession:
    """Read the inputs and the labels file, load and run the model, and decide how retraining works.

    ``model``: a model folder or ``TopicModel``; None with ``labels`` is a cold start (no
    suggestions until the page has trained a first model from the analyst's labels).
    ``labels``: the label set (default: the model's). ``train_data``: the tables the model was
    trained on, added to the analyst's labels when retraining; by default the bundled
    ``data/labels.csv`` when it is exactly what the model was trained on.
    """
    from .. import api
    from ..config import merge_config
    from ..model import TopicModel, data_fingerprint
    from ..paths import LABELS_FILE
    from ..persistence import read_card

    if order not in ORDERS:
        raise InputError(f"unknown order {order!r}; choose one of {', '.join(ORDERS)}")
    out = check_labels_path(out)
    label_set = parse_label_set(labels)
    if model is None and label_set is None:
        raise InputError("give a model (--model DIR) or a label set (--labels a,b,…) to label with")
    paragraphs = read_paragraphs(inputs, skip=[out], say=say)
    store = LabelStore(out).load()
    skips = SkipStore(out).load()
    for note in store.notes:
        say(f"note: {note}")

    model_out = out.with_name(f"{out.stem}.model")
    base_model = None
    if model is not None:
        base_model = model if isinstance(model, TopicModel) else api.load(model)
    model_name = None if base_model is None else (str(model) if not isinstance(model, TopicModel) else "the given model")
    if label_set is None:
        label_set = list(base_model.labels)
    tag = {"labels_file": str(out.resolve()), "base_model": None if base_model is None else _base_identity(base_model.card)}

    # Retraining: the model's config, and its training data when we know it.
    retrain: dict = {"model_out": model_out, "card": tag, "cold": base_model is None}
    if base_model is None:
        retrain.update(config=merge_config(None), base=None)
    else:
        config = merge_config(base_model.config)
        retrain.update(config=config, base=None)
        fingerprint = base_model.card.get("training_data", {}).get("sha256")
        frame, source = None, None
        if train_data:
            frame, source = api.labelled_frame(list(train_data)), ", ".join(map(str, train_data))
            if fingerprint and data_fingerprint(frame["text"].astype(str).tolist(), frame["label"].astype(str).tolist()) != fingerprint:
                say(f"note: {source} is not exactly the data {model_name} was trained on; retraining uses it as given")
        elif LABELS_FILE.exists() and fingerprint:
            candidate = api.labelled_frame(LABELS_FILE)
            if data_fingerprint(candidate["text"].astype(str).tolist(), candidate["label"].astype(str).tolist()) == fingerprint:
                frame, source = candidate, str(LABELS_FILE)
        if frame is None:
            retrain["why_not"] = (f"the data {model_name} was trained on is unknown; restart with "
                                  "--train-data TABLE... to retrain on it plus your labels")
        else:
            dropped = ~frame["label"].astype(str).isin(label_set)
            if dropped.any():
                say(f"note: {int(dropped.sum())} training row(s) with labels outside the label set are not used for retraining")
            column = config["classifier"]["calibration_by"]
            keep = ["text", "label", "doc_id"] + ([column] if column != "doc_id" and column in frame.columns else [])
            retrain["base"] = frame.loc[~dropped, keep].astype(str).reset_index(drop=True)
            retrain["base_source"] = source
            say(f"retraining adds your labels to {len(retrain['base']):,} paragraphs of {source}")

    # A model retrained by an earlier run of this session continues it.
    current, trained_keys = base_model, set()
    if model_out.exists():
        try:
            card = read_card(model_out)
        except Exception:
            card = None
        session_card = (card or {}).get("label_session") or {}
        if session_card.get("labels_file") == tag["labels_file"] and session_card.get("base_model") == tag["base_model"]:
            current = api.load(model_out)
            until = session_card.get("labels_until") or ""
            trained_keys = {key for key, row in store.rows.items() if row["labelled_at"] <= until}
            model_name = f"{model_out.name} (retrained in an earlier run, {session_card.get('user_labels', '?')} of your labels)"
            say(f"continuing with the model retrained in an earlier run: {model_out}")
        else:
            say(f"note: {model_out} exists and was not retrained from this labels file; retrained models will not be saved")
            retrain["model_out"] = None
    retrain["card"] = {**tag, "base_source": retrain.get("base_source")}

    proba, model_labels = None, None
    if current is not None:
        say(f"scoring {len(paragraphs):,} paragraphs with {model_name} …")
        proba = current.predict_proba(paragraphs["text"].tolist())
        model_labels = current.labels
    session = LabelSession(paragraphs, store, skips, label_set, proba=proba, model_labels=model_labels,
                           model_name=model_name, order=order, trained_keys=trained_keys, retrain=retrain, log=say)
    return session
