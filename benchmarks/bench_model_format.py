"""Model folders: the safe format (arrays.npz + state.json) against joblib, for the same fitted model.

    python benchmarks/bench_model_format.py [--model models/default] [--repeat 20] [--cold 5] [--json OUT]

The model is loaded from ``--model`` (either format; an old folder is trusted here, it is this
repository's) or, with ``--train``, trained on data/labels.csv with models/default.toml. It is
then written twice into a temporary folder: in the safe format (``model.save``) and as the old
format wrote it (``joblib.dump(pipeline, compress=3)`` plus a card). Measured in the same run:

- folder size (every file, card included);
- warm load: ``pipeline.load(folder)`` in this process, after one load of each, median of
  ``--repeat`` loads, the two formats alternating (checksums included, segmenter excluded: its
  dictionary loads lazily, the same for both);
- cold load: the same call in a fresh interpreter that has imported only ``pipeline``, timed
  around the call (so it includes importing scikit-learn's modules, as a command line pays it),
  median of ``--cold`` processes per format;
- that both folders give identical predictions and scores on the bundled corpus.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import pipeline
from pipeline.paths import DEFAULT_MODEL, DEFAULT_MODEL_CONFIG, LABELS_FILE, REPO_ROOT
from pipeline.persistence import save_pickled_folder

COLD = ("import sys, time, warnings; warnings.simplefilter('ignore'); import pipeline; "
        "t = time.perf_counter(); pipeline.load(sys.argv[1], allow_pickle=True); print(time.perf_counter() - t)")


def _shown_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir())


def run(model_path: Path | None, repeat: int, cold: int) -> dict:
    warnings.simplefilter("ignore")
    if model_path is None:
        model = pipeline.train(LABELS_FILE, config=pipeline.load_config(DEFAULT_MODEL_CONFIG))
    else:
        model = pipeline.load(model_path, allow_pickle=True)
    with tempfile.TemporaryDirectory() as tmp:
        folders = {"safe": Path(tmp) / "safe", "joblib": Path(tmp) / "joblib"}
        model.save(folders["safe"])
        save_pickled_folder(model, folders["joblib"])
        sizes = {name: folder_bytes(path) for name, path in folders.items()}
        files = {name: {p.name: p.stat().st_size for p in sorted(path.iterdir())} for name, path in folders.items()}

        loaded = {name: pipeline.load(path, allow_pickle=True) for name, path in folders.items()}  # warm-up
        texts = pd.read_csv(LABELS_FILE)["text"].tolist()
        proba = {name: m.predict_proba(texts) for name, m in loaded.items()}
        identical = (np.array_equal(proba["safe"], proba["joblib"])
                     and np.array_equal(loaded["safe"].predict(texts), loaded["joblib"].predict(texts)))

        warm = {name: [] for name in folders}
        for _ in range(repeat):
            for name, path in folders.items():
                start = time.perf_counter()
                pipeline.load(path, allow_pickle=True)
                warm[name].append(time.perf_counter() - start)
        cold_times = {name: [] for name in folders}
        for _ in range(cold):
            for name, path in folders.items():
                out = subprocess.run([sys.executable, "-c", COLD, str(path)], capture_output=True, text=True, check=True)
                cold_times[name].append(float(out.stdout.strip().splitlines()[-1]))
    result = {
        "model": _shown_path(model_path) if model_path else f"trained on {LABELS_FILE.name}",
        "labels": len(model.labels),
        "features": int(sum(len(v.terms_) for _, v in model.pipeline.named_steps["features"].transformer_list)),
        "texts_compared": len(texts), "identical_predictions": bool(identical),
        "bytes": sizes, "files": files,
        "warm_load_seconds": {k: statistics.median(v) for k, v in warm.items()},
        "cold_load_seconds": {k: statistics.median(v) for k, v in cold_times.items()} if cold else {},
        "python": platform.python_version(), "machine": platform.machine(),
    }
    return result


def format_result(r: dict) -> str:
    b, w, c = r["bytes"], r["warm_load_seconds"], r["cold_load_seconds"]
    lines = [f"model: {r['model']} ({r['labels']} labels, {r['features']:,} features); "
             f"python {r['python']}, {r['machine']}",
             f"{'format':8s} {'folder MB':>10s} {'warm load ms':>13s} {'cold load ms':>13s}"]
    for name in ("safe", "joblib"):
        cold = f"{c[name] * 1000:13.0f}" if c else f"{'-':>13s}"
        lines.append(f"{name:8s} {b[name] / 1e6:10.2f} {w[name] * 1000:13.1f} {cold}")
    ratio = f"safe/joblib: size ×{b['safe'] / b['joblib']:.2f}, warm load ×{w['safe'] / w['joblib']:.2f}"
    if c:
        ratio += f", cold load ×{c['safe'] / c['joblib']:.2f}"
    lines.append(ratio)
    lines.append(f"identical predictions and scores on {r['texts_compared']:,} texts: {r['identical_predictions']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model folder (default: models/default)")
    parser.add_argument("--train", action="store_true", help="train the default config instead of loading --model")
    parser.add_argument("--repeat", type=int, default=20, help="warm loads per format (median reported)")
    parser.add_argument("--cold", type=int, default=5, help="fresh-process loads per format (0: skip)")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args()
    result = run(None if args.train else args.model, args.repeat, args.cold)
    print(format_result(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
