"""Batch prediction over report files, folders and tables.

Inputs become *work units*: one per report document, one per table. Each unit becomes a
paragraph table with ``label``, ``score`` and one ``prob_<label>`` column per label; tables
keep their own columns and row order so users can join predictions back on their own ids.
A document that cannot be read is recorded (path, reason) and the job goes on.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import pandas as pd

from .errors import InputError
from .model import TopicModel
from .reading import is_table, iter_report_paths, read_report, read_table

OUTPUT_SUFFIXES = (".csv", ".jsonl", ".parquet")


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
        if "doc_id" not in frame.columns:
            frame.insert(0, "doc_id", path.stem)
        if "para_index" not in frame.columns:
            frame.insert(1, "para_index", range(len(frame)))
        frame["text"] = frame["text"].fillna("")
        return frame
    return read_report(path, doc_id=path.stem).to_frame()


def classify_frame(model: TopicModel, frame: pd.DataFrame) -> pd.DataFrame:
    scores = model.classify(frame["text"].astype(str).tolist())
    scores.index = frame.index
    clashing = [c for c in scores.columns if c in frame.columns]
    return pd.concat([frame.drop(columns=clashing), scores], axis=1)


def predict_inputs(model: TopicModel, inputs: Iterable[str | os.PathLike], *, text_col: str = "text") -> BatchResult:
    frames, failures = [], []
    for path in iter_units(inputs):
        try:
            frame = read_unit(path, text_col)
        except InputError as exc:
            failures.append((str(path), str(exc)))
            continue
        frames.append(classify_frame(model, frame))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return BatchResult(frame, failures)


def write_table(frame: pd.DataFrame, out: str | os.PathLike) -> Path:
    """Write .csv / .jsonl / .parquet by extension, atomically (temp file, then rename)."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise InputError(f"{out}: unsupported output type {suffix or '(none)'}; use one of {', '.join(OUTPUT_SUFFIXES)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    try:
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
