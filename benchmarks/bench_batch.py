"""Batch prediction benchmark: throughput, scaling, Dask overhead and memory, measured in one run.

    python benchmarks/bench_batch.py                      # the README figures (≥ 200,000 paragraphs)
    python benchmarks/bench_batch.py --paragraphs 3000 --engines local   # a quick look

Workload: the bundled raw reports (data/corpus: hard-wrapped PDF copies, web copies, GBK and
UTF-8 files) copied into numbered folders until the job holds at least --paragraphs
paragraphs. The model is trained on data/labels.csv. Each measurement is a fresh process
running ``predict_to_file`` (reading, splitting, classifying, journaling and writing Parquet),
timed from the call to the output on disk; peak memory is the
largest summed memory (PSS on Linux, else RSS) of that process and all its children (workers),
sampled every 200 ms.

Two Dask settings: ``dask`` is ``--engine dask`` with no scheduler, so predict starts a
LocalCluster inside the timing (worker processes start and import the package); ``dask-cluster``
is a running cluster, as the README sets one up: ``dask scheduler --preload pipeline.engines``
and ``dask worker --preload pipeline.engines --preload-nanny pipeline.engines`` started before
the timing, ``--scheduler`` pointing at them (the model still travels to the workers and loads
inside the timing).

Printed: paragraphs/s and characters/s per engine and worker count; scaling efficiency
(2 workers ÷ 1), Dask overhead (Dask time ÷ local time − 1), and the peak-memory ratio
between an input 10× larger and the base input. Targets: scaling ≥ 1.7×, Dask overhead ≤ 25%,
memory ratio < 1.5.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TARGETS = {"scaling_2_vs_1": 1.7, "dask_overhead_max": 0.25, "memory_ratio_max": 1.5}

RUNNER = """
import json, sys
from pipeline.batch import predict_to_file
args = json.loads(sys.argv[1])
run = predict_to_file(args["model"], args["inputs"], args["out"], workers=args["workers"], engine=args["engine"],
                      scheduler=args.get("scheduler"), progress=False)
print(json.dumps({"seconds": run.seconds, "paragraphs": run.paragraphs, "characters": run.characters,
                  "documents": run.documents, "failures": len(run.failures), "workers": run.workers}))
