"""Evaluation: how good a model is on labelled paragraphs, in numbers an analyst can trust.

``compute_metrics(y_true, y_pred, labels)`` gives accuracy, macro/weighted F1, per-label
precision/recall/F1/support and the confusion matrix. ``cross_validate_config`` runs K-fold
cross-validation grouped by document, so paragraphs of one report never sit on both sides.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

from .errors import InputError


def compute_metrics(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] | None = None) -> dict:
    y_true = np.asarray(y_true, dtype=object)
    y_pred = np.asarray(y_pred, dtype=object)
    if labels is None:
        labels = sorted(set(y_true) | set(y_pred))
    labels = list(labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    present = [l for l in labels if l in set(y_true)]
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        # Macro-F1 averages over labels present in the gold data, so a label absent from an
        # evaluation set does not count as a zero.
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=present, average="weighted", zero_division=0)),
        "per_label": {
            label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support)
        },
        "confusion": {"labels": labels, "matrix": matrix.tolist()},
    }


def grouped_folds(labels: Sequence[str], groups: Sequence[str], k: int, random_state: int = 0):
    """Fold indices split by group; stratified by label where the groups allow it."""
    n_groups = len(set(groups))
    if n_groups < k:
        raise InputError(f"cross-validation with {k} folds needs at least {k} documents (doc_id groups); found {n_groups}")
    y = np.asarray(labels)
    try:
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=random_state)
        return list(splitter.split(np.zeros(len(y)), y, groups))
    except ValueError:
        return list(GroupKFold(n_splits=k).split(np.zeros(len(y)), y, groups))


def cross_validate_config(pipeline, texts: Sequence[str], labels: Sequence[str], groups: Sequence[str],
                          k: int = 5, random_state: int = 0, progress=None) -> dict:
    """Grouped K-fold CV of an unfitted pipeline: per-fold metrics, their mean and std, and the
    out-of-fold predictions (every paragraph predicted by a model that never saw its document)."""
    texts = list(texts)
    y = np.asarray(labels, dtype=object)
    folds = grouped_folds(y, groups, k, random_state)
    all_labels = sorted(set(y))
    oof_pred = np.empty(len(y), dtype=object)
    oof_proba = np.zeros((len(y), len(all_labels)))
    fold_metrics = []
    for i, (train_idx, test_idx) in enumerate(folds):
        fitted = clone(pipeline).fit([texts[j] for j in train_idx], y[train_idx])
        proba = fitted.predict_proba([texts[j] for j in test_idx])
        cols = [all_labels.index(c) for c in fitted.classes_]
        oof_proba[np.ix_(test_idx, cols)] = proba
        oof_pred[test_idx] = fitted.classes_[proba.argmax(axis=1)]
        fold_metrics.append(compute_metrics(y[test_idx], oof_pred[test_idx], all_labels))
        if progress:
            progress(i + 1, len(folds))
    summary = {}
    for key in ("accuracy", "macro_f1", "weighted_f1"):
        values = [m[key] for m in fold_metrics]
        summary[key] = {"mean": float(np.mean(values)), "std": float(np.std(values)), "folds": values}
    return {
        "k": k,
        "grouped_by": "doc_id",
        "n": int(len(y)),
        "n_groups": int(len(set(groups))),
        **summary,
        "pooled": compute_metrics(y, oof_pred, all_labels),
        "oof_pred": oof_pred,
        "oof_proba": oof_proba,
        "labels": all_labels,
    }


def format_metrics(metrics: dict) -> str:
    """Accuracy, macro-F1 and a per-label table, as plain text for a terminal."""
    lines = [f"n = {metrics['n']}   accuracy = {metrics['accuracy']:.4f}   macro-F1 = {metrics['macro_f1']:.4f}"
             f"   weighted-F1 = {metrics['weighted_f1']:.4f}", ""]
    table = pd.DataFrame(metrics["per_label"]).T[["precision", "recall", "f1", "support"]]
    table["support"] = table["support"].astype(int)
    lines.append(table.to_string(float_format=lambda v: f"{v:.3f}"))
    return "\n".join(lines)
