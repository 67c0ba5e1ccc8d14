"""Choose the default model's configuration by grouped cross-validation on the bundled corpus.

    python models/select_config.py [--folds 5] [--by writer] [--out models/selection.csv]

Each candidate is scored by grouped K-fold CV with folds split by **writer** (no writer on both
sides: the model is judged on people it has never read, which is what real reports are; split
by document, every fold would still hold other reports by the same writers, and settings that
memorise a writer's habits would look best). The sample report is never looked at: choosing on
the one real document we hold would tune the model to it. The winner is the best mean macro-F1;
ties (within one standard error) go to the simpler/faster candidate listed first. ECE of the
pooled out-of-fold scores is reported beside it. Copy the winner into ``models/default.toml``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import merge_config
from pipeline.evaluation import calibration_table, cross_validate_config
from pipeline.model import build_pipeline, calibration_groups
from pipeline.paths import LABELS_FILE

# Candidates, simplest (smallest) first. Only settings that change what the model can learn (or how its
# scores are calibrated) are varied. All calibrate on folds that hold whole writers out.
_SVC = {"type": "linear_svc", "calibration_by": "writer"}
CANDIDATES: dict[str, dict] = {
    # a pruned vocabulary first: the smallest model (a third of the folder), so it wins ties
    "svc_C0.5_min_df": {"classifier": {**_SVC, "C": 0.5}, "features": {"char_min_df": 5, "word_min_df": 2}},
    "svc_C0.5": {"classifier": {**_SVC, "C": 0.5}},
    "svc_C0.25": {"classifier": {**_SVC, "C": 0.25}},
    "svc_C0.1": {"classifier": {**_SVC, "C": 0.1}},
    "svc_C1": {"classifier": {**_SVC, "C": 1.0}},
    "svc_C0.5_unweighted": {"classifier": {**_SVC, "C": 0.5, "class_weight": None}},
    "svc_C0.5_calibrated_by_document": {"classifier": {**_SVC, "C": 0.5, "calibration_by": "doc_id"}},
    "svc_C0.5_words1": {"classifier": {**_SVC, "C": 0.5}, "features": {"word_ngram_max": 1}},
    "logreg_C10": {"classifier": {"type": "logistic_regression", "C": 10.0, "calibration_by": "writer"}},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--by", default="writer", help="column the folds are grouped by (default: writer)")
    parser.add_argument("--data", type=Path, default=LABELS_FILE)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "selection.csv")
    args = parser.parse_args()
    frame = pd.read_csv(args.data, dtype={"doc_id": str, "writer": str})
    rows = []
    for name, overrides in CANDIDATES.items():
        config = merge_config(overrides)
        start = time.perf_counter()
        result = cross_validate_config(build_pipeline(config), frame["text"].tolist(), frame["label"].tolist(),
                                       frame[args.by].astype(str).tolist(), k=args.folds, random_state=0,
                                       calibration_groups=calibration_groups(frame, config))
        ece = calibration_table(frame["label"].tolist(), result["oof_proba"], result["labels"])["ece"]
        rows.append({
            "candidate": name,
            "accuracy_mean": result["accuracy"]["mean"], "accuracy_std": result["accuracy"]["std"],
            "macro_f1_mean": result["macro_f1"]["mean"], "macro_f1_std": result["macro_f1"]["std"],
            "ece": ece, "seconds": time.perf_counter() - start,
        })
        print(f"{name:22s} acc {rows[-1]['accuracy_mean']:.4f} ± {rows[-1]['accuracy_std']:.4f}  "
              f"macro-F1 {rows[-1]['macro_f1_mean']:.4f} ± {rows[-1]['macro_f1_std']:.4f}  ECE {ece:.4f}  "
              f"{rows[-1]['seconds']:.0f}s",
              flush=True)
    table = pd.DataFrame(rows)
    best = table["macro_f1_mean"].max()
    # One standard error of the best candidate's fold scores.
    best_row = table.loc[table["macro_f1_mean"].idxmax()]
    se = best_row["macro_f1_std"] / np.sqrt(args.folds)
    winner = table[table["macro_f1_mean"] >= best - se].iloc[0]
    table["chosen"] = table["candidate"] == winner["candidate"]
    table.to_csv(args.out, index=False, float_format="%.4f")
    print(f"\nchosen: {winner['candidate']} (best macro-F1 {best:.4f}; within one SE {se:.4f}) → {args.out}")


if __name__ == "__main__":
    main()
