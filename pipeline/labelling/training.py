"""Retraining for the labelling page: the model's training data plus the analyst's labels.

The work runs in one background process (``Trainer``), so the page keeps answering while a
model fits: the process holds the training data and the texts of the session's paragraphs,
fits and saves a model, scores every paragraph with it (the page only swaps in the scores), and
then measures the new model on the analyst's own labels by cross-validation grouped by
document. The functions that do the work are plain and importable (the benchmark uses
``combine`` and ``learnable``).
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import InputError

# A label enters training once it has this many examples: the calibration folds need one per
# fold (``check_training_labels``), and three is what "a few labels per label" means on the page.
MIN_PER_LABEL = 3
CV_FOLDS = 3


def learnable(labels: Sequence[str], minimum: int = MIN_PER_LABEL) -> set[str]:
    """The labels with at least ``minimum`` examples."""
    counts = pd.Series(list(labels), dtype=object).value_counts()
    return {str(label) for label, n in counts.items() if n >= minimum}


def combine(base: pd.DataFrame | None, user: pd.DataFrame, calibration_by: str = "doc_id") -> tuple[pd.DataFrame, int]:
    """Training rows: ``base`` (text, label, doc_id[, calibration column]) without the paragraphs
    the analyst labelled (their label wins), then the analyst's rows. Returns the frame and how
    many base rows the analyst's labels replaced. Analyst rows without the calibration column
    are grouped by their document."""
    user = user[["text", "label", "doc_id"]].astype(str)
    if base is None or base.empty:
        frame, replaced = user.copy(), 0
    else:
        mine = set(user["text"])
        overridden = base["text"].isin(mine)
        replaced = int(overridden.sum())
        frame = pd.concat([base[~overridden], user], ignore_index=True)
    if calibration_by != "doc_id":
        if calibration_by not in frame.columns:
            frame[calibration_by] = None  # object column: the group names below are text
        frame[calibration_by] = frame[calibration_by].astype(object)
        missing = frame[calibration_by].isna()
        frame.loc[missing, calibration_by] = "labels:" + frame.loc[missing, "doc_id"].astype(str)
    return frame.reset_index(drop=True), replaced


# --------------------------------------------------------------------------- in the worker

_BASE: pd.DataFrame | None = None
_TEXTS: list[str] = []


def _init_worker(base: pd.DataFrame | None, texts: list[str], parent_pid: int) -> None:
    global _BASE, _TEXTS
    from ..engines import die_with_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which ends this process
    die_with_parent(parent_pid)
    _BASE, _TEXTS = base, texts


def fit_and_score(config: dict, user: pd.DataFrame, model_out: str | None, card_extra: dict,
                  min_per_label: int | None) -> dict:
    """Fit on base + ``user`` rows, save the model to ``model_out``, score every session text.

    ``min_per_label``: leave out labels with fewer user examples (cold start: a label enters the
    model once the analyst has given a few); None keeps every label.
    """
    from .. import api

    started = time.perf_counter()
    left_out: list[str] = []
    if min_per_label is not None:
        keep = learnable(user["label"], min_per_label)
        left_out = sorted(set(user["label"]) - keep)
        user = user[user["label"].isin(keep)]
    frame, replaced = combine(_BASE, user, config["classifier"]["calibration_by"])
    model = api.train(frame, config=config)
    model.card["label_session"] = {**card_extra, "user_labels": int(len(user)), "base_rows": int(len(frame) - len(user)),
                                   "replaced_base_rows": replaced}
    if model_out:
        model.save(model_out)
    proba = model.predict_proba(_TEXTS) if _TEXTS else np.zeros((0, len(model.labels)))
    return {"labels": model.labels, "proba": proba.astype(np.float32), "rows": int(len(frame)),
            "user_rows": int(len(user)), "replaced": replaced, "left_out": left_out,
            "seconds": time.perf_counter() - started, "saved": model_out}


def cross_validate_user(config: dict, user: pd.DataFrame, min_per_label: int | None, k: int = CV_FOLDS,
                        seed: int = 0) -> dict:
    """Out-of-fold predictions for the analyst's rows: each fold's model trains on the base data
    plus the analyst's other folds, grouped by document so a report is never on both sides.
    With labels from a single document, folds split paragraphs instead (and say so)."""
    from sklearn.model_selection import KFold

    from .. import api
    from ..splits import grouped_folds

    user = user.reset_index(drop=True)
    n_docs = user["doc_id"].nunique()
    if len(user) < 2 * k:
        return {"predicted": [None] * len(user), "k": 0, "by": None, "note": f"too few labels ({len(user)}) to cross-validate"}
    if n_docs >= 2:
        k = min(k, n_docs)
        folds = grouped_folds(user["label"].tolist(), user["doc_id"].tolist(), k, seed)
        by = "document"
    else:
        folds = list(KFold(k, shuffle=True, random_state=seed).split(user))
        by = "paragraph"
    predicted: list[str | None] = [None] * len(user)
    skipped = 0
    for train_idx, test_idx in folds:
        train = user.iloc[train_idx]
        if min_per_label is not None:
            train = train[train["label"].isin(learnable(train["label"], min_per_label))]
        frame, _ = combine(_BASE, train, config["classifier"]["calibration_by"])
        try:
            model = api.train(frame, config=config)
        except InputError:  # a fold too small to learn from (cold start): its rows stay unscored
            skipped += 1
            continue
        for i, label in zip(test_idx, model.predict(user["text"].iloc[test_idx].tolist())):
            predicted[int(i)] = str(label)
    if skipped == len(folds):
        return {"predicted": predicted, "k": 0, "by": None,
                "note": f"too few labels ({len(user)}) for any fold to train on"}
    note = f"{skipped} of {len(folds)} folds too small to train" if skipped else None
    return {"predicted": predicted, "k": len(folds), "by": by, "note": note}


def _ready() -> bool:
    return True


# --------------------------------------------------------------------------- the process

class Trainer:
    """One background process for fits. It starts on first use (spawned: the server has threads,
    which a forked child must not inherit) and dies with the server, however the server dies."""

    def __init__(self, base: pd.DataFrame | None, texts: list[str]):
        self.base, self.texts = base, texts
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> "Trainer":
        """Start the process now, from the calling thread, which must outlive it: the kernel
        ends the process when the thread that started it ends (the server's main thread)."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_init_worker, initargs=(self.base, self.texts, os.getpid()))
            self._pool.submit(_ready)  # spawns the process here, not in whichever thread submits first
        return self

    def submit(self, fn, *args) -> Future:
        """Queue ``fn(*args)`` in the process; a process that died (killed, out of memory) is
        replaced, from the main thread only (see ``start``)."""
        for attempt in (1, 2):
            if self._pool is None and threading.current_thread() is not threading.main_thread():
                raise RuntimeError("the training process has stopped; retrain from the page to start it again")
            self.start()
            try:
                return self._pool.submit(fn, *args)
            except BrokenProcessPool:
                self.close()
        raise RuntimeError("the training process keeps dying; see the server's log")

    def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            processes = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:  # a fit in progress is of no use once the server stops
                if process.is_alive():
                    process.terminate()
