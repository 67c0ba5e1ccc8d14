"""The labels file: every decision is on disk before the page shows the next paragraph.

A labels file is an ordinary labelled table (``doc_id, para_index, text, label`` plus the
page's own columns), so ``train data/labels.csv my_labels.csv`` reads it directly. Its format
follows the suffix:

* ``.csv`` and ``.jsonl``: a new decision is one record appended with a single ``write`` and
  ``fsync``; changing or undoing a decision rewrites the file atomically (a temporary file,
  ``fsync``, rename, ``fsync`` of the folder).
* ``.parquet`` cannot be appended to, so every decision rewrites it atomically.

Killed at any moment, the file holds every decision made before the one being written; a
record cut short by the kill (only possible in an append) is dropped when the file is opened
again, and the loader says so.

Skipped paragraphs are not labels, so they go to a small hidden file beside it
(``.<name>.skipped.jsonl``) that is kept the same way.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from ..errors import InputError
from ..reading import decode_bytes

LABEL_COLUMNS = ("doc_id", "para_index", "text", "label", "heading", "role", "file",
                 "labelled_at", "model_label", "model_score")
LABEL_SUFFIXES = (".csv", ".jsonl", ".parquet")

Key = tuple[str, str]


def paragraph_key(doc_id, para_index) -> Key:
    """How a paragraph is known across runs: its document and its position there."""
    return str(doc_id), str(para_index)


def check_labels_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.suffix.lower() not in LABEL_SUFFIXES:
        raise InputError(f"{path}: unsupported labels file type {path.suffix or '(none)'}; "
                         f"use one of {', '.join(LABEL_SUFFIXES)}")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; --out names the labels file to write")
    return path


# --------------------------------------------------------------------------- durable writes

def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # not possible on every platform; the rename itself is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def append_durably(path: Path, data: bytes) -> None:
    """Append ``data`` in one ``write`` (looping only if the kernel writes less) and fsync."""
    new = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    if new:
        _fsync_dir(path.parent)


def replace_durably(path: Path, write: Callable[[Path], None]) -> None:
    """``write(tmp)`` a whole new version beside ``path``, fsync it, rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def _write_bytes(data: bytes) -> Callable[[Path], None]:
    return lambda tmp: tmp.write_bytes(data)


def _decode(data: bytes, source: Path) -> str:
    """UTF-8 as written here, where a kill may have cut the last character short; a file
    someone saved in another encoding is detected as any input is."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3:  # a character cut at the very end: part of a cut record
            return data[:exc.start].decode("utf-8")
        return decode_bytes(data, source)


def complete_csv_prefix(text: str) -> int:
    """Length of the longest prefix of ``text`` made of whole CSV records: a record ends at a
    newline outside quotes (an even number of quote characters so far, since quotes inside a
    quoted field are doubled)."""
    end, quotes, pos = 0, 0, 0
    for line in text.splitlines(keepends=True):
        pos += len(line)
        quotes += line.count('"')
        if quotes % 2 == 0 and line.endswith(("\n", "\r")):
            end = pos
    return end


def complete_lines_prefix(text: str) -> int:
    """Length of the prefix of ``text`` that ends with its last newline."""
    return text.rfind("\n") + 1


# --------------------------------------------------------------------------- the labels file

class LabelStore:
    """The rows of a labels file, in memory and on disk, keyed by ``paragraph_key``.

    ``load()`` reads an existing file (repairing a record cut short by a kill); ``put(row)``
    adds or changes a decision and ``remove(key)`` undoes one; each returns once the change is
    on disk. ``notes`` says what loading found that a user should hear about.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = check_labels_path(path)
        self.suffix = self.path.suffix.lower()
        self.rows: dict[Key, dict] = {}
        self.notes: list[str] = []

    # reading -------------------------------------------------------------
    def load(self) -> "LabelStore":
        self.rows.clear()
        if not self.path.exists() or self.path.stat().st_size == 0:
            return self
        if self.suffix == ".parquet":
            records = self._read_parquet()
        else:
            records = self._read_text()
        duplicates = 0
        for record in records:
            row = _normalise(record)
            key = paragraph_key(row["doc_id"], row["para_index"])
            if key in self.rows:
                duplicates += 1
                del self.rows[key]  # the later decision wins, and takes the later place
            self.rows[key] = row
        if duplicates:
            self.notes.append(f"{self.path}: {duplicates} paragraph(s) appeared twice; kept the later label of each")
            self._rewrite()
        return self

    def _read_text(self) -> list[dict]:
        text = _decode(self.path.read_bytes(), self.path)
        end = complete_csv_prefix(text) if self.suffix == ".csv" else complete_lines_prefix(text)
        if end < len(text):
            cut = text[end:]
            self.notes.append(f"{self.path}: dropped a half-written last record ({len(cut)} characters), "
                              "the decision being made when the server stopped")
            text = text[:end]
            # Repair now, so the next append does not continue the broken record.
            replace_durably(self.path, _write_bytes(text.encode("utf-8")))
        if self.suffix == ".csv":
            reader = csv.reader(io.StringIO(text, newline=""))
            header = next(reader, None)
            if header is None:
                return []
            self._check_columns([h.strip() for h in header])
            records = []
            for n, values in enumerate(reader, start=2):
                if not values:
                    continue
                if len(values) != len(LABEL_COLUMNS):
                    raise InputError(f"{self.path}: line {n} has {len(values)} fields, expected {len(LABEL_COLUMNS)}; "
                                     "fix or remove it")
                records.append(dict(zip(LABEL_COLUMNS, values)))
            return records
        records = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{self.path}: line {n} is not JSON ({exc.msg}); fix or remove it") from None
            if not isinstance(record, dict):
                raise InputError(f"{self.path}: line {n} is not a JSON object")
            self._check_columns(list(record))
            records.append(record)
        return records

    def _read_parquet(self) -> list[dict]:
        try:
            frame = pd.read_parquet(self.path)
        except Exception as exc:  # pyarrow has many error types; all mean "not a readable file"
            raise InputError(f"{self.path}: cannot read as parquet: {exc}") from None
        self._check_columns(list(frame.columns))
        return frame.to_dict("records")

    def _check_columns(self, columns: list[str]) -> None:
        if tuple(columns) != LABEL_COLUMNS:
            raise InputError(f"{self.path}: exists and is not a labels file written by `label` (its columns are "
                             f"{', '.join(map(str, columns))}; expected {', '.join(LABEL_COLUMNS)}); "
                             "choose another --out, or move the file away")

    # writing -------------------------------------------------------------
    def put(self, row: dict) -> None:
        """Record a decision: appended when it is new (csv, jsonl), else an atomic rewrite."""
        row = _normalise(row)
        key = paragraph_key(row["doc_id"], row["para_index"])
        new = key not in self.rows
        self.rows[key] = row
        try:
            if new and self.suffix != ".parquet":
                header = self.suffix == ".csv" and (not self.path.exists() or self.path.stat().st_size == 0)
                append_durably(self.path, self._encode([row], header=header))
            else:
                self._rewrite()
        except BaseException:
            if new:
                self.rows.pop(key, None)
            raise

    def remove(self, key: Key) -> dict | None:
        row = self.rows.pop(key, None)
        if row is not None:
            try:
                self._rewrite()
            except BaseException:
                self.rows[key] = row
                raise
        return row

    def _rewrite(self) -> None:
        if self.suffix == ".parquet":
            frame = self.frame()
            replace_durably(self.path, lambda tmp: frame.to_parquet(tmp, index=False))
        else:
            replace_durably(self.path, _write_bytes(self._encode(self.rows.values(), header=True)))

    def _encode(self, rows: Iterable[dict], header: bool) -> bytes:
        buffer = io.StringIO(newline="")
        if self.suffix == ".csv":
            writer = csv.writer(buffer, lineterminator="\n")
            if header:
                writer.writerow(LABEL_COLUMNS)
            for row in rows:
                writer.writerow(["" if row[c] is None else row[c] for c in LABEL_COLUMNS])
        else:
            for row in rows:
                buffer.write(json.dumps({c: row[c] for c in LABEL_COLUMNS}, ensure_ascii=False) + "\n")
        return buffer.getvalue().encode("utf-8")

    def frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(list(self.rows.values()), columns=list(LABEL_COLUMNS))
        for column in LABEL_COLUMNS:
            if column == "model_score":
                frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
            elif column == "para_index" and frame[column].map(lambda v: isinstance(v, int)).all():
                frame[column] = frame[column].astype("int64")
            else:
                frame[column] = frame[column].map(lambda v: "" if v is None else str(v)).astype(object)
        return frame