"""


def build_workload(folder: Path, paragraphs: int, docs_per_copy: int | None = None) -> tuple[list[Path], int]:
    """Copies of the bundled reports (the first ``docs_per_copy`` of them, default all) in folders
    copy_0000, copy_0001 …; returns the folders and the paragraphs one copy holds."""
    from pipeline.errors import InputError
    from pipeline.paths import CORPUS_DIR
    from pipeline.reading import iter_report_paths, read_report

    if not CORPUS_DIR.is_dir():  # the raw files are generated from data/annotated, not kept in git
        sys.path.insert(0, str(CORPUS_DIR.parent))
        from build_corpus import build

        build(CORPUS_DIR, labels_path=None)
    sources, per_copy = [], 0
    for path in list(iter_report_paths([CORPUS_DIR]))[:docs_per_copy]:
        try:
            per_copy += len(read_report(path).paragraphs)
            sources.append(path)
        except InputError:
            continue
    copies = -(-paragraphs // per_copy)
    folders = []
    for k in range(copies):
        target = folder / f"copy_{k:04d}"
        target.mkdir(parents=True)
        for path in sources:
            shutil.copyfile(path, target / f"{k:04d}_{path.name}")
        folders.append(target)
    return folders, per_copy


def _memory(process) -> int:
    """Proportional set size where the OS gives it: pages shared by forked workers (the model,
    the dictionary) count once in the sum, as they do in RAM; else the resident set size."""
    try:
        return process.memory_full_info().pss
    except AttributeError:
        return process.memory_info().rss


def _busy_seconds() -> float:
    import psutil

    t = psutil.cpu_times()
    return t.user + t.system + getattr(t, "nice", 0) + getattr(t, "irq", 0) + getattr(t, "softirq", 0)


def _own_seconds() -> float:
    times = os.times()
    return times.user + times.system


class RunningCluster:
    """``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, for the dask-cluster setting."""

    def __init__(self, workers: int):
        self.workers, self.procs = workers, []

    current: "RunningCluster | None" = None

    def __enter__(self) -> str:
        import socket

        RunningCluster.current = self
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.address = f"tcp://127.0.0.1:{port}"
        dask = str(Path(sys.executable).with_name("dask"))
        quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
        self.procs.append(subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                            "--no-dashboard", "--preload", "pipeline.engines"], **quiet))
        self.procs.append(subprocess.Popen([dask, "worker", self.address, "--nworkers", str(self.workers),
                                            "--nthreads", "1", "--no-dashboard", "--preload", "pipeline.engines",
                                            "--preload-nanny", "pipeline.engines"],
                                           **quiet))
        from distributed import Client

        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(self.workers, timeout=60)
        return self.address

    def __exit__(self, *exc):
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        return False


def measure(model: Path, inputs: list[Path], out: Path, *, engine: str, workers: int) -> dict:
    if engine == "dask-cluster":
        with RunningCluster(workers) as address:
            cluster = RunningCluster.current
            result = _measure(model, inputs, out, engine="dask", workers=workers, scheduler=address,
                              also=[p.pid for p in cluster.procs])
        result["engine"] = engine
        return result
    return _measure(model, inputs, out, engine=engine, workers=workers)


def _measure(model: Path, inputs: list[Path], out: Path, *, engine: str, workers: int,
             scheduler: str | None = None, also: list[int] = ()) -> dict:
    """One timed run in a fresh process. ``also``: PIDs of a running cluster, whose memory and
    CPU count as this job's, not as other load."""
    import psutil

    spec = json.dumps({"model": str(model), "inputs": [str(p) for p in inputs], "out": str(out),
                       "workers": workers, "engine": engine, "scheduler": scheduler})
    cluster = [psutil.Process(pid) for pid in also]

    def job_tree(root) -> list:
        tree = [root, *root.children(recursive=True)] if root is not None else []
        for member in cluster:
            tree += [member, *member.children(recursive=True)]
        return tree

    def cpu_of(p) -> float:
        times = p.cpu_times()
        return times.user + times.system

    # CPU of every process of the job (the runner, its workers however they were started, a
    # running cluster), sampled with memory; a running cluster's earlier CPU is subtracted.
    baseline, cpu = {}, {}
    for p in job_tree(None):
        try:
            baseline[p.pid] = cpu_of(p)
        except psutil.Error:
            pass
    busy_before, own_before = _busy_seconds(), _own_seconds()
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, spec], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=REPO)
    started = time.perf_counter()
    root, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            tree = job_tree(root)
            peak = max(peak, sum(_memory(p) for p in tree))
            for p in tree:
                try:
                    cpu[p.pid] = cpu_of(p)
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
        time.sleep(0.2)  # reading PSS costs CPU; memory here is a plateau, not a spike
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - started
    ours = sum(value - baseline.get(pid, 0.0) for pid, value in cpu.items())
    # CPU the machine spent on anything but this job: other users' work skews the figures.
    others = (_busy_seconds() - busy_before) - ours - (_own_seconds() - own_before)
    if proc.returncode != 0:
        raise SystemExit(f"{engine} × {workers} failed:\n{stderr}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result.update(engine=engine, peak_memory_mb=round(peak / 2**20, 1),
                  other_load=round(max(others, 0) / (wall * (os.cpu_count() or 1)), 3),
                  paragraphs_per_s=round(result["paragraphs"] / result["seconds"], 1),
                  chars_per_s=round(result["characters"] / result["seconds"], 1))
    out.unlink(missing_ok=True)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", type=int, default=200_000, help="workload size (default: 200000)")
    parser.add_argument("--engines", default="local,dask,dask-cluster",
                        help="comma-separated: local, dask, dask-cluster (default: all three)")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts (default: 1,2)")
    parser.add_argument("--memory-factor", type=int, default=10, help="large input ÷ base input (default: 10)")
    parser.add_argument("--docs-per-copy", type=int, metavar="N",
                        help="reports per copy of the corpus (default: all); a small workload needs small copies "
                             "for the memory comparison to have several")
    parser.add_argument("--repeat", type=int, default=1, help="runs per setting; the fastest counts (default: 1)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the generated workload folder")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    worker_counts = [int(w) for w in args.workers.split(",")]

    import pipeline
    from pipeline.paths import LABELS_FILE

    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        model = work / "model"
        pipeline.train(LABELS_FILE).save(model)
        folders, per_copy = build_workload(work / "in", args.paragraphs, args.docs_per_copy)
        print(f"workload: {len(folders)} copies × {per_copy} paragraphs of the bundled reports "
              f"({sum(1 for _ in (work / 'in').rglob('*.txt'))} files); cpus: {os.cpu_count()}", flush=True)

        runs = []
        for engine in engines:
            for workers in worker_counts:
                tries = [measure(model, folders, work / "out.parquet", engine=engine, workers=workers)
                         for _ in range(max(args.repeat, 1))]
                r = min(tries, key=lambda t: t["seconds"])
                runs.append(r)
                print(f"{engine:12s} workers={workers}: {r['paragraphs']:,} paragraphs in {r['seconds']:.1f}s = "
                      f"{r['paragraphs_per_s']:,.0f} paragraphs/s, {r['chars_per_s']:,.0f} chars/s; "
                      f"peak memory {r['peak_memory_mb']:.0f} MB; other load on the machine {r['other_load']:.0%}",
                      flush=True)

        def rate(engine, workers):
            return next((r["paragraphs_per_s"] for r in runs if r["engine"] == engine and r["workers"] == workers), None)

        ratios = {}
        for engine in engines:
            one, two = rate(engine, 1), rate(engine, 2)
            if one and two:
                ratios[f"scaling_2_vs_1_{engine}"] = round(two / one, 3)
        for dask_engine in ("dask", "dask-cluster"):
            if dask_engine in engines and "local" in engines:
                for workers in worker_counts:
                    local, dask = rate("local", workers), rate(dask_engine, workers)
                    # extra time on Dask
                    ratios[f"{dask_engine.replace('-', '_')}_overhead_{workers}w"] = round(local / dask - 1, 3)

        # Memory: the same job on a tenth of the input, 2 workers (or the most asked for).
        base_copies = max(len(folders) // args.memory_factor, 1)
        mem_workers = max(worker_counts)
        small = measure(model, folders[:base_copies], work / "out.parquet", engine="local", workers=mem_workers)
        large = next((r for r in runs if r["engine"] == "local" and r["workers"] == mem_workers), None)
        if large is None:
            large = measure(model, folders, work / "out.parquet", engine="local", workers=mem_workers)
        ratios["memory_input_ratio"] = round(large["paragraphs"] / small["paragraphs"], 2)
        ratios["memory_peak_ratio"] = round(large["peak_memory_mb"] / small["peak_memory_mb"], 3)
        print(f"memory: {small['paragraphs']:,} paragraphs → peak {small['peak_memory_mb']:.0f} MB; "
              f"{large['paragraphs']:,} (×{ratios['memory_input_ratio']}) → peak {large['peak_memory_mb']:.0f} MB "
              f"(×{ratios['memory_peak_ratio']})")
        for name, value in ratios.items():
            print(f"{name}: {value}")
        verdicts = []
        for engine in engines:
            if f"scaling_2_vs_1_{engine}" in ratios:
                verdicts.append((f"{engine} 2 workers ≥ {TARGETS['scaling_2_vs_1']}× one",
                                 ratios[f"scaling_2_vs_1_{engine}"] >= TARGETS["scaling_2_vs_1"]))
        for key in [k for k in ratios if "_overhead_" in k]:
            verdicts.append((f"{key} ≤ {TARGETS['dask_overhead_max']:.0%}", ratios[key] <= TARGETS["dask_overhead_max"]))
        verdicts.append((f"memory ratio < {TARGETS['memory_ratio_max']}",
                         ratios["memory_peak_ratio"] < TARGETS["memory_ratio_max"]))
        for name, ok in verdicts:
            print(f"target {name}: {'met' if ok else 'NOT met'}")
        if args.json:
            Path(args.json).write_text(json.dumps({"runs": runs, "memory_base": small, "ratios": ratios,
                                                   "targets": dict(verdicts)}, indent=2), encoding="utf-8")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
