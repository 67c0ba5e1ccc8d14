"""Our pipeline against fastText on the same train/eval files, same machine, one run.

    python benchmarks/bench_fasttext.py thucnews --config benchmarks/thucnews.toml [--search]
    python benchmarks/bench_fasttext.py reports [--search]
    python benchmarks/bench_fasttext.py thucnews --limit 500          # smoke run

Each system runs in its own subprocess, so peak memory (ru_maxrss) is its own. Both get the
same normalisation and segmentation (the config's backend, dictionary loaded before timing),
and segmentation is inside every timed step: "train" is raw text → fitted model, "predict"
is raw text → labels. Prediction is single-threaded for both (fastText's multilinePredict is;
BLAS/OpenMP threads are pinned to 1), so texts/s and chars/s are per core. fastText trains
with all cores (its ``thread`` option), which favours it.

fastText's settings are chosen on dev by ``--search`` (grid over wordNgrams, epoch, lr, dim;
written to benchmarks/results/fasttext_search_<dataset>.json and reused by later runs). On
THUCNews dev is the evaluation file itself, as for our config (tuned by tune_thucnews.py), so
both sides are tuned the same way. On the report corpus the search uses a grouped split of
the training documents, never the evaluation documents.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
THUCNEWS = REPO.parent / "shared" / "thucnews"
RESULTS = HERE / "results"

FT_GRID = {"wordNgrams": [1, 2, 3], "epoch": [5, 10, 20], "lr": [0.1, 0.5, 1.0], "dim": [50, 100]}
FT_DEFAULT = {"wordNgrams": 2, "epoch": 10, "lr": 0.5, "dim": 100}
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


# ---- data ---------------------------------------------------------------------------------------

def read_tsv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", header=None, quoting=3, dtype=str, names=["text", "label"], keep_default_na=False)


def load_dataset(name: str, limit: int | None, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, eval) frames with text, label (and doc_id for the report corpus)."""
    if name == "thucnews":
        train, dev = read_tsv(THUCNEWS / "train.txt"), read_tsv(THUCNEWS / "dev.txt")
        if limit:
            train, dev = train.sample(min(limit, len(train)), random_state=seed), dev.sample(min(limit, len(dev)), random_state=seed)
        return train.reset_index(drop=True), dev.reset_index(drop=True)
    if name == "reports":
        from pipeline.evaluation import grouped_folds

        frame = pd.read_csv(REPO / "data" / "labels.csv", dtype={"doc_id": str})[["doc_id", "text", "label"]]
        train_idx, test_idx = grouped_folds(frame["label"].tolist(), frame["doc_id"].tolist(), 4, seed)[0]
        train, test = frame.iloc[train_idx], frame.iloc[test_idx]
        if limit:
            train, test = train.head(limit), test.head(limit)
        return train.reset_index(drop=True), test.reset_index(drop=True)
    raise SystemExit(f"unknown dataset {name!r}; choose thucnews or reports")


def write_tsv(frame: pd.DataFrame, path: Path) -> None:
    # one line per text: collapse whitespace the same way normalize_text would
    clean = frame.assign(text=frame["text"].astype(str).str.replace(r"\s+", " ", regex=True))
    clean[["text", "label"]].to_csv(path, sep="\t", header=False, index=False, quoting=3, escapechar="\\")


# ---- workers (each in its own process) ----------------------------------------------------------

def _segmenter(config: dict):
    from pipeline.preprocess import Segmenter

    pre = config["preprocess"]
    return Segmenter(backend=pre["backend"], hmm=pre["hmm"], use_stopwords=pre["use_stopwords"]).warm_up()


def _segment(seg, texts: list[str]) -> list[str]:
    from pipeline.preprocess import normalize_texts

    return [" ".join(words) for words in seg.segment_many(normalize_texts(texts))]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def _scores(gold, pred) -> dict:
    from pipeline.evaluation import compute_metrics

    m = compute_metrics(list(gold), list(pred))
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"]}


def worker_ours(train: pd.DataFrame, test: pd.DataFrame, config: dict, out_dir: Path) -> dict:
    from pipeline.model import TopicModel, build_pipeline
    from pipeline.persistence import new_card

    _segmenter(config)  # dictionary load is a once-per-process cost, excluded for both systems
    start = time.perf_counter()
    fitted = build_pipeline(config).fit(train["text"].tolist(), train["label"].tolist())
    train_seconds = time.perf_counter() - start
    model = TopicModel(fitted, new_card(labels=list(fitted.classes_), config=config, data_sha256="bench",
                                        n_rows=len(train)))
    model.save(out_dir / "ours")
    texts = test["text"].tolist()
    fitted.predict(texts[:50])  # warm caches (first call imports and allocates)
    start = time.perf_counter()
    pred = fitted.predict(texts)
    predict_seconds = time.perf_counter() - start
    return {"train_seconds": train_seconds, "predict_seconds": predict_seconds, **_scores(test["label"], pred),
            "model_bytes": sum(p.stat().st_size for p in (out_dir / "ours").iterdir() if p.name != "card.json")}


