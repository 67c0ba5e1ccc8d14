"""Batch prediction over report files, folders and tables: streaming, parallel, resumable.

    from pipeline.batch import predict_to_file
    run = predict_to_file("models/default", ["reports/", "more.csv"], "out.parquet", workers=4)
    print(run.summary_line())

How a job runs:

1. **Plan.** Inputs become *tasks* of about ``chunk_size`` paragraphs, in a fixed order:
   consecutive report files grouped by bytes; tables read in slices of ``chunk_size`` rows
   (streamed, never whole). The same inputs and settings always give the same tasks, which is what makes
   resuming safe. Tables keep their own columns and row order, so users can join predictions
   back on their own ids; a report becomes rows ``doc_id, para_index, text, heading, role``.
2. **Classify.** An engine (``pipeline.engines``: in-process, a process pool, or Dask) runs
   each task where the model is already loaded and returns its rows with ``label``, ``score``
   and one ``prob_<label>`` column per label. At most a few tasks per worker are in flight, so
   memory does not grow with the input.
3. **Commit.** Each finished task is written to a journal folder beside the output
   (``.<out name>.parts/``): its rows as a Parquet file, then a small JSON file that marks the
   task done. Both are written to a temporary name and renamed, so a kill leaves either a whole
   task or none of it. ``resume=True`` skips the tasks already done.
4. **Assemble.** The committed tasks are streamed, in task order, into the output (CSV, JSONL,
   or Parquet written one row group per task), which is written to a temporary file and renamed
   into place; then the journal is removed. Killed at any point and rerun with ``resume=True``,
   the output holds every paragraph exactly once.

One job writes an output at a time (``output_lock``): a second one on the same output fails at
once instead of sharing the first one's journal.

A document that cannot be read is recorded (path, reason) in the errors file and the job goes
on; ``BatchRun.failures`` lists them, and the CLI exits 2 when there are any.
"""
from __future__ import annotations

import codecs
import contextlib
import hashlib
import io
import json
import math
import os
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import pandas as pd

from .config import DEFAULT_CHUNK_SIZE
from .errors import InputError, PipelineError
from .model import TopicModel
from .reading import _read_excel, _select_columns, is_table, iter_report_paths, read_report, read_table, read_text_file

OUTPUT_SUFFIXES = (".csv", ".jsonl", ".parquet")
PREDICTION_COLUMNS = ("label", "score")

# Task size: DEFAULT_CHUNK_SIZE (paragraphs, in config.py, with why). Tables are cut by rows;
# report files are grouped by bytes, at about REPORT_BYTES_PER_PARAGRAPH each (the bundled
# corpus averages 300–350), and at most MAX_DOCS_PER_TASK files.
REPORT_BYTES_PER_PARAGRAPH = 300
MAX_DOCS_PER_TASK = 64

JOURNAL_VERSION = 1
# Test hook: "commit:N" or "assemble:N" makes the job stop dead (sleep) after its N-th task
# commit or N-th output chunk, so a test can SIGKILL it at a known point. Never set it otherwise.
_PAUSE_ENV = "PIPELINE_BATCH_TEST_PAUSE"


# --------------------------------------------------------------------------- in-memory API

