"""Classify the paragraphs of Chinese party-building reports by topic.

The stages are modules: ``reading`` (files → paragraphs), ``preprocess`` (normalise,
segment), ``features`` (TF-IDF), ``classifier``, ``model`` and ``persistence``,
``evaluation``, ``batch`` (predict over folders and tables). The API below is what the
CLI (``python -m pipeline``) calls.
"""
from .api import cross_validation_report, evaluate, evaluation_report, ingest, load, train
from .config import DEFAULT_CONFIG, load_config
from .errors import ConfigError, InputError, ModelError, PipelineError
from .model import TopicModel, build_pipeline

__all__ = [
    "train", "load", "evaluate", "evaluation_report", "cross_validation_report", "ingest", "TopicModel", "build_pipeline", "DEFAULT_CONFIG", "load_config",
    "PipelineError", "InputError", "ConfigError", "ModelError",
]
__version__ = "0.1.0"
