"""The Python API: what the CLI calls, and what notebooks and batch jobs import.

    import pipeline
    model = pipeline.train("data/labels.csv")
    model.predict(["一是理论学习不够深入……"])
    model.save("models/mine"); model = pipeline.load("models/mine")
    pipeline.convert("old_model", "new_model", allow_pickle=True)   # an old pickled folder → safe format
    metrics = pipeline.evaluate(model, "data/sample_labels.csv")
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from .config import merge_config
from .errors import InputError
from .evaluation import compute_metrics, cross_validate_config
from .model import TopicModel, build_pipeline, calibration_groups, check_training_labels, data_fingerprint, fit_pipeline
from .persistence import convert_model, load_model, new_card
from .reading import read_labelled

PathLike = str | os.PathLike
Data = pd.DataFrame | PathLike | Sequence[PathLike] | Sequence[str]


def labelled_frame(data: Data, labels: Sequence[str] | None = None, *, text_col: str = "text",
                   label_col: str = "label", group_col: str | None = "doc_id") -> pd.DataFrame:
    """Normalise the ways a user can hand us labelled data into one DataFrame (text, label, doc_id)."""
    if isinstance(data, pd.DataFrame):
        missing = [c for c in (text_col, label_col) if c not in data.columns]
        if missing:
            raise InputError(f"DataFrame has no column(s) {missing}; columns are {list(data.columns)}")
        frame = data.rename(columns={text_col: "text", label_col: "label", **({group_col: "doc_id"} if group_col in data.columns else {})})
        if "doc_id" not in frame.columns:
            frame = frame.assign(doc_id=[f"row:{i}" for i in range(len(frame))])
        return frame.reset_index(drop=True)
    if labels is not None:
        texts = list(data)
        if len(texts) != len(labels):
            raise InputError(f"{len(texts)} texts but {len(labels)} labels")
        return pd.DataFrame({"text": texts, "label": [str(l) for l in labels], "doc_id": [f"row:{i}" for i in range(len(texts))]})
    paths = [data] if isinstance(data, (str, os.PathLike)) else list(data)
    return read_labelled(paths, text_col=text_col, label_col=label_col, group_col=group_col)


def train(data: Data, labels: Sequence[str] | None = None, *, config: dict | None = None, cv: int | None = None,
          holdout: PathLike | pd.DataFrame | None = None, text_col: str = "text", label_col: str = "label", group_col: str | None = "doc_id",
          progress=None) -> TopicModel:
    """Fit a model on labelled paragraphs.

    ``data`` is a DataFrame, a table path (or several), or a list of texts with ``labels``.
    With ``cv=K``, first run grouped K-fold cross-validation and record it on the model's card;
    with ``holdout`` (a labelled table never trained on), record the fitted model's metrics on it.
    """
    config = merge_config(config)
    frame = labelled_frame(data, labels, text_col=text_col, label_col=label_col, group_col=group_col)
    texts, y = frame["text"].astype(str).tolist(), frame["label"].astype(str).tolist()
    check_training_labels(y, folds=config["classifier"]["calibration_folds"])
    groups = calibration_groups(frame, config)
    metrics = {}
    if cv:
        result = cross_validate_config(build_pipeline(config), texts, y, frame["doc_id"].tolist(), k=cv,
                                       random_state=config["evaluation"]["random_state"], progress=progress,
                                       calibration_groups=groups)
        metrics["cv"] = {k: v for k, v in result.items() if k not in ("oof_pred", "oof_proba", "labels", "pooled", "folds")}
    fitted = fit_pipeline(build_pipeline(config), texts, y, groups)
    card = new_card(labels=[str(c) for c in fitted.classes_], config=config,
                    data_sha256=data_fingerprint(texts, y), n_rows=len(texts), metrics=metrics,
                    label_counts=pd.Series(y).value_counts().to_dict())
    model = TopicModel(fitted, card)
    if holdout is not None:
        scores = evaluate(model, holdout, text_col=text_col, label_col=label_col, group_col=group_col)
        name = Path(holdout).name if isinstance(holdout, (str, os.PathLike)) else "DataFrame"
        model.card["metrics"]["holdout"] = {"source": name, **{k: scores[k] for k in ("n", "accuracy", "macro_f1", "weighted_f1")}}
    return model


def load(path: PathLike, *, allow_pickle: bool = False) -> TopicModel:
    """Load a model folder: every file is checked against the card's sha256, then the model is
    rebuilt from arrays and JSON, running no code from the folder. An old folder (``model.joblib``,
    a pickle, which runs whatever code it holds) loads only with ``allow_pickle=True``."""
    return load_model(path, allow_pickle=allow_pickle)


def convert(path: PathLike, out: PathLike, *, allow_pickle: bool = False) -> TopicModel:
    """Rewrite the model folder ``path`` in the safe format at ``out`` (``out`` may be ``path``).
    An old pickled folder is unpickled to do so: pass ``allow_pickle=True`` for folders you trust.
    The new folder is checked to give exactly the same scores before it is written."""
    return convert_model(path, out, allow_pickle=allow_pickle)


def evaluate(model: TopicModel | PathLike, data: Data, labels: Sequence[str] | None = None, *,
             text_col: str = "text", label_col: str = "label", group_col: str | None = "doc_id",
             allow_pickle: bool = False) -> dict:
    """Metrics of ``model`` on labelled data: accuracy, macro-F1, per-label table, confusion matrix."""
    if not isinstance(model, TopicModel):
        model = load(model, allow_pickle=allow_pickle)
    frame = labelled_frame(data, labels, text_col=text_col, label_col=label_col, group_col=group_col)
    predicted = model.predict(frame["text"].astype(str).tolist())
    label_set = list(model.labels) + sorted(set(frame["label"]) - set(model.labels))
    return compute_metrics(frame["label"].tolist(), predicted, label_set)


def evaluation_report(model: TopicModel | PathLike, data: Data, labels: Sequence[str] | None = None, *,
                      text_col: str = "text", label_col: str = "label", group_col: str | None = "doc_id",
                      max_errors: int | None = 50, allow_pickle: bool = False) -> dict:
    """Everything ``evaluate`` gives plus top-2 accuracy, bootstrap intervals (documents resampled
    when ``doc_id`` is known), calibration, errors with the terms behind them, the most confused
    pairs and the majority/keyword baselines. ``pipeline.report.write_report`` renders it."""
    from .evaluation import evaluate_report

    if not isinstance(model, TopicModel):
        model = load(model, allow_pickle=allow_pickle)
    frame = labelled_frame(data, labels, text_col=text_col, label_col=label_col, group_col=group_col)
    return evaluate_report(model, frame, max_errors=max_errors)


def cross_validation_report(data: Data, labels: Sequence[str] | None = None, *, k: int = 5, config: dict | None = None,
                            text_col: str = "text", label_col: str = "label", group_col: str | None = "doc_id",
                            cv_by: str | None = None, max_errors: int | None = 50, progress=None,
                            learning_curve: bool | Sequence[float] = False) -> dict:
    """Grouped K-fold CV of ``config``: the ``evaluation_report`` of out-of-fold predictions, with
    mean ± std over folds per metric. No model is kept. Folds are grouped by document, or by the
    column ``cv_by`` (a writer, unit or year: how the model does on ones it has not seen).
    ``learning_curve=True`` (or a list of shares of the data) adds accuracy and macro-F1 against
    training size, in the same folds, to answer "do I need more labels?"."""
    from .evaluation import LEARNING_CURVE_FRACTIONS, cv_report

    frame = labelled_frame(data, labels, text_col=text_col, label_col=label_col, group_col=group_col)
    fractions = LEARNING_CURVE_FRACTIONS if learning_curve is True else (learning_curve or None)
    return cv_report(merge_config(config), frame, k, cv_by=cv_by, max_errors=max_errors, progress=progress,
                     learning_curve_fractions=fractions)


def ingest(inputs: Iterable[PathLike]) -> pd.DataFrame:
    """Raw reports (files or folders) → a paragraph table: doc_id, para_index, text, heading, role."""
    from .reading import ingest as _ingest

    return _ingest(inputs)
