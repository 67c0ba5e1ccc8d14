"""Evaluation: how good a model is on labelled paragraphs, in numbers an analyst can trust.

``compute_metrics(y_true, y_pred, labels)`` gives accuracy, macro/weighted F1, per-label
precision/recall/F1/support and the confusion matrix (counts and row-normalised).
``cross_validate_config`` runs K-fold cross-validation grouped by document, so paragraphs of
one report never sit on both sides. ``evaluate_report`` / ``cv_report`` put everything an
analyst needs into one dict: metrics, top-2 accuracy, bootstrap intervals, calibration,
errors with the terms behind them, the most confused pairs, and baselines on the same data.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from .errors import InputError
from .model import fit_pipeline
from .splits import grouped_folds  # noqa: F401  (also imported from here by notebooks and benchmarks)


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
        "confusion": {"labels": labels, "matrix": matrix.tolist(), "normalized": _row_normalize(matrix).tolist()},
    }


def _row_normalize(matrix: np.ndarray) -> np.ndarray:
    """Each gold row divided by its total (recall on the diagonal); an empty row stays zero."""
    matrix = np.asarray(matrix, dtype=float)
    totals = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)


def cross_validate_config(pipeline, texts: Sequence[str], labels: Sequence[str], groups: Sequence[str],
                          k: int = 5, random_state: int = 0, progress=None,
                          calibration_groups: Sequence[str] | None = None) -> dict:
    """Grouped K-fold CV of an unfitted pipeline: per-fold metrics, their mean and std, and the
    out-of-fold predictions (every paragraph predicted by a model that never saw its document).
    ``calibration_groups`` (one per row) go to each fold model's calibration, as ``train`` does."""
    texts = list(texts)
    y = np.asarray(labels, dtype=object)
    folds = grouped_folds(y, groups, k, random_state)
    cal = np.asarray(calibration_groups, dtype=object) if calibration_groups is not None else None
    all_labels = sorted(set(y))
    oof_pred = np.empty(len(y), dtype=object)
    oof_proba = np.zeros((len(y), len(all_labels)))
    fold_metrics = []
    for i, (train_idx, test_idx) in enumerate(folds):
        fitted = fit_pipeline(clone(pipeline), [texts[j] for j in train_idx], y[train_idx],
                              None if cal is None else cal[train_idx])
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
        "folds": folds,
    }


def format_metrics(metrics: dict) -> str:
    """Accuracy, macro-F1 and a per-label table, as plain text for a terminal."""
    lines = [f"n = {metrics['n']}   accuracy = {metrics['accuracy']:.4f}   macro-F1 = {metrics['macro_f1']:.4f}"
             f"   weighted-F1 = {metrics['weighted_f1']:.4f}", ""]
    table = pd.DataFrame(metrics["per_label"]).T[["precision", "recall", "f1", "support"]]
    table["support"] = table["support"].astype(int)
    lines.append(table.to_string(float_format=lambda v: f"{v:.3f}"))
    return "\n".join(lines)


# ---- beyond point metrics ---------------------------------------------------------------------

def top_k_accuracy(y_true: Sequence[str], proba: np.ndarray, labels: Sequence[str], k: int = 2) -> float:
    """Share of paragraphs whose gold label is among the ``k`` highest-scored labels."""
    proba = np.asarray(proba, dtype=float)
    if len(y_true) == 0:
        return float("nan")
    index = {label: i for i, label in enumerate(labels)}
    gold = np.array([index.get(label, -1) for label in y_true])
    # stable ordering on the negated scores: ties go to the label listed first, as argmax does
    top = np.argsort(-proba, axis=1, kind="stable")[:, :k]
    return float(np.mean((top == gold[:, None]).any(axis=1)))


def _codes(y_true, y_pred):
    labels = sorted(set(map(str, y_true)) | set(map(str, y_pred)))
    index = {label: i for i, label in enumerate(labels)}
    return (np.array([index[str(v)] for v in y_true], dtype=np.int64),
            np.array([index[str(v)] for v in y_pred], dtype=np.int64), len(labels))


