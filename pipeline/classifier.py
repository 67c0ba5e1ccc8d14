"""The linear classifier, chosen by config, always able to give probability-like scores.

Batch users filter predictions on confidence, so every classifier here has ``predict_proba``:
LogisticRegression natively, LinearSVC and SGD through ``CalibratedClassifierCV``, fitted on
folds that keep groups (documents, or writers) apart: ``GroupCalibratedClassifier``.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV, _CalibratedClassifier, _SigmoidCalibration, _TemperatureScaling
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from .config import CALIBRATIONS
from .errors import InputError, ModelError
from .splits import grouped_folds
from .state import StateReader, StateWriter


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
    return GroupCalibratedClassifier(base, method=clf["calibration"], folds=clf["calibration_folds"],
                                     n_jobs=clf["n_jobs"], random_state=clf["random_state"])


class GroupCalibratedClassifier(ClassifierMixin, BaseEstimator):
    """``CalibratedClassifierCV`` whose calibration folds hold whole groups.

    Scores are calibrated on decisions the model made about paragraphs it did not train on.
    With random-row folds those paragraphs come from documents (and writers) the fold model
    did train on, so the decisions are surer than they will be on a new writer's report, and
    the scores learn that over-confidence: on unseen real reports our earlier row-calibrated
    model scored 62 % of paragraphs ≥ 0.9 and was right on only 88 % of those. ``fit(X, y,
    groups=...)`` splits by group (a document or writer id per row); without groups, or with
    fewer groups than folds, it falls back to stratified folds over rows and says so in
    ``calibrated_by_``.

    ``ensemble=False``: calibrate on the cross-validated decisions, then fit one model on all
    the data, so prediction costs one linear model rather than one per fold.
    """

    def __init__(self, estimator=None, method: str = "temperature", folds: int = 3, n_jobs: int = 1,
                 random_state: int = 0):
        self.estimator = estimator
        self.method = method
        self.folds = folds
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X, y, groups=None):
        y = np.asarray(y)
        if groups is not None and len(groups) != len(y):
            raise InputError(f"{len(groups)} calibration groups for {len(y)} rows")
        n_groups = len(set(groups)) if groups is not None else 0
        if n_groups >= self.folds:
            splits = grouped_folds(y, list(groups), self.folds, self.random_state)
            self.calibrated_by_ = f"{n_groups} groups"
        else:
            splits = list(StratifiedKFold(self.folds).split(np.zeros(len(y)), y))
            self.calibrated_by_ = "rows"
        estimator = self.estimator if self.estimator is not None else LinearSVC()
        self.calibrated_ = CalibratedClassifierCV(clone(estimator), method=self.method, cv=splits, ensemble=False,
                                                  n_jobs=self.n_jobs).fit(X, y)
        self.classes_ = self.calibrated_.classes_
        return self

    @property
    def linear_model_(self):
        """The one linear model fitted on all the data (its ``coef_`` explain decisions)."""
        check_is_fitted(self, "calibrated_")
        return self.calibrated_.calibrated_classifiers_[0].estimator

    def decision_function(self, X):
        return self.linear_model_.decision_function(X)

    def predict_proba(self, X):
        check_is_fitted(self, "calibrated_")
        return self.calibrated_.predict_proba(X)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


# ---- fitted state as data (persistence's safe format) --------------------------------------
# The fitted classifier is a linear model's coefficients and intercepts plus, for a calibrated
# one, its calibrators' parameters. Rebuilding it sets the attributes scikit-learn's own fit
# sets, on estimators built from the config; the calibrated wrapper needs scikit-learn's
# internal classes for one calibrated model and its calibrators (``_CalibratedClassifier``,
# ``_TemperatureScaling``, ``_SigmoidCalibration``), so a scikit-learn upgrade that changes them
# fails the exact round-trip tests (tests/test_safe_format.py) rather than going unnoticed.

CLASSIFIER_NAMES = {LinearSVC: "linear_svc", SGDClassifier: "sgd", LogisticRegression: "logistic_regression"}


def classifier_type(clf) -> str:
    """The config's name for the linear model inside ``clf`` (``classifier.type``)."""
    linear = clf.estimator if isinstance(clf, GroupCalibratedClassifier) else clf
    return CLASSIFIER_NAMES[type(linear if linear is not None else LinearSVC())]


def save_classifier_state(clf, out: StateWriter) -> None:
    out.put("type", classifier_type(clf))
    if not isinstance(clf, GroupCalibratedClassifier):
        _save_linear(clf, out.sub("linear"), clf.classes_)
        return
    check_is_fitted(clf, "calibrated_")
    (calibrated,) = clf.calibrated_.calibrated_classifiers_  # ensemble=False: one model, one set of calibrators
    out.put("calibrated_by", clf.calibrated_by_)
    _save_linear(calibrated.estimator, out.sub("linear"), clf.classes_)
    _save_calibrators(calibrated.method, calibrated.calibrators, out.sub("calibration"))


