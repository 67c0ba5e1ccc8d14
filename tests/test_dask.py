"""The Dask engine gives the local engine's output row for row: on a LocalCluster of two worker
processes, and on a scheduler and worker started as separate processes, as on a real cluster."""
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO, run_cli
from pipeline.batch import predict_to_file


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, corpus, raw_corpus_dir) -> list[Path]:
    folder = tmp_path_factory.mktemp("dask-inputs")
    for p in sorted(raw_corpus_dir.glob("*.txt"))[:10]:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "broken.txt").write_bytes(b"\x00\x01\x02" * 500)
    table = folder.parent / "rows.parquet"
    corpus[["doc_id", "para_index", "text"]].head(150).assign(n=range(150)).to_parquet(table)
    return [folder, table]


@pytest.fixture(scope="module")
def local_output(tmp_path_factory, model_dir, inputs) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("local") / "p.parquet"
    run = predict_to_file(model_dir, inputs, out, workers=1, chunk_size=80)
    assert len(run.failures) == 1
    return pd.read_parquet(out)


@pytest.mark.parametrize("ship", [False, True], ids=["workers-read-files", "client-ships-files"])
def test_local_cluster_matches_local_engine(tmp_path, model_dir, inputs, local_output, ship, monkeypatch):
    pytest.importorskip("distributed")
    # Workers on this machine read inputs themselves; pretend they are remote to test shipping too.
    monkeypatch.setattr("pipeline.engines.workers_share_disk", lambda client: not ship)
    run = predict_to_file(model_dir, inputs, tmp_path / "d.parquet", engine="dask", workers=2, chunk_size=80)
    assert run.engine == "dask" and run.workers == 2 and run.tasks > 4
    assert [Path(p).name for p, _ in run.failures] == ["broken.txt"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "d.parquet"), local_output)


def _start_environment_probe():
    """A function for ``client.run``, defined locally so that it travels by value (workers cannot
    import this test module): a worker's environment as its process started (what glibc read),
    as it is now, and the Dask settings it runs under."""

    def probe() -> dict:
        import os

        import dask

        raw = open("/proc/self/environ", "rb").read().split(b"\0")
        started = dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)
        return {"MALLOC_TRIM_THRESHOLD_ at start": started.get("MALLOC_TRIM_THRESHOLD_"),
                "MALLOC_TRIM_THRESHOLD_": os.environ.get("MALLOC_TRIM_THRESHOLD_"),
                "profile": dask.config.get("distributed.worker.profile.enabled")}

    return probe


needs_proc = pytest.mark.skipif(not Path("/proc/self/environ").exists() or "MALLOC_TRIM_THRESHOLD_" in os.environ,
                                reason="reads /proc; or this machine sets MALLOC_TRIM_THRESHOLD_ itself")


@needs_proc
def test_local_cluster_workers_keep_glibc_malloc_tuning(model_dir):
    pytest.importorskip("distributed")
    from pipeline.engines import DaskEngine

    with DaskEngine(None, model_dir=model_dir, workers=2, scheduler=None) as engine:
        seen = engine.client.run(_start_environment_probe())
    assert len(seen) == 2
    for env in seen.values():
        assert env == {"MALLOC_TRIM_THRESHOLD_ at start": None, "MALLOC_TRIM_THRESHOLD_": None, "profile": False}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, procs, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("the Dask scheduler exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"no scheduler on port {port} after {timeout}s")


def test_separate_scheduler_and_worker_processes(tmp_path, model_dir, inputs, local_output):
    pytest.importorskip("distributed")
    dask = shutil.which("dask") or pytest.skip("the dask command is not installed")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = open(tmp_path / "dask.log", "w")
    # The commands of the README's "Running on a cluster", preloads included, in an environment
    # that leaves malloc alone (so the check below sees what the preload did).
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
                               "--preload", "pipeline.engines"], stdout=logs, stderr=subprocess.STDOUT, env=env)]
    try:
        _wait_for_port(port, procs)
        # Workers run from another folder: the model and the inputs reach them over the network.
        procs.append(subprocess.Popen([dask, "worker", address, "--nworkers", "2", "--nthreads", "1",
                                       "--no-dashboard", "--local-directory", str(tmp_path / "w"),
                                       "--preload", "pipeline.engines", "--preload-nanny", "pipeline.engines"],
                                      stdout=logs, stderr=subprocess.STDOUT, cwd=tmp_path, env=env))
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)  # the cluster is up before the job, as on a real one
            out = tmp_path / "p.parquet"
            r = run_cli("predict", model_dir, *inputs, "--out", out, "--engine", "dask", "--scheduler", address,
                        "--chunk-size", "80", timeout=180)
            assert r.returncode == 2, r.stderr  # the broken file is reported; everything else classified
            assert "broken.txt" in r.stderr and "(dask, 2 worker(s))" in r.stderr
            pd.testing.assert_frame_equal(pd.read_parquet(out), local_output)
            if Path("/proc/self/environ").exists():
                for seen in client.run(_start_environment_probe()).values():
                    # The nanny preload kept Dask's malloc setting out of the worker's start.
                    assert seen["MALLOC_TRIM_THRESHOLD_ at start"] is None and seen["MALLOC_TRIM_THRESHOLD_"] is None
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        logs.close()


def test_dask_engine_without_dask_says_how_to_install(tmp_path, model_dir, inputs):
    # Hide the package from a fresh interpreter, as on an install without the extra.
    code = ("import sys; sys.modules['distributed'] = None; from pipeline.cli import main; "
            f"sys.exit(main(['predict', {str(model_dir)!r}, {str(inputs[0])!r}, '--out', {str(tmp_path / 'p.csv')!r}, "
            "'--engine', 'dask']))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert 'pip install "report-topics[dask]"' in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "p.csv").exists()
