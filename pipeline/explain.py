"""Which terms a linear model weighs: per label overall, and for one text's decision.

For a linear model the score of label k is ``x · w_k + b_k``, so the contribution of a term
to a decision is its TF-IDF value times its weight. Calibration rescales scores but does not
reorder terms, so the underlying linear weights are the honest explanation.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV


def linear_weights(pipeline) -> np.ndarray:
    """(n_labels, n_features) weights of the fitted linear classifier at the end of ``pipeline``."""
    clf = pipeline[-1]
    if hasattr(clf, "linear_model_"):  # GroupCalibratedClassifier
        coef = clf.linear_model_.coef_
    elif isinstance(clf, CalibratedClassifierCV):
        coefs = [c.estimator.coef_ for c in clf.calibrated_classifiers_]
        coef = np.mean(coefs, axis=0)
    else:
        coef = clf.coef_
    coef = np.asarray(coef)
    if coef.shape[0] == 1:  # binary: one row for the positive class
        coef = np.vstack([-coef[0], coef[0]])
    return coef


def feature_names(pipeline) -> np.ndarray:
    """Readable names: ``w:两个维护`` for words (word bigrams joined by a space), ``c:八项`` for characters."""
    names = pipeline.named_steps["features"].get_feature_names_out()
    return np.array([n.replace("words__", "w:", 1).replace("chars__", "c:", 1) for n in names], dtype=object)


def top_terms(model, n: int = 15, readable: bool = True) -> pd.DataFrame:
    """The ``n`` highest-weighted terms of each label: columns label, rank, term, weight.

    ``readable`` (default) keeps the terms a person can read as evidence: words and character
    n-grams of two characters or more, and no character n-gram that only repeats part of a term
    already listed (c:八项 under w:八项规定). Single characters (c:织, w:一) carry real weight in
    the model but say little to a reader; ``readable=False`` lists every feature."""
    coef = linear_weights(model.pipeline)
    names = feature_names(model.pipeline)
    rows = []
    for k, label in enumerate(model.labels):
        listed: list[str] = []
        for j in np.argsort(-coef[k]):
            if len(listed) == n or coef[k, j] <= 0:
                break
            term = str(names[j])
            text = term.split(":", 1)[-1]
            if readable and not _readable(term, text, listed):
                continue
            listed.append(term)
            rows.append({"label": label, "rank": len(listed), "term": term, "weight": float(coef[k, j])})
    return pd.DataFrame(rows)


def _readable(term: str, text: str, listed: list[str]) -> bool:
    compact = text.replace(" ", "")
    if len(compact) < 2 or not any(ch.isalnum() for ch in compact):  # one character, or punctuation only
        return False
    shown = [t.split(":", 1)[-1].replace(" ", "") for t in listed]
    if compact in shown:  # c:纪律 after w:纪律 repeats it
        return False
    return not (term.startswith("c:") and any(compact in t for t in shown))


def explain_texts(model, texts, n: int = 8) -> list[list[tuple[str, float]]]:
    """For each text, the ``n`` terms that pushed most towards its predicted label, with contributions."""
    x = model.features(texts).tocsr()
    coef = linear_weights(model.pipeline)
    names = feature_names(model.pipeline)
    predicted = model.predict_proba(texts).argmax(axis=1)
    result = []
    for i in range(x.shape[0]):
        row = x.getrow(i)
        contrib = row.data * coef[predicted[i], row.indices]
        order = np.argsort(-contrib)[:n]
        result.append([(names[row.indices[j]], float(contrib[j])) for j in order if contrib[j] > 0])
    return result