def _normalise(record: dict) -> dict:
    """One row with every column, in the types the files hold: strings, an int position where
    the position is a number, and a float score (None without a model)."""
    row = {}
    for column in LABEL_COLUMNS:
        value = record.get(column)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            value = None
        row[column] = value
    index = row["para_index"]
    text_index = str(index).strip() if index is not None else ""
    row["para_index"] = int(text_index) if text_index.lstrip("-").isdigit() else text_index
    score = row["model_score"]
    try:
        row["model_score"] = None if score in (None, "") else round(float(score), 4)
    except (TypeError, ValueError):
        row["model_score"] = None
    for column in LABEL_COLUMNS:
        if column not in ("para_index", "model_score"):
            row[column] = "" if row[column] is None else str(row[column])
    return row


# --------------------------------------------------------------------------- skipped paragraphs

class SkipStore:
    """The paragraphs skipped so far, in ``.<labels name>.skipped.jsonl`` beside the labels."""

    def __init__(self, labels_path: Path):
        self.path = labels_path.with_name(f".{labels_path.name}.skipped.jsonl")
        self.keys: dict[Key, None] = {}

    def load(self) -> "SkipStore":
        self.keys.clear()
        if not self.path.exists():
            return self
        text = self.path.read_bytes().decode("utf-8", errors="replace")
        end = complete_lines_prefix(text)
        for line in text[:end].splitlines():
            try:
                record = json.loads(line)
                self.keys[paragraph_key(record["doc_id"], record["para_index"])] = None
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a skip is a convenience, never worth refusing to start over
        if end < len(text):
            self._rewrite()
        return self

    def add(self, key: Key) -> None:
        if key in self.keys:
            return
        self.keys[key] = None
        append_durably(self.path, _skip_line(key))

    def discard(self, key: Key) -> None:
        if key in self.keys:
            del self.keys[key]
            self._rewrite()

    def _rewrite(self) -> None:
        if not self.keys:
            self.path.unlink(missing_ok=True)
            return
        replace_durably(self.path, _write_bytes(b"".join(_skip_line(k) for k in self.keys)))


def _skip_line(key: Key) -> bytes:
    return (json.dumps({"doc_id": key[0], "para_index": key[1]}, ensure_ascii=False) + "\n").encode("utf-8")