def _weighted_scores(t: np.ndarray, p: np.ndarray, n_labels: int, weights: np.ndarray) -> tuple[float, float]:
    """(accuracy, macro-F1 over gold-present labels) with each paragraph counted ``weights`` times."""
    cm = np.bincount(t * n_labels + p, weights=weights, minlength=n_labels * n_labels).reshape(n_labels, n_labels)
    total = cm.sum()
    tp = np.diag(cm)
    gold, pred = cm.sum(axis=1), cm.sum(axis=0)
    present = gold > 0
    denom = gold + pred  # 2tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float(tp.sum() / total), float(f1[present].mean())


# One document gives a zero-width interval; from two on, resampling documents is coarse but honest.
MIN_BOOTSTRAP_DOCUMENTS = 2


def bootstrap_intervals(y_true: Sequence[str], y_pred: Sequence[str], groups: Sequence | None = None, *,
                        n_samples: int = 1000, confidence: float = 0.95, random_state: int = 0,
                        group_name: str = "document") -> dict:
    """Percentile bootstrap intervals for accuracy and macro-F1.

    With ``groups`` (doc_id) whole documents are resampled: paragraphs of one report are not
    independent (one author, one unit), so resampling them singly would give intervals that
    are too narrow. Without groups each paragraph is its own unit. With fewer than
    ``MIN_BOOTSTRAP_DOCUMENTS`` documents, resampling documents says nothing (one document
    gives a zero-width interval), so paragraphs are resampled and ``note`` says the interval
    is then too narrow. ``group_name`` names what a group is in the result (``unit``).
    """
    t, p, n_labels = _codes(y_true, y_pred)
    if len(t) == 0:
        raise InputError("cannot compute bootstrap intervals on an empty evaluation set")
    note = ""
    if groups is not None:
        group_codes, uniques = pd.factorize(pd.Series(list(groups), dtype=object))
        n_groups = len(uniques)
        unit = group_name if n_groups < len(t) else "paragraph"
        if n_groups < MIN_BOOTSTRAP_DOCUMENTS and n_groups < len(t):
            note = (f"only {n_groups} {group_name}(s): paragraphs resampled instead, which ignores that paragraphs "
                    f"of one {group_name} are alike, so the interval is too narrow")
            groups = None
    if groups is None:
        group_codes, n_groups, unit = np.arange(len(t)), len(t), "paragraph"
    rng = np.random.default_rng(random_state)
    stats = np.empty((n_samples, 2))
    for b in range(n_samples):
        times = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)
        stats[b] = _weighted_scores(t, p, n_labels, times[group_codes].astype(float))
    point = _weighted_scores(t, p, n_labels, np.ones(len(t)))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(stats, [alpha, 1 - alpha], axis=0)
    return {
        "method": "percentile bootstrap",
        "unit": unit,
        "n_units": int(n_groups),
        "n_samples": int(n_samples),
        "confidence": confidence,
        "random_state": random_state,
        "accuracy": {"point": point[0], "low": float(low[0]), "high": float(high[0])},
        "macro_f1": {"point": point[1], "low": float(low[1]), "high": float(high[1])},
        "note": note,
    }


def calibration_table(y_true: Sequence[str], proba: np.ndarray, labels: Sequence[str], n_bins: int = 10) -> dict:
    """Reliability table of the top score (equal-width bins) and the expected calibration error:
    ECE = sum over bins of (share of paragraphs) × |accuracy − mean score|."""
    proba = np.asarray(proba, dtype=float)
    y_true = np.asarray(y_true, dtype=object)
    if len(y_true) == 0:
        raise InputError("cannot compute calibration on an empty evaluation set")
    confidence = proba.max(axis=1)
    correct = np.asarray(labels, dtype=object)[proba.argmax(axis=1)] == y_true
    which = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    rows, ece = [], 0.0
    for b in range(n_bins):
        mask = which == b
        count = int(mask.sum())
        row = {"bin": b, "low": b / n_bins, "high": (b + 1) / n_bins, "count": count,
               "mean_score": float(confidence[mask].mean()) if count else None,
               "accuracy": float(correct[mask].mean()) if count else None}
        if count:
            ece += count / len(y_true) * abs(row["accuracy"] - row["mean_score"])
        rows.append(row)
    return {"n_bins": n_bins, "ece": float(ece), "bins": rows}