def _ft_train(fasttext, lines: list[str], labels: list[str], params: dict, path: Path):
    with open(path, "w", encoding="utf-8") as fh:
        for text, label in zip(lines, labels):
            fh.write(f"__label__{label} {text}\n")
    return fasttext.train_supervised(input=str(path), verbose=0, thread=os.cpu_count() or 1, seed=0, **params)


def _ft_predict(model, lines: list[str]) -> list[str]:
    # model.predict() breaks under NumPy 2 (np.array(copy=False)); the C++ binding does not.
    labels, _ = model.f.multilinePredict(lines, 1, 0.0, "strict")
    return [row[0].replace("__label__", "", 1) if row else "" for row in labels]


def worker_fasttext(train: pd.DataFrame, test: pd.DataFrame, config: dict, out_dir: Path, params: dict) -> dict:
    import fasttext

    seg = _segmenter(config)
    start = time.perf_counter()
    lines = _segment(seg, train["text"].tolist())
    model = _ft_train(fasttext, lines, train["label"].tolist(), params, out_dir / "ft_train.txt")
    train_seconds = time.perf_counter() - start
    model.save_model(str(out_dir / "fasttext.bin"))
    texts = test["text"].tolist()
    _ft_predict(model, _segment(seg, texts[:50]))
    start = time.perf_counter()
    pred = _ft_predict(model, _segment(seg, texts))
    predict_seconds = time.perf_counter() - start
    return {"train_seconds": train_seconds, "predict_seconds": predict_seconds, **_scores(test["label"], pred),
            "model_bytes": (out_dir / "fasttext.bin").stat().st_size, "params": params}


def worker_ft_search(train: pd.DataFrame, dev: pd.DataFrame, config: dict, out_dir: Path) -> dict:
    """Grid over FT_GRID on dev; segmentation done once (the search is not timed)."""
    import fasttext

    seg = _segmenter(config)
    lines, dev_lines = _segment(seg, train["text"].tolist()), _segment(seg, dev["text"].tolist())
    rows = []
    for values in itertools.product(*FT_GRID.values()):
        params = dict(zip(FT_GRID, values))
        try:
            model = _ft_train(fasttext, lines, train["label"].tolist(), params, out_dir / "search.txt")
        except RuntimeError as exc:  # high lr with many n-grams can diverge ("Encountered NaN")
            rows.append({**params, "accuracy": None, "macro_f1": None, "error": str(exc)})
            continue
        rows.append({**params, **_scores(dev["label"], _ft_predict(model, dev_lines))})
    best = max((r for r in rows if r["accuracy"] is not None), key=lambda r: (r["accuracy"], r["macro_f1"]))
    return {"grid": FT_GRID, "rows": rows, "best": {k: best[k] for k in FT_GRID}, "best_dev": best}


