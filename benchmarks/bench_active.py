"""Does the labelling page's order help? An analyst simulated with an oracle, on writers held out.

    python benchmarks/bench_active.py [--writers a1,a2,...] [--budgets 50,100,200] [--splits 3] [--seeds 3] [--jobs 2]

For each held-out writer, the base model trains on every other writer (the default config,
models/default.toml). The writer's documents are split in two halves: the analyst's own reports
(the pool they label) and *other* documents of the same writer (the test set, never labelled).
The oracle gives the gold label of each paragraph the order offers; after 50, 100 and 200 labels
the model is retrained on the base data plus those labels (as the page's Retrain does) and
scored on the test half. Orders:

* ``uncertain``: the page's order (``pipeline.labelling.queue``: smallest margin first, spread
  across documents), re-ranked by each retrained model, as the analyst retraining at 50 and 100
  would see it;
* ``random``: paragraphs of the pool in random order (``--seeds`` shuffles per split);
* ``document``: reading order, as labelling in a spreadsheet goes.

Each writer is split ``--splits`` ways (different halves). Figures are gains in accuracy points
over the base model on the same test half, averaged over writers and splits, with 95 % intervals
from a bootstrap over writers (splits of one writer are not independent), and the paired
difference uncertain − random. Writers with fewer than ~400 paragraphs (a7–a10: 5 reports each)
cannot give 200 labels from half their documents, so the default is a1–a6; they are the
writers whose genres the first six lack, and ``--writers a7,a8,a9,a10 --budgets 25,50,100``
measures them on what they can give.

    python benchmarks/bench_active.py --jobs 2 --out benchmarks/results/bench_active.json
    python benchmarks/bench_active.py --jobs 2 --writers a7,a8,a9,a10 --budgets 25,50,100 \
        --out benchmarks/results/bench_active_new_writers.json
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from pipeline.labelling.queue import margins, uncertain_order  # noqa: E402
from pipeline.labelling.training import combine  # noqa: E402

BUDGETS = (50, 100, 200)
ORDERS = ("uncertain", "random", "document")
RESULTS = REPO / "benchmarks" / "results" / "bench_active.json"


def load_corpus(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    if "writer" not in frame.columns:  # older copies of the corpus: the writer is the doc_id's prefix
        frame["writer"] = frame["doc_id"].str.split("_").str[0]
    return frame


def _config():
    from pipeline.config import load_config
    from pipeline.paths import DEFAULT_MODEL_CONFIG

    return load_config(DEFAULT_MODEL_CONFIG)


def _fit_score(config, base, labelled: pd.DataFrame, test: pd.DataFrame, pool: pd.DataFrame | None = None):
    """Train on base + labelled; accuracy on test, and the pool's scores when asked."""
    import pipeline

    frame, _ = combine(base, labelled, config["classifier"]["calibration_by"])
    model = pipeline.train(frame, config=config)
    accuracy = float((model.predict(test["text"].tolist()) == test["label"].to_numpy()).mean())
    proba = model.predict_proba(pool["text"].tolist()) if pool is not None else None
    return accuracy, proba


