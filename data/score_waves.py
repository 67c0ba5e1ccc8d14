"""The shift proxy: score each new wave of writers with the model of the day, before it joins.

    python data/score_waves.py [--config models/default.toml] [--out data/waves.csv]

A wave is a set of writers added to the corpus together; ``WAVES`` below lists them in the
order they joined. Wave k is scored by a model trained on everything that had joined before it
(the first wave by the corpus as it stood), with the config of the day, so its figures say how
the model does on writers it has never seen. Accuracy and macro-F1 come with 95 % intervals
(documents resampled); ECE is the expected calibration error of the top score. Both the
trained-before corpus and the wave come from ``annotated/`` as it is now (labels included),
so rerunning reproduces the table.

A proxy that reads high where real reports read low is broken: the point of writing hard,
varied waves is that this table falls toward the real figures (0.78 accuracy, ECE 0.105 at
the time the first wave was written), not that it looks good.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from build_corpus import writer_of  # noqa: E402
from annotated_format import read_annotated  # noqa: E402

# Writers by wave, in the order the waves joined. "base" is the corpus before any wave was
# scored this way (writers a1–a10; their own new-writer check is in data/README.md).
WAVES: dict[str, list[str]] = {
    "base": [f"a{i}" for i in range(1, 11)],
    "w1": ["a11", "a12", "a13", "a14"],
    "w2": ["a15", "a16", "a17", "a18"],
    "w3": ["a19", "a20", "a21", "a22"],
    "w4": ["a23", "a24", "a25", "a26"],
    "w5": ["a27", "a28", "a29", "a30"],
    "w6": ["a31", "a32", "a33", "a34"],
    "w7": ["a35", "a36", "a37", "a38"],
    "w8": ["a39", "a40", "a41", "a42"],
}


def annotated_frame(annotated: Path = HERE / "annotated") -> pd.DataFrame:
    rows = []
    for path in sorted(annotated.glob("*.txt")):
        doc = read_annotated(path)
        doc_id = doc.meta["doc_id"]
        rows += [{"doc_id": doc_id, "para_index": i, "text": text, "label": label, "role": role,
                  "writer": writer_of(doc_id)} for i, (label, role, text) in enumerate(doc.paragraphs)]
    return pd.DataFrame(rows)


def score_waves(config_path: Path, annotated: Path = HERE / "annotated") -> pd.DataFrame:
    import pipeline

    config = pipeline.load_config(config_path)
    frame = annotated_frame(annotated)
    known = {w for writers in WAVES.values() for w in writers}
    unknown = sorted(set(frame["writer"]) - known)
    if unknown:
        raise SystemExit(f"writers {unknown} belong to no wave; add them to WAVES in {__file__}")
    rows, joined = [], list(WAVES["base"])
    for wave, writers in list(WAVES.items())[1:]:
        test = frame[frame["writer"].isin(writers)]
        if test.empty:
            continue
        train = frame[frame["writer"].isin(joined)]
        model = pipeline.train(train, config=config)
        report = pipeline.api.evaluation_report(model, test, max_errors=0)
        iv = report["intervals"]
        top_bin = report["calibration"]["bins"][-1]
        rows.append({
            "wave": wave, "writers": " ".join(writers), "documents": test["doc_id"].nunique(), "paragraphs": len(test),
            "trained_on_paragraphs": len(train), "accuracy": report["accuracy"],
            "accuracy_low": iv["accuracy"]["low"], "accuracy_high": iv["accuracy"]["high"],
            "macro_f1": report["macro_f1"], "ece": report["calibration"]["ece"],
            # the real reports' tell: many paragraphs scored >= 0.9, fewer of them right
            "share_scored_0.9_plus": top_bin["count"] / len(test), "accuracy_scored_0.9_plus": top_bin["accuracy"],
        })
        print(f"{wave}: {len(test)} paragraphs by {', '.join(writers)}, model trained on {len(train)}: "
              f"accuracy {report['accuracy']:.3f} [{iv['accuracy']['low']:.3f}, {iv['accuracy']['high']:.3f}], "
              f"macro-F1 {report['macro_f1']:.3f}, ECE {report['calibration']['ece']:.3f}", flush=True)
        joined += writers
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=HERE.parent / "models" / "default.toml")
    parser.add_argument("--annotated", type=Path, default=HERE / "annotated")
    parser.add_argument("--out", type=Path, default=HERE / "waves.csv")
    args = parser.parse_args()
    table = score_waves(args.config, args.annotated)
    table.to_csv(args.out, index=False, float_format="%.4f")
    print(f"→ {args.out}")


if __name__ == "__main__":
    main()