@dataclass
class BatchResult:
    frame: pd.DataFrame
    failures: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def iter_units(inputs: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """Tables as they are; report files directly or found in folders."""
    for item in inputs:
        path = Path(item)
        if path.is_file() and is_table(path):
            yield path
        else:
            yield from iter_report_paths([path])


def read_unit(path: Path, text_col: str = "text") -> pd.DataFrame:
    """One input → its paragraph table (without predictions)."""
    if is_table(path):
        frame = read_table(path, text_col=text_col, label_col=None, group_col=None)
        return _complete_table_frame(frame, path, 0)
    return read_report(path, doc_id=path.stem).to_frame()


# Where predictions go beside a table's own columns. They are ``label``, ``score`` and
# ``prob_<label>``; when an input table already has a ``label`` column (gold labels, typically,
# to compare against), it is kept as it is and every prediction column takes this prefix
# instead: ``pred_label``, ``pred_score``, ``pred_prob_<label>``. A job decides once, from all
# its tables, so every output row has the same columns. No input column is ever overwritten:
# any other clash is an error naming the file and the column.
GOLD_COLUMN = "label"
PREDICTION_PREFIX = "pred_"


def prediction_columns(labels: Iterable[str], prefix: str = "") -> list[str]:
    return [f"{prefix}{c}" for c in (*PREDICTION_COLUMNS, *(f"prob_{label}" for label in labels))]


def classify_frame(model: TopicModel, frame: pd.DataFrame, prefix: str | None = None,
                   source: str = "the input") -> pd.DataFrame:
    """``frame`` with the prediction columns added (see ``GOLD_COLUMN``); ``prefix`` None decides
    from this frame alone."""
    if prefix is None:
        prefix = PREDICTION_PREFIX if GOLD_COLUMN in frame.columns else ""
    scores = model.classify(frame["text"].astype(str).tolist())
    scores.columns = [f"{prefix}{c}" for c in scores.columns]
    clashing = [c for c in scores.columns if c in frame.columns]
    if clashing:
        raise InputError(f"{source}: column(s) {', '.join(clashing)} would be overwritten by the predictions; "
                         f"rename them (predictions are written as {prefix}label, {prefix}score, {prefix}prob_<label>)")
    scores.index = frame.index
    return pd.concat([frame, scores], axis=1)


def job_prediction_prefix(inputs: Iterable[Path], text_col: str = "text") -> str:
    """``PREDICTION_PREFIX`` when any input table has a ``label`` column, else "" (read from the
    tables' first rows only; an unreadable table is left to the job to record)."""
    for item in inputs:
        for path in iter_units([item]) if Path(item).exists() else ():
            if not is_table(path):
                continue
            try:
                _, first, _ = next(iter_table_chunks(path, text_col=text_col, chunk_rows=1))
            except (InputError, StopIteration):
                continue
            if GOLD_COLUMN in first.columns:
                return PREDICTION_PREFIX
    return ""


def predict_inputs(model: TopicModel, inputs: Iterable[str | os.PathLike], *, text_col: str = "text") -> BatchResult:
    """Everything in memory: for small jobs and notebooks. Large jobs: ``predict_to_file``."""
    frames, failures = [], []
    inputs = [Path(p) for p in ([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs)]
    prefix = job_prediction_prefix(inputs, text_col)
    for path in iter_units(inputs):
        try:
            frame = read_unit(path, text_col)
            frames.append(classify_frame(model, frame, prefix, source=str(path)))
        except InputError as exc:
            failures.append((str(path), str(exc)))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return BatchResult(frame, failures)


def write_table(frame: pd.DataFrame, out: str | os.PathLike) -> Path:
    """Write .csv / .jsonl / .parquet by extension, atomically (temp file, then rename)."""
    out = check_output_path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    try:
        suffix = out.suffix.lower()
        if suffix == ".csv":
            frame.to_csv(tmp, index=False, encoding="utf-8")
        elif suffix == ".jsonl":
            frame.to_json(tmp, orient="records", lines=True, force_ascii=False)
        else:
            frame.to_parquet(tmp, index=False)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def check_output_path(out: str | os.PathLike) -> Path:
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise InputError(f"{out}: unsupported output type {suffix or '(none)'}; use one of {', '.join(OUTPUT_SUFFIXES)}")
    return out


# --------------------------------------------------------------------------- tasks

@dataclass
class Task:
    """One unit of work. ``kind`` is "reports" (files a worker reads), "table" (rows read by
    the planner) or "failed" (an input that failed while planning: nothing to classify)."""

    task_id: int
    kind: str
    source: str
    signature: str
    nbytes: int = 0
    paths: tuple[str, ...] = ()
    payloads: tuple[bytes | None, ...] | None = None  # report bytes, for workers that cannot see the files
    frame: pd.DataFrame | None = None
    new_documents: int = 0  # tables: doc_ids first seen in this slice of the table
    failures: tuple[tuple[str, str], ...] = ()
    prediction_prefix: str = ""  # see GOLD_COLUMN


@dataclass
class TaskResult:
    """A task's rows as Parquet bytes: encoded where the work ran, so the process that writes
    the journal only copies bytes, and they travel between processes without pickling frames."""

    task_id: int
    data: bytes | None
    columns: list[str]
    failures: list[tuple[str, str]]
    documents: int
    paragraphs: int
    characters: int


def _signature(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, default=str).encode("utf-8")).hexdigest()[:24]


def plan_tasks(inputs: Iterable[str | os.PathLike], *, text_col: str = "text", chunk_size: int = DEFAULT_CHUNK_SIZE,
               max_docs: int = MAX_DOCS_PER_TASK) -> Iterator[Task]:
    """The job's tasks, in output order, read lazily. Deterministic for unchanged inputs."""
    chunk_rows, chunk_bytes = chunk_size, chunk_size * REPORT_BYTES_PER_PARAGRAPH
    next_id = 0
    batch: list[tuple[str, int]] = []

    def make(kind, source, signature, **kw) -> Task:
        nonlocal next_id
        task = Task(next_id, kind, source, signature, **kw)
        next_id += 1
        return task

    def flush() -> Iterator[Task]:
        if batch:
            paths = tuple(p for p, _ in batch)
            yield make("reports", paths[0], _signature("reports", batch), nbytes=sum(s for _, s in batch), paths=paths)
            batch.clear()

    for item in inputs:
        item = Path(item)
        if not item.exists():
            yield from flush()
            reason = f"{item}: file not found"
            yield make("failed", str(item), _signature("failed", reason), failures=((str(item), reason),))
            continue
        for path in iter_units([item]):
            if is_table(path):
                yield from flush()
                seen: set = set()
                try:
                    for start, frame, nbytes in iter_table_chunks(path, text_col=text_col, chunk_rows=chunk_rows):
                        ids = frame["doc_id"].unique()
                        new = [d for d in ids if d not in seen]
                        seen.update(new)
                        yield make("table", str(path), _signature("table", str(path), start, len(frame)),
                                   nbytes=nbytes, frame=frame, new_documents=len(new))
                except InputError as exc:
                    reason = str(exc)
                    yield make("failed", str(path), _signature("failed", reason), failures=((str(path), reason),))
                continue
            size = path.stat().st_size if path.exists() else 0
            batch.append((str(path), size))
            if sum(s for _, s in batch) >= chunk_bytes or len(batch) >= max_docs:
                yield from flush()
    yield from flush()


def _complete_table_frame(frame: pd.DataFrame, path: Path, start: int) -> pd.DataFrame:
    """Give a table slice the columns every output row has, numbering rows across slices."""
    if "doc_id" not in frame.columns:
        frame.insert(0, "doc_id", path.stem)
    if "para_index" not in frame.columns:
        frame.insert(1, "para_index", range(start, start + len(frame)))
    frame["text"] = frame["text"].fillna("")
    return frame.reset_index(drop=True)


def _stream_encoding(path: Path) -> str | None:
    """An encoding to stream a text table with, or None when only whole-file detection will do.

    Streaming needs the encoding up front; a BOM or a strictly UTF-8 first block decides it.
    Anything else (GBK, UTF-16 …) is decoded whole by ``read_text_file``, as for small tables.
    """
    with open(path, "rb") as handle:
        sample = handle.read(1 << 16)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in sample:
        return None
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)  # a cut last character is fine
    except UnicodeDecodeError:
        return None
    return "utf-8"