def run_split(corpus: pd.DataFrame, writer: str, split: int, budgets=BUDGETS, seeds: int = 3,
              base_limit: int | None = None, orders=ORDERS) -> dict:
    """One held-out writer, one split of its documents: accuracy on the test half after each
    budget of labels, per order (random: one entry per seed)."""
    rng = np.random.default_rng(1000 * split + sum(map(ord, writer)))
    config = _config()
    base = corpus[corpus["writer"] != writer][["text", "label", "doc_id"]].reset_index(drop=True)
    if base_limit:
        base = base.sample(min(base_limit, len(base)), random_state=split).reset_index(drop=True)
    docs = sorted(corpus.loc[corpus["writer"] == writer, "doc_id"].unique())
    rng.shuffle(docs)
    half = (len(docs) + 1) // 2  # the larger half is the pool: 9 of 18 reports, 3 of 5
    pool_docs, test_docs = sorted(docs[:half]), sorted(docs[half:])
    mine = corpus[corpus["writer"] == writer]
    pool = mine[mine["doc_id"].isin(pool_docs)].sort_values(["doc_id", "para_index"]).reset_index(drop=True)
    test = mine[mine["doc_id"].isin(test_docs)].reset_index(drop=True)
    budgets = [b for b in budgets if b <= len(pool)]
    started = time.perf_counter()
    base_accuracy, proba = _fit_score(config, base, pool.iloc[:0], test, pool)
    result = {"writer": writer, "split": split, "pool_documents": len(pool_docs), "pool_paragraphs": len(pool),
              "test_documents": len(test_docs), "test_paragraphs": len(test), "base_rows": len(base),
              "base_accuracy": base_accuracy, "budgets": budgets, "accuracy": {}}

    def columns(rows):
        return pool.iloc[rows][["text", "label", "doc_id"]]

    if "uncertain" in orders:
        chosen: list[int] = []
        scores, accuracies = proba, []
        for budget in budgets:
            taken = set(chosen)
            left = [i for i in range(len(pool)) if i not in taken]
            order = uncertain_order(margins(scores[left]), pool["doc_id"].to_numpy()[left])
            chosen += [left[j] for j in order[: budget - len(chosen)]]
            accuracy, scores = _fit_score(config, base, columns(chosen), test, pool)
            accuracies.append(accuracy)
        result["accuracy"]["uncertain"] = accuracies
    if "document" in orders:
        result["accuracy"]["document"] = [_fit_score(config, base, columns(list(range(b))), test)[0] for b in budgets]
    if "random" in orders:
        runs = []
        for seed in range(seeds):
            order = np.random.default_rng(seed * 7919 + split).permutation(len(pool)).tolist()
            runs.append([_fit_score(config, base, columns(order[:b]), test)[0] for b in budgets])
        result["accuracy"]["random"] = runs
    result["seconds"] = time.perf_counter() - started
    return result


def _gains(results: list[dict], order: str, k: int) -> dict[str, list[float]]:
    """Per writer, the gains (points) of each split at budget index k."""
    out: dict[str, list[float]] = {}
    for r in results:
        acc = r["accuracy"][order]
        value = np.mean([run[k] for run in acc]) if order == "random" else acc[k]
        out.setdefault(r["writer"], []).append(100 * (value - r["base_accuracy"]))
    return out


