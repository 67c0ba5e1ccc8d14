"""All settings of the pipeline, as data, in one place.

A config is a nested dict. ``DEFAULT_CONFIG`` holds every key there is; a config file
(TOML or JSON) or ``--set section.key=value`` overrides only what it names. Unknown keys
are rejected, so a typo fails loudly instead of being ignored.
"""
from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError

DEFAULT_CONFIG: dict[str, dict[str, Any]] = {
    "preprocess": {
        # "jieba" (reference implementation) or "rjieba" (same dictionary and algorithm in Rust).
        # The default is chosen by the speed/agreement benchmark recorded in the README.
        "backend": "rjieba",
        "hmm": True,
        "use_stopwords": True,
    },
    "features": {
        "word_ngram_max": 2,
        "word_min_df": 1,
        "char_ngram_min": 1,
        "char_ngram_max": 3,
        "char_min_df": 2,
        "sublinear_tf": True,
        "max_features": None,
    },
    "classifier": {
        # "linear_svc" (calibrated), "logistic_regression" or "sgd" (calibrated).
        "type": "linear_svc",
        "C": 0.5,
        "class_weight": "balanced",
        # Probability-like scores for estimators without predict_proba: "temperature" (one
        # temperature for the softmax of the decision values: multiclass by design, and measured
        # faster and better calibrated than the alternatives here), "sigmoid" (Platt, one-vs-rest)
        # or "isotonic".
        "calibration": "temperature",
        "calibration_folds": 3,
        "max_iter": 5000,
        # Stopping tolerance of the solver; 1e-4 is scikit-learn's default for LinearSVC.
        "tol": 1e-4,
        # Processes for the calibration folds (they are independent fits); 1 = no parallelism.
        "n_jobs": 1,
        "random_state": 0,
    },
    "evaluation": {
        "cv_folds": 5,
        "bootstrap_samples": 1000,
        "low_confidence": 0.5,
        "random_state": 0,
    },
}

CLASSIFIER_TYPES = ("linear_svc", "logistic_regression", "sgd")
BACKENDS = ("jieba", "rjieba")


def merge_config(overrides: Mapping[str, Any] | None = None, base: Mapping[str, Any] | None = None) -> dict:
    """Return ``base`` (default: DEFAULT_CONFIG) updated with ``overrides``, validated."""
    config = copy.deepcopy(dict(base) if base is not None else DEFAULT_CONFIG)
    for section, values in (overrides or {}).items():
        if section not in DEFAULT_CONFIG:
            raise ConfigError(f"unknown config section {section!r}; known: {', '.join(DEFAULT_CONFIG)}")
        if not isinstance(values, Mapping):
            raise ConfigError(f"config section {section!r} must be a table of key = value")
        for key, value in values.items():
            if key not in DEFAULT_CONFIG[section]:
                known = ", ".join(DEFAULT_CONFIG[section])
                raise ConfigError(f"unknown config key {section}.{key}; known keys in [{section}]: {known}")
            config.setdefault(section, {})[key] = value
    validate_config(config)
    return config


def validate_config(config: Mapping[str, Any]) -> None:
    clf = config["classifier"]
    if clf["type"] not in CLASSIFIER_TYPES:
        raise ConfigError(f"classifier.type is {clf['type']!r}; choose one of {', '.join(CLASSIFIER_TYPES)}")
    if config["preprocess"]["backend"] not in BACKENDS:
        raise ConfigError(
            f"preprocess.backend is {config['preprocess']['backend']!r}; choose one of {', '.join(BACKENDS)}"
        )
    feats = config["features"]
    if not 1 <= feats["char_ngram_min"] <= feats["char_ngram_max"]:
        raise ConfigError("features.char_ngram_min must be >= 1 and <= features.char_ngram_max")
    if feats["word_ngram_max"] < 1:
        raise ConfigError("features.word_ngram_max must be >= 1")
    if clf["calibration"] not in ("temperature", "sigmoid", "isotonic"):
        raise ConfigError("classifier.calibration must be 'temperature', 'sigmoid' or 'isotonic'")


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> dict:
    """Read a TOML or JSON config file (optional) and ``section.key=value`` overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not a valid TOML/JSON config: {exc}") from None
    for item in overrides or []:
        dotted, sep, raw = item.partition("=")
        section, dot, key = dotted.strip().partition(".")
        if not sep or not dot:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        data.setdefault(section, {})[key] = _parse_value(raw.strip())
    return merge_config(data)


def _parse_value(raw: str) -> Any:
    """Read an override value as JSON where it parses (numbers, true, null), else as text."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw
