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
        # Convert traditional characters to simplified before anything else (OpenCC t2s):
        # traditional-script mirrors of reports are common on the web.
        "to_simplified": True,
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
        # Column of the training table whose groups the calibration folds keep apart: "doc_id"
        # (the report), or a writer/unit column when the data has one, which gives scores that
        # hold up on writers the model has not seen. Without the column: an error, naming it.
        "calibration_by": "doc_id",
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

# Batch prediction's task size, in paragraphs: large enough that per-task overhead (pickling,
# scheduling, one vectorizer call, one Parquet row group) is a few percent of the work, small
# enough that the few tasks in flight per worker stay small. Measured on 200,000 paragraphs, 2
# workers: 4000 rather than 1000 takes 2–4 % off the local engine and 6–9 % off Dask, whose every
# task is a few messages between client, scheduler and worker; a task is then up to about half a
# second of one core's work. Here, not in batch.py, so the command line can show it without
# importing pandas.
DEFAULT_CHUNK_SIZE = 4000

CLASSIFIER_TYPES = ("linear_svc", "logistic_regression", "sgd")
BACKENDS = ("jieba", "rjieba")
CALIBRATIONS = ("temperature", "sigmoid", "isotonic")


# What each setting may hold: ("int"|"number"|"bool"|"str"|"choice", constraint, may be None).
# One table, so a value is checked the same way whether it comes from a TOML file, --set or
# the Python API, and the message says what is allowed.
_INT, _NUM = "int", "number"
SETTINGS_SCHEMA: dict[str, dict[str, tuple]] = {
    "preprocess": {"backend": ("choice", BACKENDS, False), "hmm": ("bool", None, False),
                   "use_stopwords": ("bool", None, False), "to_simplified": ("bool", None, False)},
    "features": {"word_ngram_max": (_INT, (1, 5), False), "word_min_df": (_INT, (1, None), False),
                 "char_ngram_min": (_INT, (1, 6), False), "char_ngram_max": (_INT, (1, 6), False),
                 "char_min_df": (_INT, (1, None), False), "sublinear_tf": ("bool", None, False),
                 "max_features": (_INT, (1, None), True)},
    "classifier": {"type": ("choice", CLASSIFIER_TYPES, False), "C": (_NUM, (0, None), False),
                   "class_weight": ("choice", ("balanced",), True), "calibration": ("choice", CALIBRATIONS, False),
                   "calibration_folds": (_INT, (2, 20), False), "calibration_by": ("str", None, False),
                   "max_iter": (_INT, (1, None), False), "tol": (_NUM, (0, None), False),
                   "n_jobs": (_INT, (-1, None), False), "random_state": (_INT, (0, None), True)},
    "evaluation": {"cv_folds": (_INT, (2, None), False), "bootstrap_samples": (_INT, (1, None), False),
                   "low_confidence": (_NUM, (0, 1), False), "random_state": (_INT, (0, None), False)},
}
# Numbers that must be strictly above their lower bound (a C or tolerance of 0 means nothing).
_STRICT_LOWER = {("classifier", "C"), ("classifier", "tol")}


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
    for section, keys in DEFAULT_CONFIG.items():  # a config saved before a key existed gets its default
        for key, value in keys.items():
            config.setdefault(section, {}).setdefault(key, copy.deepcopy(value))
    validate_config(config)
    return config


def _check_setting(section: str, key: str, value: Any) -> None:
    kind, allowed, nullable = SETTINGS_SCHEMA[section][key]
    name = f"{section}.{key}"
    if value is None:
        if nullable:
            return
        raise ConfigError(f"{name} is null; it needs a value ({_describe(section, key)})")
    if kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "str":
        ok = isinstance(value, str) and bool(value.strip())
    elif kind == "choice":
        ok = isinstance(value, str) and value in allowed
    else:
        ok = not isinstance(value, bool) and (isinstance(value, int) if kind == _INT else isinstance(value, (int, float)))
        if ok and kind == _NUM and value != value:  # NaN
            ok = False
        if ok:
            low, high = allowed
            strict = (section, key) in _STRICT_LOWER
            ok = (low is None or (value > low if strict else value >= low)) and (high is None or value <= high)
    if not ok:
        allowed_text = _describe(section, key)
        advice = f"choose {allowed_text}" if kind == "choice" else f"it must be {allowed_text}"
        raise ConfigError(f"{name} = {value!r} is not allowed; {advice}")


def _describe(section: str, key: str) -> str:
    kind, allowed, nullable = SETTINGS_SCHEMA[section][key]
    if kind == "bool":
        text = "true or false"
    elif kind == "str":
        text = "a non-empty text (a column name)"
    elif kind == "choice":
        text = "one of " + ", ".join(repr(a) for a in allowed)
    else:
        low, high = allowed
        noun = "an integer" if kind == _INT else "a number"
        strict = (section, key) in _STRICT_LOWER
        bounds = []
        if low is not None:
            bounds.append(f"> {low}" if strict else f">= {low}")
        if high is not None:
            bounds.append(f"<= {high}")
        text = noun + (" " + " and ".join(bounds) if bounds else "")
    return text + (" (or null)" if nullable else "")


def validate_config(config: Mapping[str, Any]) -> None:
    """Check every setting's type and range, then the settings that constrain each other."""
    for section, keys in SETTINGS_SCHEMA.items():
        for key in keys:
            _check_setting(section, key, config[section][key])
    if config["classifier"]["n_jobs"] == 0:
        raise ConfigError("classifier.n_jobs = 0 is not allowed; it must be a number of processes >= 1, or -1 for all cores")
    feats = config["features"]
    if feats["char_ngram_min"] > feats["char_ngram_max"]:
        raise ConfigError(f"features.char_ngram_min = {feats['char_ngram_min']} is above features.char_ngram_max = "
                          f"{feats['char_ngram_max']}; it must be <= it")


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
