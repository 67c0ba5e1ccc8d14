"""The linear classifier, chosen by config, always able to give probability-like scores.

Batch users filter predictions on confidence, so every classifier here has ``predict_proba``:
LogisticRegression natively, LinearSVC and SGD through ``CalibratedClassifierCV``.
"""
from __future__ import annotations

from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.svm import LinearSVC


def build_classifier(config: dict):
    clf = config["classifier"]
    kind = clf["type"]
    if kind == "logistic_regression":
        return LogisticRegression(C=clf["C"], class_weight=clf["class_weight"], max_iter=clf["max_iter"],
                                  tol=clf["tol"], solver="lbfgs", random_state=clf["random_state"])
    if kind == "linear_svc":
        base = LinearSVC(C=clf["C"], class_weight=clf["class_weight"], max_iter=clf["max_iter"], tol=clf["tol"],
                         random_state=clf["random_state"])
    elif kind == "sgd":
        base = SGDClassifier(loss="hinge", alpha=1.0 / (clf["C"] * 10_000), class_weight=clf["class_weight"],
                             max_iter=clf["max_iter"], tol=clf["tol"], random_state=clf["random_state"])
    else:  # validated in config.validate_config; kept for direct callers
        raise ValueError(f"unknown classifier type {kind!r}")
    # ensemble=False: calibrate on cross-validated decisions, then fit one model on all data,
    # so prediction costs one linear model rather than one per fold.
    return CalibratedClassifierCV(base, method=clf["calibration"], cv=clf["calibration_folds"], ensemble=False,
                                  n_jobs=clf["n_jobs"])
