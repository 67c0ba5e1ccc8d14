"""Where the bundled data and models live, in one place.

These are paths in the source checkout (the README installs with ``pip install -e .``).
"""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
CORPUS_DIR = DATA_DIR / "corpus"
LABELS_FILE = DATA_DIR / "labels.csv"
SAMPLE_REPORT = DATA_DIR / "sample_report.txt"
SAMPLE_LABELS = DATA_DIR / "sample_labels.csv"
MODELS_DIR = REPO_ROOT / "models"
DEFAULT_MODEL = MODELS_DIR / "default"
DEFAULT_MODEL_CONFIG = MODELS_DIR / "default.toml"