def iter_table_chunks(path: Path, *, text_col: str = "text", chunk_rows: int = DEFAULT_CHUNK_SIZE
                      ) -> Iterator[tuple[int, pd.DataFrame, int]]:
    """Stream a table as (first row, rows, input bytes consumed) slices of ``chunk_rows`` rows.

    Columns are checked and renamed as ``read_table`` does; CSV/TSV columns stay text.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    size = path.stat().st_size
    start = 0
    try:
        for raw, consumed in _raw_table_chunks(path, suffix, size, chunk_rows, text_col):
            frame = _select_columns(raw, path, text_col, None, None, False)
            yield start, _complete_table_frame(frame, path, start), consumed
            start += len(frame)
    except InputError:
        raise
    except Exception as exc:  # each parser has its own error types; all mean "bad file" …
        if _interrupted(exc):  # … except an interrupt met mid-read, which is not the file's fault
            raise KeyboardInterrupt from exc
        where = f" after row {start}" if start else ""
        raise InputError(f"{path}: cannot parse as {suffix[1:]} table{where}: {exc}") from None
    if start == 0:
        raise InputError(f"{path}: the table has no rows")


def _raw_table_chunks(path: Path, suffix: str, size: int, chunk_rows: int,
                      text_col: str) -> Iterator[tuple[pd.DataFrame, int]]:
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        total = max(parquet.metadata.num_rows, 1)
        for batch in parquet.iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas(), math.ceil(size * batch.num_rows / total)
        return
    if suffix == ".xlsx":  # a workbook cannot be streamed; these are small in practice
        whole = _read_excel(path, None, text_col)  # the sheets read_table would use
        for i in range(0, len(whole), chunk_rows):
            yield whole.iloc[i:i + chunk_rows].reset_index(drop=True), math.ceil(size * min(chunk_rows, len(whole) - i) / len(whole))
        return
    encoding = _stream_encoding(path)
    if encoding is None:
        handle = io.BytesIO(read_text_file(path).encode("utf-8"))
        encoding = "utf-8"
        scale = size / max(len(handle.getbuffer()), 1)
    else:
        handle = open(path, "rb")
        scale = 1.0
    with handle:
        if suffix == ".jsonl":
            text = io.TextIOWrapper(handle, encoding=encoding)
            reader = pd.read_json(text, lines=True, dtype=False, chunksize=chunk_rows)
        else:
            reader = pd.read_csv(handle, encoding=encoding, sep="\t" if suffix == ".tsv" else ",", dtype=str,
                                 keep_default_na=False, na_values=[""], chunksize=chunk_rows)
        last = 0
        with reader:
            for raw in reader:
                # The parsers read ahead in blocks, so this is approximate: good enough for an ETA.
                position = min(int(handle.tell() * scale), size)
                yield raw, max(position - last, 0)
                last = position


# --------------------------------------------------------------------------- stopping a job

class JobInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM stopped the job at a safe point: everything committed is in
    the journal, nothing half-read was recorded, and ``resume=True`` continues it."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


class _StopRequest:
    """Turns SIGINT and SIGTERM into a request the job honours between tasks.

    Python's default SIGINT handler raises KeyboardInterrupt wherever the main thread is,
    including inside pandas' C parser reading a table chunk, which turns it into a parse error:
    the interrupt would then be journalled as a bad input, and ``--resume`` would refuse the
    unchanged input as "changed". So the first signal only sets a flag and the job stops at the
    next safe point (before planning or committing a task); a second one stops at once.
    Outside the main thread (a notebook's worker thread) signals cannot be handled; the flag
    then never rises and KeyboardInterrupt behaves as usual.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum: int | None = None
        self._previous: dict = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        return False

    def _handle(self, signum, frame):
        if self.signum is not None:
            raise JobInterrupted(signum)
        self.signum = signum

    def check(self) -> None:
        if self.signum is not None:
            raise JobInterrupted(self.signum)


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` was caused by an interrupt (a parser wraps the KeyboardInterrupt it met)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


# --------------------------------------------------------------------------- the work itself

def run_task(model: TopicModel, task: Task) -> TaskResult:
    """Read (reports) and classify one task. Runs wherever the model is: in-process or a worker."""
    failures: list[tuple[str, str]] = []
    if task.kind == "table":
        frame, documents = task.frame, task.new_documents
    elif task.kind == "reports":
        frames = []
        for i, path in enumerate(task.paths):
            data = task.payloads[i] if task.payloads else None
            try:
                frames.append(_read_report(path, data).to_frame())
            except InputError as exc:
                failures.append((path, str(exc)))
            except Exception as exc:  # a parser bug on one odd file must not stop an unattended job
                failures.append((path, f"{path}: unexpected {exc.__class__.__name__} while reading: {exc}"))
        frame = pd.concat(frames, ignore_index=True) if frames else None
        documents = len(frames)
    else:
        return TaskResult(task.task_id, None, [], list(task.failures), 0, 0, 0)
    if frame is None or frame.empty:
        return TaskResult(task.task_id, None, [], failures, documents, 0, 0)
    try:
        frame = classify_frame(model, frame, task.prediction_prefix, source=task.source)
    except InputError as exc:  # a table whose own columns clash with the predictions
        return TaskResult(task.task_id, None, [], failures + [(task.source, str(exc))], 0, 0, 0)
    return TaskResult(task.task_id, _parquet_bytes(frame), list(frame.columns), failures, documents, len(frame),
                      int(frame["text"].str.len().sum()))


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(_to_arrow(frame), buffer)
    return buffer.getvalue()


def _read_report(path: str, data: bytes | None):
    """``read_report``, from the file or from its bytes shipped by the client (Dask workers need
    not see the client's files). Bytes go to a temporary file of the same name so the reader,
    the doc_id and the messages are exactly those of the local engine."""
    if data is None:
        return read_report(Path(path), doc_id=Path(path).stem)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="report-topics-") as tmp:
        local = Path(tmp) / Path(path).name
        local.write_bytes(data)
        try:
            return read_report(local, doc_id=Path(path).stem)
        except InputError as exc:
            raise InputError(str(exc).replace(str(local), path)) from None


# --------------------------------------------------------------------------- the journal

class Journal:
    """Committed tasks of one job, in ``.<out name>.parts/`` beside the output.

    ``NNNNNNNNN.parquet`` holds a task's rows; ``NNNNNNNNN.json`` (written last) marks it done
    and records its failures and counts. Each file is written under a temporary name, then
    renamed: a task is either wholly committed or absent.
    """

    def __init__(self, out: Path, job: dict):
        self.out = out
        self.dir = out.with_name(f".{out.name}.parts")
        self.job = job

    def open(self, resume: bool) -> bool:
        """Start fresh, or (resume) keep the tasks committed by an earlier run of this same job."""
        job_file = self.dir / "job.json"
        if resume and job_file.exists():
            try:
                earlier = json.loads(job_file.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                earlier = None
            if earlier != self.job:
                raise InputError(
                    f"{self.dir}: the interrupted job used another model, inputs or settings; "
                    "rerun without --resume to start over")
            for stray in self.dir.glob("*.tmp"):
                stray.unlink(missing_ok=True)
            return True
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        _write_atomic(job_file, json.dumps(self.job, ensure_ascii=False, indent=1).encode("utf-8"))
        return False

    def _path(self, task_id: int, suffix: str) -> Path:
        return self.dir / f"{task_id:09d}{suffix}"

    def meta(self, task_id: int) -> dict | None:
        path = self._path(task_id, ".json")
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def data_path(self, task_id: int) -> Path:
        return self._path(task_id, ".parquet")

    def commit(self, task: Task, result: TaskResult) -> dict:
        if result.data is not None:
            _write_atomic(self.data_path(task.task_id), result.data)
        columns = result.columns
        meta = {"task": task.task_id, "signature": task.signature, "kind": task.kind, "source": task.source,
                "rows": result.paragraphs, "documents": result.documents, "characters": result.characters,
                "columns": columns, "failures": [list(f) for f in result.failures]}
        _write_atomic(self._path(task.task_id, ".json"), json.dumps(meta, ensure_ascii=False).encode("utf-8"))
        return meta

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _to_arrow(frame: pd.DataFrame):
    import pyarrow as pa

    try:
        return pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # Mixed values in one column (JSONL: 7 and "007"): keep them, as text.
        frame = frame.copy()
        for col in frame.columns[frame.dtypes == object]:
            frame[col] = frame[col].map(lambda v: v if v is None or isinstance(v, str) or
                                        (isinstance(v, float) and math.isnan(v)) else str(v))
        return pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)


# --------------------------------------------------------------------------- assembling the output

def _unified_schema(journal: Journal, task_ids: list[int], columns: list[str]):
    """One Parquet schema for all tasks: a column's type where tasks agree, else text."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    types: dict[str, set] = {c: set() for c in columns}
    for task_id in task_ids:
        for f in pq.read_schema(journal.data_path(task_id)):
            if not pa.types.is_null(f.type):
                types[f.name].add(f.type)
    fields = []
    for col in columns:
        found = sorted(types[col], key=str)
        if not found:
            kind = pa.null()
        elif len(found) == 1:
            kind = found[0]
        else:
            try:
                kind = pa.unify_schemas([pa.schema([(col, t)]) for t in found], promote_options="permissive").field(col).type
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                kind = pa.string()
        fields.append(pa.field(col, kind))
    return pa.schema(fields)


def _conform(table, schema):
    import pyarrow as pa
    import pyarrow.compute as pc

    arrays = []
    for f in schema:
        if f.name not in table.column_names:
            arrays.append(pa.nulls(table.num_rows, f.type))
            continue
        column = table[f.name]
        if column.type != f.type:
            try:
                column = pc.cast(column, f.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                column = pa.array([None if v is None else str(v) for v in column.to_pylist()], type=pa.string())
        arrays.append(column)
    return pa.Table.from_arrays(arrays, schema=schema)


class _DocumentSummary:
    """Per-document counts, accumulated while the output streams past."""

    def __init__(self, labels: list[str], threshold: float, prefix: str = ""):
        self.labels = labels
        self.index = {label: i for i, label in enumerate(labels)}
        self.threshold = threshold
        self.label_col, self.score_col = f"{prefix}label", f"{prefix}score"
        self.docs: dict[str, list] = {}  # doc_id → [label counts, score sum, low-confidence count]

    def add(self, frame: pd.DataFrame) -> None:
        codes = frame[self.label_col].map(self.index).to_numpy()
        scores = frame[self.score_col].to_numpy(dtype=float)
        for doc_id, rows in frame.groupby(frame["doc_id"].astype(str), sort=False).indices.items():
            entry = self.docs.setdefault(doc_id, [np.zeros(len(self.labels), dtype=np.int64), 0.0, 0])
            np.add.at(entry[0], codes[rows], 1)
            entry[1] += float(scores[rows].sum())
            entry[2] += int((scores[rows] < self.threshold).sum())

    def frame(self, top: int = 3) -> pd.DataFrame:
        rows = []
        for doc_id, (counts, score_sum, low) in self.docs.items():
            n = int(counts.sum())
            # "other" is framing text (titles, greetings); a report's topics are the rest.
            ranked = [i for i in np.argsort(-counts, kind="stable") if counts[i] > 0]
            topical = [i for i in ranked if self.labels[i] != "other"] or ranked
            row = {"doc_id": doc_id, "paragraphs": n, "dominant": self.labels[topical[0]],
                   "dominant_share": round(counts[topical[0]] / n, 4),
                   "top_topics": ";".join(f"{self.labels[i]}:{counts[i]}" for i in topical[:top]),
                   "mean_score": round(score_sum / n, 4), "low_confidence": low}
            row.update({f"n_{label}": int(counts[i]) for i, label in enumerate(self.labels)})
            rows.append(row)
        return pd.DataFrame(rows)


@dataclass
class _Totals:
    documents: int = 0
    paragraphs: int = 0
    characters: int = 0
    failures: list = field(default_factory=list)
    columns: list = field(default_factory=list)
    with_rows: list = field(default_factory=list)


def _collect(journal: Journal, n_tasks: int, labels: list[str], prefix: str = "") -> _Totals:
    """Counts, failures and output columns of the whole job, from the journal (so a resumed job
    reports all of it). Columns: the inputs' in order of first appearance, then the predictions."""
    totals, seen = _Totals(), set()
    for task_id in range(n_tasks):
        meta = journal.meta(task_id)
        if meta is None:
            raise PipelineError(f"{journal.dir}: task {task_id} is missing from the journal; rerun without --resume")
        totals.failures.extend(tuple(f) for f in meta["failures"])
        totals.documents += meta["documents"]
        totals.paragraphs += meta["rows"]
        totals.characters += meta["characters"]
        if meta["rows"]:
            totals.with_rows.append(task_id)
            for col in meta["columns"]:
                if col not in seen:
                    seen.add(col)
                    totals.columns.append(col)
    predicted = prediction_columns(labels, prefix)
    totals.columns = [c for c in totals.columns if c not in predicted] + [c for c in predicted if c in seen]
    return totals


def _assemble(journal: Journal, totals: _Totals, out: Path, summary: _DocumentSummary | None,
              pause: Callable[[str], None]) -> None:
    """Stream the committed tasks, in order, into ``out``: a temporary file renamed into place."""
    import pyarrow.parquet as pq

    columns = totals.columns
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    parquet = out.suffix.lower() == ".parquet"
    csv = out.suffix.lower() == ".csv"
    try:
        if parquet:
            schema = _unified_schema(journal, totals.with_rows, columns)
            sink = pq.ParquetWriter(tmp, schema)
        else:
            sink = open(tmp, "w", encoding="utf-8", newline="")
        with sink:
            for n, task_id in enumerate(totals.with_rows, 1):
                table = pq.read_table(journal.data_path(task_id))
                if parquet:
                    sink.write_table(_conform(table, schema))  # one row group per task
                    frame = table.select(["doc_id", summary.label_col, summary.score_col]).to_pandas() if summary else None
                else:
                    frame = table.to_pandas().reindex(columns=columns)
                    if csv:
                        frame.to_csv(sink, index=False, header=n == 1)
                    else:
                        sink.write(frame.to_json(orient="records", lines=True, force_ascii=False).rstrip("\n") + "\n")
                if summary is not None:
                    summary.add(frame)
                pause(f"assemble:{n}")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------- the job

@dataclass
class BatchRun:
    """What a ``predict_to_file`` job did."""

    out: Path
    documents: int
    paragraphs: int
    characters: int
    failures: list[tuple[str, str]]
    seconds: float
    tasks: int
    resumed_tasks: int
    engine: str
    workers: int
    errors_path: Path | None = None
    summary_path: Path | None = None

    @property
    def rate(self) -> float:
        """Paragraphs per second over the whole run (reading, classifying and writing)."""
        return self.paragraphs / self.seconds if self.seconds else 0.0

    def summary_line(self) -> str:
        resumed = f", {self.resumed_tasks} of {self.tasks} tasks resumed" if self.resumed_tasks else ""
        failed = f"; see {self.errors_path}" if self.failures and self.errors_path else ""
        return (f"{self.documents} documents, {self.paragraphs} paragraphs, {len(self.failures)} failed{failed}; "
                f"{self.seconds:.1f}s, {self.rate:,.0f} paragraphs/s ({self.engine}, {self.workers} worker(s){resumed}) "
                f"→ {self.out}")


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def predict_to_file(model: TopicModel | str | os.PathLike, inputs: Iterable[str | os.PathLike], out: str | os.PathLike,
                    *, workers: int | None = None, resume: bool = False, engine: str = "local",
                    scheduler: str | None = None, summary: str | os.PathLike | None = None,
                    errors: str | os.PathLike | None = None, low_confidence: float | None = None,
                    text_col: str = "text", chunk_size: int = DEFAULT_CHUNK_SIZE,
                    progress: bool | None = None, allow_pickle: bool = False) -> BatchRun:
    """Classify every paragraph of ``inputs`` (report files, folders, tables) into ``out``.

    ``workers``: processes (local engine) or LocalCluster workers (Dask); default all cores.
    ``engine``: "local" or "dask" (``scheduler="tcp://host:port"`` to use a running cluster).
    ``resume``: continue a killed job from its journal instead of starting over.
    ``summary``: also write one row per document (paragraphs per label, dominant topics, mean
    score, paragraphs scored below ``low_confidence``, default the model's
    ``evaluation.low_confidence``). ``errors``: where failed inputs are listed (path, reason);
    default ``<out stem>.errors.csv`` beside the output, written when any input failed.
    ``chunk_size``: paragraphs per task, roughly (table rows exactly).
    ``progress``: a progress bar on stderr (default: when stderr is a terminal).
    ``allow_pickle``: load ``model``, an old pickled folder (``model.joblib``), which runs any code
    it holds; workers still get the model in the safe format.
    """
    from . import engines
    from .persistence import load_model

    started = time.perf_counter()
    out = check_output_path(out)
    summary_path = check_output_path(summary) if summary is not None else None
    errors_path = check_output_path(errors) if errors is not None else out.with_name(f"{out.stem}.errors.csv")
    inputs = [Path(p) for p in ([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs)]
    if not inputs:
        raise InputError("no inputs given")
    if engine not in ("local", "dask"):
        raise InputError(f"unknown engine {engine!r}; choose 'local' or 'dask'")
    if scheduler and engine != "dask":
        raise InputError("a scheduler address only applies to the Dask engine; add --engine dask")
    if workers is not None and workers < 1:
        raise InputError(f"workers must be at least 1, got {workers}")
    workers = workers or default_workers()
    if chunk_size < 1:
        raise InputError(f"chunk size must be at least 1, got {chunk_size}")

    # One job per output at a time: two would share the journal and interleave their rows.
    with output_lock(out), contextlib.ExitStack() as stack:
        if not isinstance(model, TopicModel):
            # Loaded here for every engine (a safe folder in a fraction of a second), so that a bad
            # folder fails now, in one line, rather than on the workers; Dask workers get its files.
            model = load_model(Path(model), allow_pickle=allow_pickle)
        card = model.card
        labels = [str(label) for label in card["labels"]]
        threshold = (card["config"].get("evaluation", {}).get("low_confidence", 0.5) if low_confidence is None
                     else low_confidence)
        runner = engines.make_engine(engine, model, model_dir=None, workers=workers, scheduler=scheduler)

        prefix = job_prediction_prefix(inputs, text_col)
        job = {"version": JOURNAL_VERSION, "model": engines.model_fingerprint(model),
               "inputs": [str(p.resolve()) for p in inputs], "text_col": text_col,
               "chunk_size": chunk_size, "prediction_prefix": prefix}
        journal = Journal(out, job)
        resumed = journal.open(resume)  # the output's folder exists: output_lock made it
        stop = stack.enter_context(_StopRequest())
        pause = _pause_hook(stop)

        bar = None
        with runner:
            if progress is None:
                progress = sys.stderr.isatty()
            if progress:
                from tqdm import tqdm

                total = sum(p.stat().st_size for item in inputs if item.exists() for p in iter_units([item]) if p.exists())
                bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="predict",
                           file=sys.stderr, dynamic_ncols=True, smoothing=0.1)
            counts = {"docs": 0, "paras": 0, "failed": 0, "commits": 0, "tasks": 0, "resumed": 0}
            tick = time.perf_counter()

            def account(meta: dict, nbytes: int) -> None:
                counts["docs"] += meta["documents"]
                counts["paras"] += meta["rows"]
                counts["failed"] += len(meta["failures"])
                if bar is not None:
                    rate = counts["paras"] / max(time.perf_counter() - tick, 1e-9)
                    bar.set_postfix_str(f"{counts['docs']} docs, {counts['paras']} paras, {rate:,.0f} paras/s, "
                                        f"{counts['failed']} failed", refresh=False)
                    bar.update(nbytes)

            in_flight: dict[int, Task] = {}

            def pending() -> Iterator[Task]:
                """Tasks still to run; committed ones are skipped, failures found while planning committed."""
                for task in plan_tasks(inputs, text_col=text_col, chunk_size=chunk_size):
                    task.prediction_prefix = prefix
                    stop.check()  # a task planned while a stop was asked for may hold a half-read failure
                    counts["tasks"] = task.task_id + 1
                    meta = journal.meta(task.task_id) if resumed else None
                    if meta is not None:
                        if meta["signature"] != task.signature:
                            raise InputError(f"{task.source}: changed since the interrupted run; rerun without --resume")
                        account(meta, task.nbytes)
                        counts["resumed"] += 1
                        continue
                    if task.kind == "failed":
                        account(journal.commit(task, run_task(model, task)), task.nbytes)
                        continue
                    if runner.ships_inputs and task.kind == "reports":
                        task.payloads = tuple(_read_bytes(p) for p in task.paths)
                    in_flight[task.task_id] = task
                    yield task

            try:
                for result in runner.map_unordered(pending()):
                    task = in_flight.pop(result.task_id)
                    account(journal.commit(task, result), task.nbytes)
                    counts["commits"] += 1
                    pause(f"commit:{counts['commits']}")
                    stop.check()
            finally:
                if bar is not None:
                    bar.close()
        stop.check()

        totals = _collect(journal, counts["tasks"], labels, prefix)
        failures = totals.failures
        doc_summary = _DocumentSummary(labels, threshold, prefix) if summary_path else None
        if totals.paragraphs:
            _assemble(journal, totals, out, doc_summary, pause)
        if failures or errors is not None:
            write_table(pd.DataFrame(failures, columns=["path", "reason"]), errors_path)
        else:
            errors_path.unlink(missing_ok=True)  # a stale list from an earlier run would mislead
            errors_path = None
        if doc_summary is not None:
            write_table(doc_summary.frame(), summary_path)
        journal.remove()
        if not totals.paragraphs:
            first = f": {failures[0][1]}" if failures else ""
            raise InputError(f"no paragraphs found in the inputs; nothing written{first}")
        return BatchRun(out=out, documents=totals.documents, paragraphs=totals.paragraphs, characters=totals.characters,
                        failures=failures, seconds=time.perf_counter() - started, tasks=counts["tasks"],
                        resumed_tasks=counts["resumed"],
                        engine=engine, workers=runner.workers, errors_path=errors_path, summary_path=summary_path)


@contextlib.contextmanager
def output_lock(out: Path, busy: str | None = None) -> Iterator[None]:
    """Hold ``.<out name>.lock`` beside the output for the whole job, or fail at once naming the
    output (``busy``: what to say after it instead of the predict job's message). The operating
    system drops the lock when a job dies, however it dies, so there is nothing stale to clean up
    after a kill; a job that ends removes the file while it still holds the lock (filelock then
    makes a job that opened the old file look again). The labelling server holds the same lock
    on its labels file, so neither a second server nor a predict job can write it meanwhile."""
    from filelock import FileLock, Timeout

    out.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(out.with_name(f".{out.name}.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise InputError(f"{out}: " + (busy or "another predict job is writing this output; wait for it to finish, "
                                               "or choose another output")) from None
    try:
        yield
    finally:
        Path(lock.lock_file).unlink(missing_ok=True)
        lock.release()


def _read_bytes(path: str) -> bytes | None:
    try:
        return Path(path).read_bytes()
    except OSError:
        return None  # the worker's reader reports the same error, with the same message


def _pause_hook(stop: _StopRequest | None = None) -> Callable[[str], None]:
    point = os.environ.get(_PAUSE_ENV)
    if not point:
        return lambda _where: None

    def pause(where: str) -> None:
        if where == point:
            print(f"paused at {where}", file=sys.stderr, flush=True)
            while True:
                time.sleep(0.05)
                if stop is not None:
                    stop.check()

    return pause
