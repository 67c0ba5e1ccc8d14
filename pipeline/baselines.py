"""Baselines that give a model's numbers context: always the majority label, and keyword rules.

A model that does not beat the keyword rules built from the taxonomy's own terms has learned
little beyond what the taxonomy already says. Both follow scikit-learn conventions (``fit``
returns self, learned state ends in ``_``) so they run inside the same folds as the model.
The keyword lists are data (``resources/keywords.toml``), not code.
"""
from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from .errors import InputError
from .preprocess import normalize_text

KEYWORDS = Path(str(resources.files("pipeline") / "resources" / "keywords.toml"))


def load_keywords(path: str | Path | None = None) -> tuple[dict[str, list[str]], str]:
    """(label → terms, default label) from a keyword file."""
    path = Path(path or KEYWORDS)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: cannot read keyword rules: {exc}") from None
    labels = data.get("labels")
    if not isinstance(labels, Mapping) or not labels:
        raise InputError(f"{path}: needs a [labels] table of label = [terms]")
    return {str(k): [str(t) for t in v] for k, v in labels.items()}, str(data.get("default", "other"))


class MajorityBaseline(ClassifierMixin, BaseEstimator):
    """Predicts the most frequent training label for every text (ties: alphabetically first)."""

    def fit(self, texts, y):
        labels, counts = np.unique(np.asarray(y, dtype=str), return_counts=True)
        if not len(labels):
            raise InputError("majority baseline needs at least one labelled example")
        self.classes_ = labels.astype(object)
        self.label_ = str(labels[np.argmax(counts)])
        return self

    def predict(self, texts):
        return np.full(len(texts), self.label_, dtype=object)


class KeywordClassifier(ClassifierMixin, BaseEstimator):
    """Score each label by the keywords found in the text (each occurrence weighs its length in
    characters, so 中央八项规定 outweighs 纪律); the best label wins, no hit gives ``default``.
    Ties go to the label listed first. Needs no training; ``fit`` only records the classes."""

    def __init__(self, keywords: Mapping[str, Sequence[str]] | None = None, default: str | None = None):
        self.keywords = keywords
        self.default = default

    def _rules(self):
        if self.keywords is None:
            keywords, default = load_keywords()
        else:
            keywords, default = dict(self.keywords), "other"
        return keywords, self.default if self.default is not None else default

    def fit(self, texts=None, y=None):
        keywords, default = self._rules()
        self.keywords_ = {label: [normalize_text(t) for t in terms if t] for label, terms in keywords.items()}
        self.default_ = default
        self.classes_ = np.array(list(dict.fromkeys([*self.keywords_, default])), dtype=object)
        return self

    def scores(self, texts) -> np.ndarray:
        if not hasattr(self, "keywords_"):
            self.fit()
        labels = list(self.keywords_)
        out = np.zeros((len(texts), len(labels)))
        for i, text in enumerate(texts):
            text = normalize_text(str(text))
            for j, label in enumerate(labels):
                out[i, j] = sum(text.count(term) * len(term) for term in self.keywords_[label])
        return out

    def predict(self, texts):
        texts = list(texts)
        scores = self.scores(texts)
        labels = np.array(list(self.keywords_), dtype=object)
        if not len(labels):
            return np.full(len(texts), self.default_, dtype=object)
        best = labels[scores.argmax(axis=1)]
        return np.where(scores.max(axis=1) > 0, best, self.default_).astype(object)
