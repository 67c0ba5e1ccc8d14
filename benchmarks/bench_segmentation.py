"""jieba vs rjieba: segmentation speed and token agreement, on the same texts in one run.

    python benchmarks/bench_segmentation.py [--data ../shared/thucnews/train.txt] [--repeat 3]

Both backends load the same user dictionary (pipeline/resources/userdict.txt) through
``pipeline.preprocess.Segmenter``; stopword filtering is off so the raw cuts are compared.
Agreement: share of texts cut identically, and F1 of token spans (start, end) pooled over all texts.
"""
from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import pandas as pd

from pipeline.preprocess import Segmenter, normalize_text

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "thucnews" / "train.txt"


def spans(tokens: list[str]) -> set[tuple[int, int]]:
    out, pos = set(), 0
    for token in tokens:
        out.add((pos, pos + len(token)))
        pos += len(token)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="text<TAB>label file, or a CSV with a text column")
    parser.add_argument("--repeat", type=int, default=3, help="timing repeats; the best is reported")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N texts")
    args = parser.parse_args()
    if args.data.suffix == ".csv":
        texts = pd.read_csv(args.data, dtype=str)["text"].dropna().tolist()
    else:
        texts = pd.read_csv(args.data, sep="\t", header=None, quoting=3, dtype=str)[0].dropna().tolist()
    texts = [normalize_text(t) for t in texts[: args.limit]]
    chars = sum(map(len, texts))
    cuts, speed = {}, {}
    for backend in ("jieba", "rjieba"):
        seg = Segmenter(backend, use_stopwords=False).warm_up()
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            cuts[backend] = seg.segment_many(texts)
            best = min(best, time.perf_counter() - start)
        speed[backend] = chars / best
    same = sum(a == b for a, b in zip(cuts["jieba"], cuts["rjieba"]))
    tp = n_a = n_b = 0
    for a, b in zip(cuts["jieba"], cuts["rjieba"]):
        sa, sb = spans(a), spans(b)
        tp += len(sa & sb)
        n_a += len(sa)
        n_b += len(sb)
    f1 = 2 * tp / (n_a + n_b)
    print(f"data: {args.data} ({len(texts)} texts, {chars} characters); python {platform.python_version()}, {platform.machine()}")
    print(f"{'backend':8s} {'chars/s':>12s} {'tokens':>10s}")
    for backend in ("jieba", "rjieba"):
        print(f"{backend:8s} {speed[backend]:12,.0f} {sum(map(len, cuts[backend])):10d}")
    print(f"rjieba / jieba speed: {speed['rjieba'] / speed['jieba']:.1f}x")
    print(f"identical segmentation: {same / len(texts):.4f} of texts; token-span F1: {f1:.4f}")


if __name__ == "__main__":
    main()