def confused_pairs(confusion: dict, top: int = 10) -> list[dict]:
    """Off-diagonal cells of the confusion matrix, largest first: gold, predicted, count, share of gold."""
    labels, matrix = confusion["labels"], np.asarray(confusion["matrix"])
    totals = matrix.sum(axis=1)
    pairs = [{"gold": labels[i], "predicted": labels[j], "count": int(matrix[i, j]),
              "share_of_gold": float(matrix[i, j] / totals[i])}
             for i in range(len(labels)) for j in range(len(labels)) if i != j and matrix[i, j] > 0]
    return sorted(pairs, key=lambda r: (-r["count"], r["gold"], r["predicted"]))[:top]


def error_table(frame: pd.DataFrame, predicted: Sequence[str], scores: Sequence[float],
                terms: Sequence[Sequence[tuple[str, float]]] | None = None, limit: int | None = 50) -> list[dict]:
    """Misclassified paragraphs, most confident mistakes first (they hurt most in a batch job).
    ``terms``: per row of ``frame``, the terms that pushed the decision (from ``explain_texts``)."""
    predicted = np.asarray(predicted, dtype=object)
    gold = frame["label"].astype(str).to_numpy(dtype=object)
    wrong = np.flatnonzero(predicted != gold)
    wrong = wrong[np.argsort(-np.asarray(scores, dtype=float)[wrong], kind="stable")]
    rows = []
    for i in wrong[:limit] if limit is not None else wrong:
        row = {"doc_id": str(frame["doc_id"].iloc[i]) if "doc_id" in frame else None,
               "text": str(frame["text"].iloc[i]), "gold": gold[i], "predicted": predicted[i],
               "score": float(scores[i])}
        if terms is not None:
            row["terms"] = [[t, round(float(w), 4)] for t, w in terms[i]]
        rows.append(row)
    return rows


def _summary(metrics: dict) -> dict:
    return {k: metrics[k] for k in ("n", "accuracy", "macro_f1", "weighted_f1")}


def baseline_report(texts: Sequence[str], y_true: Sequence[str], labels: Sequence[str],
                    train_labels: Sequence[str] | None = None, keywords=None) -> dict:
    """Majority class and keyword rules on the same paragraphs as the model.

    The majority label comes from ``train_labels`` when given (a saved model's card records
    them); otherwise, for a model saved before cards did, from the evaluation set itself, which
    flatters this baseline slightly (it is said so in the result).
    """
    from .baselines import KeywordClassifier, MajorityBaseline

    source = "training data" if train_labels is not None else "evaluation data"
    majority = MajorityBaseline().fit(None, train_labels if train_labels is not None else y_true)
    rules = KeywordClassifier(keywords).fit()
    result = {}
    for name, est, note in [("majority", majority, f"always {majority.label_!r} (majority of the {source})"),
                            ("keywords", rules, "taxonomy terms counted in the text (resources/keywords.toml)")]:
        pred = est.predict(list(texts))
        all_labels = list(labels) + sorted(set(map(str, pred)) - set(labels))
        result[name] = {**_summary(compute_metrics(y_true, pred, all_labels)), "description": note}
    return result


def _evaluation_settings(config: dict | None) -> dict:
    from .config import DEFAULT_CONFIG

    return {**DEFAULT_CONFIG["evaluation"], **((config or {}).get("evaluation") or {})}


