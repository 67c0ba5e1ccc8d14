"""The Dask engine gives the local engine's output row for row: on a LocalCluster of two worker
processes, and on a scheduler and worker started as separate processes, as on a real cluster."""
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

CORPUS = REPO / "data" / "corpus"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, corpus) -> list[Path]:
    folder = tmp_path_factory.mktemp("dask-inputs")
    for p in sorted(CORPUS.glob("*.txt"))[:10]:
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
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              stdout=logs, stderr=subprocess.STDOUT)]
    try:
        _wait_for_port(port, procs)
        # Workers run from another folder: the model and the inputs reach them over the network.
        procs.append(subprocess.Popen([dask, "worker", address, "--nworkers", "2", "--nthreads", "1",
                                       "--no-dashboard", "--local-directory", str(tmp_path / "w")],
                                      stdout=logs, stderr=subprocess.STDOUT, cwd=tmp_path))
        out = tmp_path / "p.parquet"
        r = run_cli("predict", model_dir, *inputs, "--out", out, "--engine", "dask", "--scheduler", address,
                    "--chunk-size", "80", timeout=180)
        assert r.returncode == 2, r.stderr  # the broken file is reported; everything else classified
        assert "broken.txt" in r.stderr and "(dask, 2 worker(s))" in r.stderr
        pd.testing.assert_frame_equal(pd.read_parquet(out), local_output)
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
