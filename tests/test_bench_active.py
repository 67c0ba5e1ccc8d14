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


def test_active_learning_benchmark_smoke():
    bench = _bench()
    result = bench.run(writers=["a1", "a2"], splits=1, seeds=2, budgets=(10, 20), base_limit=400)
    summary = result["summary"]
    assert summary["budgets"] == [10, 20] and set(summary["gain_points"]) == {"uncertain", "random", "document"}
    for split in result["splits"]:
        assert split["pool_documents"] == 9 and split["test_documents"] == 9 and split["base_rows"] == 400
        assert len(split["accuracy"]["random"]) == 2 and len(split["accuracy"]["uncertain"]) == 2
        assert all(0 <= a <= 1 for a in np.ravel(split["accuracy"]["random"]))
    diff = summary["uncertain_minus_random"]
    assert [d["labels"] for d in diff] == [10, 20] and all(d["low"] <= d["mean"] <= d["high"] for d in diff)
    assert "| 20 |" in result["table"] and "uncertain − random" in result["table"]
