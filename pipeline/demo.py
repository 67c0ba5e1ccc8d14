"""The demo: the whole job, end to end, on the bundled data, in a few seconds.

Train on the bundled corpus (``data/labels.csv``) with the default model's configuration
(``models/default.toml``) — which rebuilds ``models/default`` exactly, as its card shows —
evaluate on the one real report we hold (``data/sample_labels.csv``, never used for training),
then classify that report's raw text and print its paragraphs with their labels.
"""
from __future__ import annotations

import sys
import time

import pandas as pd

from . import api
from .batch import classify_frame
from .errors import InputError
from .evaluation import format_metrics
from .config import load_config
from .paths import DEFAULT_MODEL, DEFAULT_MODEL_CONFIG, LABELS_FILE, SAMPLE_LABELS, SAMPLE_REPORT
from .persistence import CARD_FILE, read_card
from .reading import read_report


def run_demo(quiet: bool = False, width: int = 60) -> dict:
    for path in (LABELS_FILE, SAMPLE_LABELS, SAMPLE_REPORT):
        if not path.exists():
            raise InputError(f"{path}: bundled data missing; the demo runs from a source checkout (pip install -e .)")
    log = (lambda *_: None) if quiet else (lambda msg: print(msg, file=sys.stderr))
    start = time.perf_counter()
    model = api.train(LABELS_FILE, config=load_config(DEFAULT_MODEL_CONFIG))
    log(f"trained on {model.card['training_data']['rows']} paragraphs in {time.perf_counter() - start:.1f}s")
    if (DEFAULT_MODEL / CARD_FILE).exists():
        card = read_card(DEFAULT_MODEL)
        same = card["training_data"] == model.card["training_data"] and card["config"] == model.config
        log(f"same data and config as {DEFAULT_MODEL.relative_to(DEFAULT_MODEL.parent.parent)}: "
            f"{'yes' if same else 'no — the bundled data or config changed since it was trained'}")

    metrics = api.evaluate(model, SAMPLE_LABELS)
    print(f"== Evaluation on the real sample report ({SAMPLE_LABELS.name}, never trained on)")
    print(format_metrics(metrics))

    document = read_report(SAMPLE_REPORT)
    predicted = classify_frame(model, document.to_frame())
    # The raw file splits into the same paragraphs the labels were made on (a test checks this),
    # so gold labels line up by position; a cross marks the paragraphs the model gets wrong.
    gold = pd.read_csv(SAMPLE_LABELS)["label"].tolist()
    print(f"\n== {SAMPLE_REPORT.name}: {len(predicted)} paragraphs (✗ = differs from the gold label)")
    print(f"{'#':>3}  {'role':8s} {'label':12s} {'score':>5s}    {'gold':12s} text")
    for row, gold_label in zip(predicted.itertuples(), gold):
        text = row.text if len(row.text) <= width else row.text[: width - 1] + "…"
        mark = " " if row.label == gold_label else "✗"
        print(f"{row.para_index:>3}  {row.role:8s} {row.label:12s} {row.score:5.2f} {mark}  {gold_label:12s} {text}")
    return metrics