def _groups_or_none(frame: pd.DataFrame):
    return frame["doc_id"].astype(str).tolist() if "doc_id" in frame.columns else None


def evaluate_report(model, frame: pd.DataFrame, *, train_labels: Sequence[str] | None = None,
                    max_errors: int | None = 50, n_terms: int = 5) -> dict:
    """Everything the evaluation report shows, for a fitted ``TopicModel`` on a labelled frame
    (columns text, label, optional doc_id). The top-level keys of ``compute_metrics`` stay as
    they are (accuracy, macro_f1, n, per_label, confusion), the rest is added beside them."""
    from .explain import explain_texts

    if len(frame) == 0:
        raise InputError("the evaluation data has no rows")
    settings = _evaluation_settings(model.config)
    texts = frame["text"].astype(str).tolist()
    gold = frame["label"].astype(str).tolist()
    if train_labels is None:  # a baseline knows only what the model knew: its training labels
        counts = model.card.get("training_data", {}).get("label_counts")
        if counts:
            train_labels = [label for label, n in counts.items() for _ in range(int(n))]
    proba = model.predict_proba(texts)
    labels = model.labels
    predicted = np.asarray(labels, dtype=object)[proba.argmax(axis=1)]
    label_set = labels + sorted(set(gold) - set(labels))
    metrics = compute_metrics(gold, predicted, label_set)
    wrong = np.flatnonzero(predicted != np.asarray(gold, dtype=object))
    terms: list = [[] for _ in texts]
    if len(wrong):
        for i, t in zip(wrong, explain_texts(model, [texts[i] for i in wrong], n=n_terms)):
            terms[i] = t
    return {
        **metrics,
        "top2_accuracy": top_k_accuracy(gold, proba, labels, k=2),
        "intervals": bootstrap_intervals(gold, predicted, _groups_or_none(frame),
                                         n_samples=settings["bootstrap_samples"], random_state=settings["random_state"]),
        "calibration": calibration_table(gold, proba, labels),
        "confused_pairs": confused_pairs(metrics["confusion"]),
        "n_errors": int(len(wrong)),
        "errors": error_table(frame, predicted, proba.max(axis=1), terms, limit=max_errors),
        "baselines": baseline_report(texts, gold, labels, train_labels),
        "setup": {"mode": "held-out", "model_labels": labels, "classifier": model.config["classifier"]["type"]},
    }