def restore_classifier(clf, state: StateReader, classes: np.ndarray, n_features: int):
    """Set the fitted attributes of ``clf`` (unfitted, built from the model's config)."""
    kind = state.string("type", tuple(CLASSIFIER_NAMES.values()))
    if kind != classifier_type(clf):
        raise ModelError(f"{state.where}: {state.prefix}type is {kind!r} but the card's config says "
                         f"{classifier_type(clf)!r}")
    if not isinstance(clf, GroupCalibratedClassifier):
        _restore_linear(clf, state.sub("linear"), classes, n_features, "labels")
        return clf
    calibration = state.sub("calibration")
    method = calibration.string("method", CALIBRATIONS)
    if method != clf.method:
        raise ModelError(f"{state.where}: {calibration.prefix}method is {method!r} but the card's config says "
                         f"{clf.method!r}")
    # scikit-learn fits the linear model on label indices for temperature scaling, on labels otherwise
    linear = clone(clf.estimator if clf.estimator is not None else LinearSVC())
    encoded = "indices" if method == "temperature" else "labels"
    _restore_linear(linear, state.sub("linear"), classes, n_features, encoded)
    calibrators = _restore_calibrators(calibration, method, len(classes))
    calibrated = CalibratedClassifierCV(clone(linear), method=method, cv=clf.folds, ensemble=False, n_jobs=clf.n_jobs)
    calibrated.classes_ = classes
    calibrated.n_features_in_ = n_features
    calibrated.calibrated_classifiers_ = [_CalibratedClassifier(linear, calibrators, classes=classes, method=method)]
    clf.calibrated_ = calibrated
    clf.calibrated_by_ = state.string("calibrated_by")
    clf.classes_ = classes
    return clf


def _save_linear(linear, out: StateWriter, classes) -> None:
    own = np.asarray(linear.classes_)
    if own.dtype.kind in "iu" and np.array_equal(own, np.arange(len(classes))):
        out.put("classes", "indices")
    elif np.array_equal(own, np.asarray(classes)):
        out.put("classes", "labels")
    else:
        raise ValueError(f"the linear model's classes {own!r} are neither the labels nor their indices")
    out.put_array("coef", linear.coef_)
    out.put_array("intercept", linear.intercept_)
    out.put("n_iter", int(np.max(linear.n_iter_)))


def _restore_linear(linear, state: StateReader, classes: np.ndarray, n_features: int, expected_classes: str) -> None:
    kind = state.string("classes", (expected_classes,))
    rows = 1 if len(classes) == 2 else len(classes)  # binary: one row, for the second label
    coef = state.array("coef", shape=(rows, n_features))
    linear.coef_ = coef
    linear.intercept_ = state.array("intercept", shape=(rows,))
    linear.classes_ = classes.copy() if kind == "labels" else np.arange(len(classes), dtype=np.int64)
    linear.n_features_in_ = n_features
    n_iter = state.integer("n_iter")
    linear.n_iter_ = np.asarray([n_iter], dtype=np.int32) if isinstance(linear, LogisticRegression) else n_iter


def _save_calibrators(method: str, calibrators, out: StateWriter) -> None:
    out.put("method", method)
    if method == "temperature":
        out.put_array("beta", np.asarray([c.beta_ for c in calibrators]))
    elif method == "sigmoid":
        out.put_array("a", np.asarray([c.a_ for c in calibrators]))
        out.put_array("b", np.asarray([c.b_ for c in calibrators]))
    else:  # isotonic: one step function per calibrator, concatenated; offsets mark where each starts
        out.put("increasing", [bool(c.increasing_) for c in calibrators])
        out.put_array("x_min", np.asarray([c.X_min_ for c in calibrators]))
        out.put_array("x_max", np.asarray([c.X_max_ for c in calibrators]))
        out.put_array("x", np.concatenate([c.X_thresholds_ for c in calibrators]))
        out.put_array("y", np.concatenate([c.y_thresholds_ for c in calibrators]))
        out.put_array("offsets", np.cumsum([0] + [len(c.X_thresholds_) for c in calibrators]).astype(np.int64))


def _restore_calibrators(state: StateReader, method: str, n_classes: int) -> list:
    if method == "temperature":  # one temperature for the softmax over all labels
        beta = state.array("beta", shape=(1,))
        calibrator = _TemperatureScaling()
        calibrator.beta_ = beta[0]
        return [calibrator]
    n = 1 if n_classes == 2 else n_classes  # one-vs-rest: one calibrator per label (binary: one)
    if method == "sigmoid":
        a = state.array("a", shape=(n,))
        b = state.array("b", dtypes=(a.dtype,), shape=(n,))
        calibrators = []
        for i in range(n):
            calibrator = _SigmoidCalibration()
            calibrator.a_, calibrator.b_ = a[i], b[i]
            calibrators.append(calibrator)
        return calibrators
    increasing = state.booleans("increasing", n)
    x = state.array("x", shape=(None,))
    y = state.array("y", dtypes=(x.dtype,), shape=(len(x),))
    x_min = state.array("x_min", dtypes=(x.dtype,), shape=(n,))
    x_max = state.array("x_max", dtypes=(x.dtype,), shape=(n,))
    offsets = state.array("offsets", dtypes=("int64",), shape=(n + 1,))
    if offsets[0] != 0 or offsets[-1] != len(x) or (np.diff(offsets) < 1).any():
        raise state.array_error("offsets", f"must rise from 0 to {len(x)}, by at least 1 per calibrator")
    calibrators = []
    for i in range(n):
        calibrator = IsotonicRegression(out_of_bounds="clip")  # as CalibratedClassifierCV builds them
        calibrator.increasing_ = increasing[i]
        calibrator.X_min_, calibrator.X_max_ = x_min[i], x_max[i]
        calibrator.X_thresholds_ = x[offsets[i]:offsets[i + 1]].copy()
        calibrator.y_thresholds_ = y[offsets[i]:offsets[i + 1]].copy()
        calibrator._build_f(calibrator.X_thresholds_, calibrator.y_thresholds_)  # what unpickling does
        calibrators.append(calibrator)
    return calibrators
