"""Classify the paragraphs of Chinese party-building reports by topic.

The stages are modules: ``reading`` (files → paragraphs), ``preprocess`` (normalise,
segment), ``features`` (TF-IDF), ``classifier``, ``model`` and ``persistence``,
``evaluation``, ``batch`` (predict over folders and tables). The API below is what the
CLI (``python -m pipeline``) calls.
"""
from .config import DEFAULT_CONFIG, load_config
from .errors import ConfigError, InputError, ModelError, PipelineError

# scikit-learn, pandas and jieba take over a second to import; ``import pipeline`` (and so the
# command line's --help) must not pay that until a name that needs them is used.
_LAZY = {"train": "api", "load": "api", "convert": "api", "evaluate": "api", "evaluation_report": "api",
         "cross_validation_report": "api", "ingest": "api", "TopicModel": "model", "build_pipeline": "model"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "train", "load", "convert", "evaluate", "evaluation_report", "cross_validation_report", "ingest", "TopicModel", "build_pipeline", "DEFAULT_CONFIG", "load_config",
    "PipelineError", "InputError", "ConfigError", "ModelError",
]
__version__ = "0.1.0"
