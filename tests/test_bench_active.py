"""benchmarks/bench_active.py runs end to end on a tiny slice (its figures live in the README,
not in tests)."""
import importlib.util
import sys

import numpy as np

from conftest import REPO


def _bench():
    spec = importlib.util.spec_from_file_location("bench_active", REPO / "benchmarks" / "bench_active.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_active"] = module
    spec.loader.exec_module(module)
    return module


def test_active_learning_benchmark_smoke(corpus):
    bench = _bench()
    reports = bench.load_corpus(REPO / "data" / "labels.csv").groupby("writer")["doc_id"].nunique()
    writers = reports.sort_values(ascending=False, kind="stable").index[:2].tolist()  # two with many reports
    result = bench.run(writers=writers, splits=1, seeds=2, budgets=(10, 20), base_limit=400)
    summary = result["summary"]
    assert summary["budgets"] == [10, 20] and set(summary["gain_points"]) == {"uncertain", "random", "document"}
    for split in result["splits"]:
        n = reports[split["writer"]]
        assert split["pool_documents"] == (n + 1) // 2 and split["test_documents"] == n // 2
        assert split["base_rows"] == 400
        assert len(split["accuracy"]["random"]) == 2 and len(split["accuracy"]["uncertain"]) == 2
        assert all(0 <= a <= 1 for a in np.ravel(split["accuracy"]["random"]))
    diff = summary["uncertain_minus_random"]
    assert [d["labels"] for d in diff] == [10, 20] and all(d["low"] <= d["mean"] <= d["high"] for d in diff)
    assert "| 20 |" in result["table"] and "uncertain − random" in result["table"]
