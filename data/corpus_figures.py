"""The corpus's own figures, set beside those of real reports, as Markdown for the datasheet.

    python data/corpus_figures.py [--labels data/labels.csv]

The real-report column is copied from ``../shared/real_reports.md`` (measured on 810 real
paragraphs the model is judged on, whose text we never see); everything else is computed here
from ``labels.csv``, so the datasheet's corpus figures can be regenerated after any change.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
LABELS = ("politics", "ideology", "organization", "work_style", "discipline", "performance", "other")
ROLES = ("frame", "problem", "measure", "cause")
CUES = ("政治", "纪律", "学习", "作风", "组织", "责任", "整改", "群众", "发展", "意识形态", "监督")

# From ../shared/real_reports.md (real reports: 810 paragraphs, 117 documents).
REAL = {
    "percentiles": (9, 16, 70, 154, 231),
    "short": 0.30, "long": 0.14,
    "roles": {"frame": 0.48, "problem": 0.34, "measure": 0.16, "cause": 0.02},
    "labels": {"politics": 0.08, "ideology": 0.11, "organization": 0.09, "work_style": 0.10, "discipline": 0.09,
               "performance": 0.06, "other": 0.46},
    "cue": {  # share of each label's paragraphs containing the cue, percent
        "政治": (70, 29, 10, 2, 19, 2, 17), "纪律": (5, 3, 3, 0, 24, 0, 3), "学习": (14, 68, 15, 2, 9, 6, 9),
        "作风": (6, 4, 1, 8, 7, 2, 3), "组织": (11, 21, 44, 1, 12, 6, 22), "责任": (5, 9, 10, 5, 24, 10, 20),
        "整改": (11, 12, 3, 1, 16, 19, 61), "群众": (3, 4, 11, 16, 9, 8, 4), "发展": (12, 13, 12, 4, 4, 19, 7),
        "意识形态": (11, 3, 0, 0, 0, 2, 0), "监督": (2, 3, 4, 2, 12, 0, 4),
    },
}


def figures(frame: pd.DataFrame) -> str:
    lengths = frame["text"].astype(str).str.len()
    pct = np.percentile(lengths, [10, 25, 50, 75, 90]).round().astype(int)
    roles = frame["role"].value_counts(normalize=True)
    labels = frame["label"].value_counts(normalize=True)
    by_role = frame.assign(n=lengths).groupby("role")["n"].median()
    out = [f"Corpus: {frame['doc_id'].nunique()} documents by {frame['writer'].nunique()} writers, "
           f"{len(frame):,} paragraphs.", "",
           "| measure | real reports | corpus |", "|---|---|---|",
           f"| length, characters: 10/25/50/75/90th percentile | {' / '.join(map(str, REAL['percentiles']))} | "
           f"{' / '.join(map(str, pct))} |",
           f"| paragraphs ≤ 20 characters | {REAL['short']:.0%} | {(lengths <= 20).mean():.0%} |",
           f"| paragraphs ≥ 200 characters | {REAL['long']:.0%} | {(lengths >= 200).mean():.0%} |",
           "| role mix frame / problem / measure / cause | "
           + " / ".join(f"{REAL['roles'][r]:.0%}" for r in ROLES) + " | "
           + " / ".join(f"{roles.get(r, 0):.0%}" for r in ROLES) + " |",
           f"| median length of measure / cause paragraphs | 23 / 165 | {by_role.get('measure', 0):.0f} / "
           f"{by_role.get('cause', 0):.0f} |",
           "| label mix " + " / ".join(LABELS) + " | " + " / ".join(f"{REAL['labels'][l]:.0%}" for l in LABELS)
           + " | " + " / ".join(f"{labels.get(l, 0):.0%}" for l in LABELS) + " |", "",
           "Share of each label's paragraphs containing a cue word, percent (real → corpus):", "",
           "| cue | " + " | ".join(LABELS) + " |", "|---|" + "---|" * len(LABELS)]
    for cue in CUES:
        has = frame["text"].astype(str).str.contains(cue, regex=False)
        ours = [100 * has[frame["label"] == l].mean() for l in LABELS]
        out.append(f"| {cue} | " + " | ".join(f"{r} → {o:.0f}" for r, o in zip(REAL["cue"][cue], ours)) + " |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=HERE / "labels.csv")
    args = parser.parse_args()
    frame = pd.read_csv(args.labels, dtype={"doc_id": str, "writer": str})
    print(figures(frame))


if __name__ == "__main__":
    main()