def cv_report(config: dict, frame: pd.DataFrame, k: int, *, cv_by: str | None = None, max_errors: int | None = 50,
              progress=None, learning_curve_fractions: Sequence[float] | None = None) -> dict:
    """Grouped K-fold CV of ``config`` on a labelled frame: the same report as ``evaluate_report``
    built from out-of-fold predictions, plus mean ± std over folds per metric. Baselines run
    in the same folds (the majority label is taken from each training fold).

    Folds are grouped by document (``doc_id``), or by ``cv_by``, any other column: a writer, a
    unit, a year. Grouped so, no fold trains on the group it is scored on, which estimates how the
    model does on writers, units or years it has never seen; the intervals then resample whole
    groups too."""
    from .baselines import MajorityBaseline
    from .config import merge_config
    from .model import build_pipeline, calibration_groups, check_training_labels

    config = merge_config(config)
    settings = config["evaluation"]
    texts = frame["text"].astype(str).tolist()
    gold = frame["label"].astype(str).tolist()
    group_col = cv_by or "doc_id"
    if group_col not in frame.columns:
        raise InputError(f"no column {group_col!r} to group the folds by (columns are {list(frame.columns)})")
    if frame[group_col].isna().any():
        rows = (np.flatnonzero(frame[group_col].isna().to_numpy())[:5] + 1).tolist()
        raise InputError(f"{int(frame[group_col].isna().sum())} row(s) have no {group_col!r} to group the folds by, "
                         f"first at data row(s) {rows} (counted from 1 across the inputs)")
    groups = frame[group_col].astype(str).tolist()
    group_name = "document" if group_col == "doc_id" else f"{group_col} group"
    check_training_labels(gold, folds=config["classifier"]["calibration_folds"])
    result = cross_validate_config(build_pipeline(config), texts, gold, groups, k=k,
                                   random_state=settings["random_state"], progress=progress,
                                   calibration_groups=calibration_groups(frame, config))
    labels, proba, predicted = result["labels"], result["oof_proba"], result["oof_pred"]
    folds = result["folds"]
    y = np.asarray(gold, dtype=object)
    top2 = [top_k_accuracy(y[test], proba[test], labels, 2) for _, test in folds]
    majority = np.empty(len(y), dtype=object)
    for train, test in folds:
        majority[test] = MajorityBaseline().fit(None, y[train]).predict(test)
    metrics = result["pooled"]
    baselines = baseline_report(texts, gold, labels)
    baselines["majority"] = {**_summary(compute_metrics(gold, majority, labels + sorted(set(majority) - set(labels)))),
                             "description": "majority label of each training fold"}
    cv = {"k": k, "grouped_by": group_col, "n_groups": result["n_groups"]}
    for key in ("accuracy", "macro_f1", "weighted_f1"):
        cv[key] = result[key]
    cv["top2_accuracy"] = {"mean": float(np.mean(top2)), "std": float(np.std(top2)), "folds": top2}
    report = {
        **metrics,
        "top2_accuracy": top_k_accuracy(gold, proba, labels, k=2),
        "cv": cv,
        "intervals": bootstrap_intervals(gold, predicted, groups, n_samples=settings["bootstrap_samples"],
                                         random_state=settings["random_state"], group_name=group_name),
        "calibration": calibration_table(gold, proba, labels),
        "confused_pairs": confused_pairs(metrics["confusion"]),
        "n_errors": int((predicted != y).sum()),
        # fold models are not kept, so no per-paragraph terms here; explain a trained model instead
        "errors": error_table(frame, predicted, proba.max(axis=1), None, limit=max_errors),
        "baselines": baselines,
        "setup": {"mode": f"grouped {k}-fold cross-validation (out-of-fold predictions)", "model_labels": labels,
                  "classifier": config["classifier"]["type"], "config": config},
    }
    if learning_curve_fractions:
        report["learning_curve"] = learning_curve(config, frame, k, cv_by=cv_by, fractions=learning_curve_fractions,
                                                  progress=progress)
    return report


# ---- learning curve ---------------------------------------------------------------------------

LEARNING_CURVE_FRACTIONS = (0.125, 0.25, 0.5, 0.75, 1.0)


