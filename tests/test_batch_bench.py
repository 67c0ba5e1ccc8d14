"""The batch benchmark runs end to end on a tiny workload and reports every figure it promises.
(Its speed targets are checked by the benchmark itself, on the full workload, not here.)"""
import json
import subprocess
import sys

from conftest import REPO


def test_bench_batch_smoke(tmp_path):
    out = tmp_path / "bench.json"
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_batch.py"), "--paragraphs", "8000",
                        "--docs-per-copy", "60", "--engines", "local", "--workers", "1,2", "--memory-factor", "2", "--json", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    figures = json.loads(out.read_text(encoding="utf-8"))
    runs = {(run["engine"], run["workers"]): run for run in figures["runs"]}
    assert set(runs) == {("local", 1), ("local", 2)}
    for run in runs.values():
        assert run["paragraphs"] >= 8000 and run["failures"] == 0
        assert run["paragraphs_per_s"] > 0 and run["chars_per_s"] > run["paragraphs_per_s"]
        assert run["peak_memory_mb"] > 0
    assert runs[("local", 1)]["paragraphs"] == runs[("local", 2)]["paragraphs"]
    ratios = figures["ratios"]
    assert ratios["scaling_2_vs_1_local"] > 0 and ratios["memory_input_ratio"] >= 2
    assert "paragraphs/s" in r.stdout and "target" in r.stdout
