"""The topic model: a scikit-learn ``Pipeline`` (normalise → features → classifier) plus its card.

``build_pipeline(config)`` is a plain, unfitted scikit-learn estimator, so cross-validation,
``clone`` and grid search work on it as on any other. ``TopicModel`` wraps a fitted pipeline
with what a user needs around it: label names, scores as a table, explanations, and saving
to / loading from a model folder (see ``persistence``).
"""
from __future__ import annotations

import hashlib
import os
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from .classifier import build_classifier, restore_classifier, save_classifier_state
from .config import merge_config
from .errors import InputError, ModelError
from .features import build_features, restore_vectorizer, save_vectorizer_state
from .preprocess import normalize_texts
from .state import StateReader, StateWriter


def build_pipeline(config: dict | None = None) -> Pipeline:
    config = merge_config(config)
    return Pipeline([
        ("normalize", FunctionTransformer(normalize_texts,
                                          kw_args={"to_simplified": config["preprocess"]["to_simplified"]})),
        ("features", build_features(config)),
        ("classifier", build_classifier(config)),
    ])


def pipeline_state(pipeline: Pipeline) -> tuple[dict, dict[str, np.ndarray]]:
    """A fitted pipeline as data: (JSON values, numeric arrays by dotted name). The inverse of
    ``restore_pipeline``; settings are not included, they come from the config."""
    out = StateWriter()
    out.put("classes", [str(c) for c in pipeline.classes_])
    features = out.sub("features")
    for name, vectorizer in pipeline.named_steps["features"].transformer_list:
        save_vectorizer_state(vectorizer, features.sub(name))
    save_classifier_state(pipeline.named_steps["classifier"], out.sub("classifier"))
    return out.meta, out.arrays


def restore_pipeline(config: dict, meta: dict, arrays: dict[str, np.ndarray], *, where: str = "state",
                     arrays_where: str = "arrays") -> Pipeline:
    """``build_pipeline(config)`` with the fitted attributes set from ``pipeline_state``'s data.

    Every entry is checked (type, dtype, shape, agreement with the config); anything missing,
    malformed or left over raises ``ModelError`` naming it and where it came from (``where``:
    the JSON values, ``arrays_where``: the arrays). Nothing is imported or called by a name
    found in the data: the estimators are the ones the config builds."""
    pipeline = build_pipeline(config)
    state = StateReader(meta, arrays, where=where, arrays_where=arrays_where)
    labels = state.strings("classes", unique=True)
    if len(labels) < 2 or labels != sorted(labels):
        raise ModelError(f"{where}: classes must be two or more labels in sorted order, got {labels[:10]}")
    features = state.sub("features")
    n_features = 0
    for name, vectorizer in pipeline.named_steps["features"].transformer_list:
        n_features += len(restore_vectorizer(vectorizer, features.sub(name)).terms_)
    restore_classifier(pipeline.named_steps["classifier"], state.sub("classifier"), np.asarray(labels), n_features)
    state.finish()
    return pipeline


def calibration_groups(frame: pd.DataFrame, config: dict) -> list[str]:
    """The group of each training row that the calibration folds keep apart (config
    ``classifier.calibration_by``: the document by default, a writer column where there is one)."""
    column = config["classifier"]["calibration_by"]
    if column not in frame.columns:
        raise InputError(f"classifier.calibration_by names the column {column!r}, which the training data lacks "
                         f"(columns: {', '.join(map(str, frame.columns))}); add it or set classifier.calibration_by=doc_id")
    values = frame[column]
    if values.isna().any():
        rows = (np.flatnonzero(values.isna().to_numpy())[:5] + 1).tolist()
        raise InputError(f"{int(values.isna().sum())} training row(s) have no {column!r} "
                         f"(classifier.calibration_by), first at data row(s) {rows}")
    return values.astype(str).tolist()