def learning_curve(config: dict, frame: pd.DataFrame, k: int, *, cv_by: str | None = None,
                   fractions: Sequence[float] = LEARNING_CURVE_FRACTIONS, progress=None) -> dict:
    """Accuracy and macro-F1 against the amount of training data: "do I need more labels?".

    The folds are those of ``cv_report`` (grouped by document or by ``cv_by``). In each fold the
    training side is cut to a share of its *documents* (paragraphs of one report come and go
    together, as they would when an analyst labels more reports), the model is fitted on that
    and scored on the held-out fold. Each size pools its out-of-fold predictions; intervals
    resample the held-out groups. ``gain_per_doubling`` is the slope of accuracy against
    log2(training size) over the upper half of the sizes: near zero, more labels of the same
    kind will not help much; clearly positive, they still do.
    """
    from .config import merge_config
    from .model import build_pipeline, calibration_groups, check_training_labels

    config = merge_config(config)
    settings = config["evaluation"]
    fractions = sorted({float(f) for f in fractions})
    if not fractions or fractions[0] <= 0 or fractions[-1] > 1:
        raise InputError(f"learning-curve shares must lie in (0, 1]; got {fractions}")
    texts = frame["text"].astype(str).tolist()
    y = frame["label"].astype(str).to_numpy(dtype=object)
    group_col = cv_by or "doc_id"
    if group_col not in frame.columns:
        raise InputError(f"no column {group_col!r} to group the folds by (columns are {list(frame.columns)})")
    groups = frame[group_col].astype(str).tolist()
    docs = frame["doc_id"].astype(str).to_numpy(dtype=object)
    cal = np.asarray(calibration_groups(frame, config), dtype=object)
    folds = grouped_folds(y, groups, k, settings["random_state"])
    labels = sorted(set(y))
    rng = np.random.default_rng(settings["random_state"])
    predicted = {f: np.empty(len(y), dtype=object) for f in fractions}
    sizes: dict[float, list[int]] = {f: [] for f in fractions}
    skipped: dict[float, str] = {}
    total, done = len(folds) * len(fractions), 0
    pipeline = build_pipeline(config)
    for train_idx, test_idx in folds:
        train_docs = np.unique(docs[train_idx])
        order = rng.permutation(train_docs)
        for f in fractions:
            keep = set(order[: max(1, int(round(f * len(order))))])
            idx = train_idx[np.isin(docs[train_idx], list(keep))]
            done += 1
            if f not in skipped:
                try:
                    check_training_labels(y[idx].tolist(), folds=config["classifier"]["calibration_folds"])
                    if len(set(y[idx])) < len(labels):
                        raise InputError(f"{len(labels) - len(set(y[idx]))} label(s) missing from the training share")
                except InputError as exc:  # a share too small to learn every label: say so, keep the rest
                    skipped[f] = str(exc)
                else:
                    fitted = fit_pipeline(clone(pipeline), [texts[j] for j in idx], y[idx], cal[idx])
                    predicted[f][test_idx] = fitted.predict([texts[j] for j in test_idx])
                    sizes[f].append(len(idx))
            if progress:
                progress(done, total)
    points = []
    for f in fractions:
        if f in skipped:
            points.append({"fraction": f, "skipped": skipped[f]})
            continue
        metrics = compute_metrics(y, predicted[f], labels)
        iv = bootstrap_intervals(y, predicted[f], groups, n_samples=settings["bootstrap_samples"],
                                 random_state=settings["random_state"],
                                 group_name="document" if group_col == "doc_id" else f"{group_col} group")
        points.append({"fraction": f, "train_paragraphs": int(round(np.mean(sizes[f]))),
                       "accuracy": metrics["accuracy"], "accuracy_low": iv["accuracy"]["low"],
                       "accuracy_high": iv["accuracy"]["high"], "macro_f1": metrics["macro_f1"],
                       "macro_f1_low": iv["macro_f1"]["low"], "macro_f1_high": iv["macro_f1"]["high"]})
    # Slope of accuracy on log2(size) over the upper half of the sizes (least squares): the
    # small shares say how the model learns at all, the large ones whether more data still helps.
    scored = [p for p in points if "accuracy" in p and p["fraction"] >= 0.5 * fractions[-1]]
    gain = None
    if len(scored) >= 2:
        sizes_log = np.log2([p["train_paragraphs"] for p in scored])
        gain = float(np.polyfit(sizes_log, [p["accuracy"] for p in scored], 1)[0])
    return {"k": k, "grouped_by": group_col, "unit": "document", "points": points, "gain_per_doubling": gain,
            "verdict": _learning_verdict(gain)}


def _learning_verdict(gain: float | None) -> str:
    if gain is None:
        return "too few sizes could be fitted to tell"
    points = 100 * gain
    if points >= 1.0:
        return (f"still climbing: about {points:+.1f} accuracy points per doubling of the labelled data; "
                "more labels (from new documents and writers) should help")
    if points >= 0.3:
        return f"flattening: about {points:+.1f} points per doubling; more labels help a little"
    return (f"flat: about {points:+.1f} points per doubling; more labels of the same kind will not help much — "
            "look at the errors and the label definitions instead")