def _bootstrap(per_writer: dict[str, list[float]], n: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean over all splits, and a 95 % interval from resampling writers."""
    writers = list(per_writer)
    values = [np.asarray(per_writer[w]) for w in writers]
    mean = float(np.mean(np.concatenate(values)))
    if len(writers) < 2:
        return mean, float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = []
    for _ in range(n):
        pick = rng.integers(0, len(writers), len(writers))
        means.append(np.mean(np.concatenate([values[i] for i in pick])))
    low, high = np.percentile(means, [2.5, 97.5])
    return mean, float(low), float(high)


def summarise(results: list[dict], budgets=BUDGETS) -> dict:
    budgets = [b for b in budgets if all(b in r["budgets"] for r in results)]
    summary = {"base_accuracy": float(np.mean([r["base_accuracy"] for r in results])), "budgets": budgets,
               "gain_points": {}, "accuracy": {}, "uncertain_minus_random": []}
    orders = [o for o in ORDERS if all(o in r["accuracy"] for r in results)]
    for order in orders:
        summary["gain_points"][order] = []
        summary["accuracy"][order] = []
        for k, budget in enumerate(budgets):
            mean, low, high = _bootstrap(_gains(results, order, k))
            summary["gain_points"][order].append({"labels": budget, "mean": mean, "low": low, "high": high})
            summary["accuracy"][order].append(summary["base_accuracy"] + mean / 100)
    if {"uncertain", "random"} <= set(orders):
        for k, budget in enumerate(budgets):
            u, r = _gains(results, "uncertain", k), _gains(results, "random", k)
            diff = {w: [a - b for a, b in zip(u[w], r[w])] for w in u}
            mean, low, high = _bootstrap(diff)
            summary["uncertain_minus_random"].append({"labels": budget, "mean": mean, "low": low, "high": high})
    return summary


def table(summary: dict, n_writers: int, n_splits: int) -> str:
    lines = [f"base model (other writers only): accuracy {summary['base_accuracy']:.3f} on the held-out writers' "
             f"test halves; gains in points, mean over {n_writers} writers × {n_splits} splits [95 % interval, "
             "bootstrap over writers]", "",
             "| labels | " + " | ".join(summary["gain_points"]) + " | uncertain − random |",
             "|---:|" + "---:|" * (len(summary["gain_points"]) + 1)]
    for k, budget in enumerate(summary["budgets"]):
        cells = [f"{g[k]['mean']:+.1f} [{g[k]['low']:+.1f}, {g[k]['high']:+.1f}]" for g in summary["gain_points"].values()]
        diff = summary["uncertain_minus_random"]
        cells.append(f"{diff[k]['mean']:+.1f} [{diff[k]['low']:+.1f}, {diff[k]['high']:+.1f}]" if diff else "–")
        lines.append(f"| {budget} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run(writers=None, splits: int = 3, seeds: int = 3, budgets=BUDGETS, jobs: int = 1, base_limit: int | None = None,
        data: Path = REPO / "data" / "labels.csv", orders=ORDERS) -> dict:
    corpus = load_corpus(data)
    if writers is None:
        counts = corpus.groupby("writer")["doc_id"].nunique()
        writers = sorted(w for w, n in counts.items() if n >= 10)
    jobs_list = [(w, s) for w in writers for s in range(splits)]
    started = time.perf_counter()
    if jobs > 1:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=jobs)(delayed(run_split)(corpus, w, s, budgets, seeds, base_limit, orders)
                                        for w, s in jobs_list)
    else:
        results = [run_split(corpus, w, s, budgets, seeds, base_limit, orders) for w, s in jobs_list]
    summary = summarise(results, budgets)
    return {"settings": {"writers": list(writers), "splits": splits, "random_seeds": seeds, "budgets": list(budgets),
                         "base_limit": base_limit, "config": "models/default.toml",
                         "data": str(Path(data).resolve().relative_to(REPO)) if Path(data).resolve().is_relative_to(REPO)
                         else str(data)},
            "summary": summary, "splits": results, "table": table(summary, len(writers), splits),
            "seconds": time.perf_counter() - started,
            "machine": f"python {platform.python_version()}, {platform.machine()}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "data" / "labels.csv",
                        help="labelled table with doc_id, para_index, text, label and a writer column (or doc_ids "
                             "that start with the writer: a1_…)")
    parser.add_argument("--writers", help="held-out writers, comma-separated (default: those with at least 10 reports)")
    parser.add_argument("--splits", type=int, default=3, help="splits of each writer's reports into pool/test halves")
    parser.add_argument("--seeds", type=int, default=3, help="random orders per split")
    parser.add_argument("--budgets", default=",".join(map(str, BUDGETS)),
                        help="numbers of labels to score after, comma-separated (default: 50,100,200)")
    parser.add_argument("--jobs", type=int, default=1, help="processes (splits run in parallel)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results")
    args = parser.parse_args()
    budgets = tuple(int(b) for b in args.budgets.split(","))
    result = run(writers=args.writers.split(",") if args.writers else None, splits=args.splits, seeds=args.seeds,
                 budgets=budgets, jobs=args.jobs, data=args.data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(result["table"])
    print(f"\n{result['seconds']:.0f} s ({result['machine']}); details in {args.out}")


if __name__ == "__main__":
    main()