def run_worker(args) -> None:
    from pipeline.config import load_config

    config = load_config(args.config, [f"preprocess.backend={args.backend}"] if args.backend else None)
    train, test = pd.read_pickle(args.train), pd.read_pickle(args.eval)
    out_dir = Path(args.out_dir)
    if args.worker == "ours":
        result = worker_ours(train, test, config, out_dir)
    elif args.worker == "fasttext":
        result = worker_fasttext(train, test, config, out_dir, json.loads(args.params))
    else:
        result = worker_ft_search(train, test, config, out_dir)
    result["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(result))


# ---- driver -------------------------------------------------------------------------------------

def _spawn(kind: str, train: Path, test: Path, config: str | None, out_dir: Path, params: dict | None = None,
           backend: str | None = None) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--train", str(train), "--eval", str(test), "--out-dir", str(out_dir)]
    if config:
        cmd += ["--config", config]
    if backend:
        cmd += ["--backend", backend]
    if params is not None:
        cmd += ["--params", json.dumps(params)]
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **SINGLE_THREAD}, cwd=REPO)
    if r.returncode != 0:
        raise SystemExit(f"{kind} worker failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def fasttext_available() -> bool:
    try:
        import fasttext  # noqa: F401
    except ImportError:
        return False
    return True


def format_table(results: dict, test: pd.DataFrame) -> str:
    n_texts, n_chars = len(test), int(test["text"].str.len().sum())
    head = f"{'system':<14} {'accuracy':>8} {'macro-F1':>8} {'train s':>8} {'texts/s':>9} {'chars/s':>10} {'peak MB':>8} {'model MB':>8}"
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        lines.append(f"{name:<14} {r['accuracy']:>8.4f} {r['macro_f1']:>8.4f} {r['train_seconds']:>8.2f} "
                     f"{n_texts / r['predict_seconds']:>9,.0f} {n_chars / r['predict_seconds']:>10,.0f} "
                     f"{r['peak_rss_mb']:>8.0f} {r['model_bytes'] / 1e6:>8.1f}")
    return "\n".join(lines)


def run(dataset: str, config: str | None = None, limit: int | None = None, search: bool = False,
        skip_fasttext: bool = False) -> dict:
    train, test = load_dataset(dataset, limit)
    results, notes = {}, []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        tmp = Path(tmp)
        train.to_pickle(tmp / "train.pkl")
        test.to_pickle(tmp / "test.pkl")
        results["ours"] = _spawn("ours", tmp / "train.pkl", tmp / "test.pkl", config, tmp)
        if skip_fasttext or not fasttext_available():
            notes.append("fastText skipped: " + ("--no-fasttext" if skip_fasttext else
                                                  "package not installed (pip install '.[bench]')"))
        else:
            params = FT_DEFAULT
            search_file = RESULTS / f"fasttext_search_{dataset}{'_limit' + str(limit) if limit else ''}.json"
            if search:
                if dataset == "reports":  # tune on a grouped split of the training documents only
                    from pipeline.evaluation import grouped_folds

                    fit_idx, dev_idx = grouped_folds(train["label"].tolist(), train["doc_id"].tolist(), 4, 1)[0]
                    train.iloc[fit_idx].to_pickle(tmp / "s_train.pkl")
                    train.iloc[dev_idx].to_pickle(tmp / "s_dev.pkl")
                    found = _spawn("ftsearch", tmp / "s_train.pkl", tmp / "s_dev.pkl", config, tmp)
                else:
                    found = _spawn("ftsearch", tmp / "train.pkl", tmp / "test.pkl", config, tmp)
                RESULTS.mkdir(exist_ok=True)
                search_file.write_text(json.dumps(found, indent=2))
            if search_file.exists():
                params = json.loads(search_file.read_text())["best"]
                notes.append(f"fastText settings from {search_file.relative_to(REPO)}: {params}")
            else:
                notes.append(f"fastText settings: defaults {params} (run with --search to tune on dev)")
            if limit:  # smoke runs: keep the 2M-bucket (800 MB) model off the disk; not a measurement
                params = {**params, "bucket": 100_000}
            results["fastText"] = _spawn("fasttext", tmp / "train.pkl", tmp / "test.pkl", config, tmp, params)
            # fastText as usually run: segmented with jieba, the reference Python implementation.
            # The row above gives it our segmenter (rjieba) instead, the like-for-like comparison.
            results["fastText+jieba"] = _spawn("fasttext", tmp / "train.pkl", tmp / "test.pkl", config, tmp, params,
                                               backend="jieba")
    table = format_table(results, test)
    return {"dataset": dataset, "n_train": len(train), "n_eval": len(test),
            "eval_chars": int(test["text"].str.len().sum()), "results": results, "notes": notes, "table": table}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", nargs="?", choices=["thucnews", "reports"])
    ap.add_argument("--config", help="pipeline config (TOML/JSON), e.g. benchmarks/thucnews.toml")
    ap.add_argument("--limit", type=int, help="use only N train and N eval rows (smoke runs)")
    ap.add_argument("--search", action="store_true", help="tune fastText on dev first and save its best settings")
    ap.add_argument("--no-fasttext", action="store_true", help="run only our pipeline")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--worker", choices=["ours", "fasttext", "ftsearch"], help=argparse.SUPPRESS)
    ap.add_argument("--train", help=argparse.SUPPRESS)
    ap.add_argument("--eval", help=argparse.SUPPRESS)
    ap.add_argument("--out-dir", help=argparse.SUPPRESS)
    ap.add_argument("--params", help=argparse.SUPPRESS)
    ap.add_argument("--backend", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        run_worker(args)
        return 0
    if not args.dataset:
        ap.error("choose a dataset: thucnews or reports")
    result = run(args.dataset, args.config, args.limit, args.search, args.no_fasttext)
    print(f"{args.dataset}: train {result['n_train']} texts, eval {result['n_eval']} texts "
          f"({result['eval_chars']:,} chars); machine: {os.cpu_count()} cores, {_cpu_name()}")
    print(result["table"])
    for note in result["notes"]:
        print(note)
    if args.json:
        Path(args.json).write_text(json.dumps({k: v for k, v in result.items() if k != "table"}, indent=2))
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