def fit_pipeline(pipeline: Pipeline, texts: Sequence[str], labels: Sequence[str], groups: Sequence[str] | None = None):
    """Fit ``pipeline``, handing ``groups`` to a classifier that calibrates on grouped folds."""
    if groups is not None and "groups" in _fit_parameters(pipeline.steps[-1][1]):
        return pipeline.fit(texts, labels, **{f"{pipeline.steps[-1][0]}__groups": list(groups)})
    return pipeline.fit(texts, labels)


def _fit_parameters(estimator) -> set[str]:
    import inspect

    return set(inspect.signature(estimator.fit).parameters)


def data_fingerprint(texts: Sequence[str], labels: Sequence[str]) -> str:
    """sha256 over the (text, label) rows in order: the same data gives the same fingerprint."""
    digest = hashlib.sha256()
    for text, label in zip(texts, labels):
        digest.update(str(text).encode("utf-8"))
        digest.update(b"\x1f")
        digest.update(str(label).encode("utf-8"))
        digest.update(b"\x1e")
    return digest.hexdigest()


def check_training_labels(labels: Sequence[str], folds: int = 2) -> None:
    """Fail early, with what is needed, on label sets a classifier cannot learn from."""
    counts = pd.Series(list(labels)).value_counts()
    if len(counts) < 2:
        found = f"only the label {counts.index[0]!r}" if len(counts) else "no labels"
        raise InputError(f"training data has {found}; a classifier needs at least two labels")
    lowered = pd.Series(counts.index).groupby(lambda i: str(counts.index[i]).lower()).agg(list)
    clashes = [names for names in lowered if len(names) > 1]
    if clashes:
        raise InputError(f"labels differ only by case: {clashes}; make them one label")
    rare = counts[counts < folds]
    if not rare.empty:
        raise InputError(
            f"label(s) {dict(rare)} have fewer than {folds} examples; each label needs at least {folds} "
            "(more like 20) examples to be learned and calibrated; add examples or merge the label"
        )


class TopicModel:
    """A fitted pipeline with its card. Create with ``pipeline.train`` or ``pipeline.load``."""

    def __init__(self, pipeline: Pipeline, card: dict):
        self.pipeline = pipeline
        self.card = card

    @property
    def labels(self) -> list[str]:
        return [str(c) for c in self.pipeline.classes_]

    @property
    def config(self) -> dict:
        return self.card["config"]

    def predict(self, texts: Iterable[str]) -> np.ndarray:
        return self.pipeline.predict(_as_list(texts))

    def predict_proba(self, texts: Iterable[str]) -> np.ndarray:
        """Probability-like scores, one column per label in ``self.labels`` order."""
        return self.pipeline.predict_proba(_as_list(texts))

    def classify(self, texts: Iterable[str]) -> pd.DataFrame:
        """A table: ``label``, ``score`` (its probability) and one ``prob_<label>`` column per label."""
        proba = self.predict_proba(texts)
        return scores_frame(proba, self.labels)

    def features(self, texts: Iterable[str]):
        """The sparse feature matrix the classifier sees, for analysis."""
        return self.pipeline[:-1].transform(_as_list(texts))

    def save(self, path: str | os.PathLike) -> "TopicModel":
        from .persistence import save_model

        save_model(self, path)
        return self

    def __repr__(self) -> str:
        return f"TopicModel(labels={self.labels}, classifier={self.config['classifier']['type']!r})"


def scores_frame(proba: np.ndarray, labels: Sequence[str]) -> pd.DataFrame:
    best = proba.argmax(axis=1)
    frame = pd.DataFrame({"label": np.asarray(labels, dtype=object)[best], "score": proba[np.arange(len(best)), best]})
    for i, label in enumerate(labels):
        frame[f"prob_{label}"] = proba[:, i]
    return frame


def _as_list(texts: Iterable[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("expected a list of texts, got one string; wrap it in a list")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"text #{i} is {type(text).__name__}, not a string")
    return texts
