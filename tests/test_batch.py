"""Batch prediction: streaming, parallel workers, failures, summaries, and resuming after a kill."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, run_cli
from pipeline.batch import Journal, plan_tasks, predict_inputs, predict_to_file


@pytest.fixture(scope="module")
def reports(tmp_path_factory, raw_corpus_dir) -> Path:
    """A folder of 14 bundled raw reports (mixed encodings and layouts), plus one nested."""
    folder = tmp_path_factory.mktemp("reports")
    files = sorted(p for p in raw_corpus_dir.iterdir() if p.suffix == ".txt")[:14]
    for p in files[:-1]:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "sub").mkdir()
    (folder / "sub" / files[-1].name).write_bytes(files[-1].read_bytes())
    return folder


@pytest.fixture(scope="module")
def table(tmp_path_factory, corpus) -> Path:
    """A shuffled table with its own id column whose values only survive as text ("007")."""
    path = tmp_path_factory.mktemp("table") / "table.csv"
    rows = corpus[["doc_id", "para_index", "text"]].head(230).sample(frac=1, random_state=3)
    rows.insert(0, "my_id", [f"{i:03d}" for i in range(len(rows))])
    rows.to_csv(path, index=False)
    return path


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype=False)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_parallel_output_equals_serial_and_in_memory(tmp_path, model_dir, trained_model, reports, table):
    serial = predict_to_file(model_dir, [reports, table], tmp_path / "one.parquet", workers=1, chunk_size=60)
    pooled = predict_to_file(model_dir, [reports, table], tmp_path / "two.parquet", workers=2, chunk_size=60)
    assert serial.tasks > 6  # small chunks, so the pool really shares the work
    one, two = pd.read_parquet(tmp_path / "one.parquet"), pd.read_parquet(tmp_path / "two.parquet")
    pd.testing.assert_frame_equal(one, two)
    assert serial.paragraphs == len(one) == pooled.paragraphs
    table_docs = pd.read_csv(table)["doc_id"].nunique()
    assert serial.documents == 14 + table_docs and not serial.failures  # table: its distinct doc_ids
    # Same rows, in input order, as classifying everything in memory at once.
    expected = predict_inputs(trained_model, [reports, table]).frame
    assert one["text"].tolist() == expected["text"].tolist()
    assert one["label"].tolist() == expected["label"].tolist()
    np.testing.assert_allclose(one["score"].to_numpy(), expected["score"].to_numpy(), rtol=1e-6)
    # Reports come first with their outline; table rows keep their order and their own columns, as text.
    from_table = one[one["my_id"].notna()]
    assert from_table["my_id"].tolist() == pd.read_csv(table, dtype=str)["my_id"].tolist()
    assert one.loc[one["my_id"].isna(), "role"].notna().all()


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_text_outputs_match_parquet(tmp_path, model_dir, reports, table, suffix):
    predict_to_file(model_dir, [table, reports], tmp_path / "p.parquet", workers=1, chunk_size=100)
    predict_to_file(model_dir, [table, reports], tmp_path / f"p{suffix}", workers=1, chunk_size=100)
    parquet, text = pd.read_parquet(tmp_path / "p.parquet"), _read(tmp_path / f"p{suffix}")
    assert list(text.columns) == list(parquet.columns)
    assert len(text) == len(parquet)
    assert text["label"].tolist() == parquet["label"].tolist()
    assert text["my_id"].head(230).astype(str).tolist() == parquet["my_id"].head(230).tolist()


def test_table_is_streamed_in_slices_with_row_numbers(tmp_path, table):
    plain = tmp_path / "plain.csv"
    pd.read_csv(table, dtype=str)[["my_id", "text"]].to_csv(plain, index=False)
    tasks = list(plan_tasks([plain], chunk_size=50))
    assert [len(t.frame) for t in tasks] == [50, 50, 50, 50, 30]
    numbers = pd.concat([t.frame["para_index"] for t in tasks]).tolist()
    assert numbers == list(range(230)) and all((t.frame["doc_id"] == "plain").all() for t in tasks)


def test_gbk_table_and_bad_inputs_are_recorded_and_the_job_goes_on(tmp_path, model_dir, reports):
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("id,text\n1,严格落实中央八项规定精神\n2,理论学习不够深入\n".encode("gbk"))
    binary = tmp_path / "broken.txt"
    binary.write_bytes(b"%PDF-1.4\x00\x00\x00" * 100)
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    no_text = tmp_path / "notext.csv"
    no_text.write_text("body\n甲\n", encoding="utf-8")
    out = tmp_path / "out" / "p.csv"
    r = run_cli("predict", model_dir, reports, binary, gbk, empty, no_text, tmp_path / "missing.txt", "--out", out,
                "--workers", "2")
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "4 failed" in r.stderr
    errors = pd.read_csv(out.with_name("p.errors.csv"))
    assert list(errors.columns) == ["path", "reason"]
    assert sorted(Path(p).name for p in errors["path"]) == ["broken.txt", "empty.txt", "missing.txt", "notext.csv"]
    assert errors["reason"].str.contains("binary").any() and errors["reason"].str.contains("'text'").any()
    rows = pd.read_csv(out, dtype=str)
    assert (rows["doc_id"] == "gbk").sum() == 2 and "严格落实中央八项规定精神" in set(rows["text"])

    # Nothing readable at all: exit 2, no output, but the errors are listed.
    r = run_cli("predict", model_dir, binary, "--out", tmp_path / "none.parquet", "--quiet")
    assert r.returncode == 2 and "nothing written" in r.stderr
    assert not (tmp_path / "none.parquet").exists() and (tmp_path / "none.errors.csv").exists()


def test_document_summary(tmp_path, model_dir, reports):
    run = predict_to_file(model_dir, [reports], tmp_path / "p.parquet", workers=1, summary=tmp_path / "s.csv",
                          low_confidence=0.6)
    rows, summary = pd.read_parquet(tmp_path / "p.parquet"), pd.read_csv(tmp_path / "s.csv")
    assert run.summary_path == tmp_path / "s.csv" and len(summary) == 14
    summary = summary.set_index("doc_id")
    for doc_id, group in rows.groupby("doc_id"):
        got = summary.loc[doc_id]
        assert got["paragraphs"] == len(group)
        assert got["low_confidence"] == (group["score"] < 0.6).sum()
        assert got["mean_score"] == pytest.approx(group["score"].mean(), abs=1e-4)
        counts = group["label"].value_counts()
        assert all(got[f"n_{label}"] == counts.get(label, 0) for label in rows["label"].unique())
        topical = counts.drop("other", errors="ignore")
        assert counts[got["dominant"]] == (topical.max() if len(topical) else counts.max())


def test_resume_rejects_a_different_job_and_plain_rerun_starts_over(tmp_path, model_dir, reports, table):
    out = tmp_path / "p.parquet"
    journal = Journal(out, {"version": 1, "model": "another"})
    journal.open(resume=False)
    with pytest.raises(Exception, match="without --resume"):
        predict_to_file(model_dir, [reports], out, workers=1, resume=True)
    run = predict_to_file(model_dir, [reports], out, workers=1)  # discards the stale journal
    assert run.resumed_tasks == 0 and not journal.dir.exists()


def _start(args, pause: str) -> subprocess.Popen:
    env = {**os.environ, "PIPELINE_BATCH_TEST_PAUSE": pause}
    return subprocess.Popen([sys.executable, "-m", "pipeline", *map(str, args)], env=env,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for_pause(proc: subprocess.Popen, timeout: float = 120) -> bool:
    """Read the job's stderr until it says it reached its pause point (True) or it ends (False)."""
    deadline = time.monotonic() + timeout
    line = ""
    while time.monotonic() < deadline and "paused at" not in line:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
    return "paused at" in line


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL the job and its workers."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()


def _kill_when_paused(proc: subprocess.Popen, timeout: float = 120) -> None:
    """Wait for the job to reach its pause point, then SIGKILL it and its workers."""
    paused = _wait_for_pause(proc, timeout)
    _kill(proc)
    assert paused, "the job ended before reaching its pause point"


@pytest.mark.parametrize("pause, workers", [("commit:3", 2), ("commit:1", 1), ("assemble:4", 2)])
def test_killed_job_resumes_to_exactly_one_row_per_paragraph(tmp_path, model_dir, reports, table, pause, workers):
    args = ["predict", model_dir, reports, table, "--chunk-size", "40", "--workers", workers]
    expected = tmp_path / "expected.csv"
    r = run_cli(*args, "--out", expected, "--quiet")
    assert r.returncode == 0, r.stderr

    out = tmp_path / "out.csv"
    _kill_when_paused(_start([*args, "--out", out, "--summary", tmp_path / "s.csv"], pause))
    parts = out.with_name(".out.csv.parts")
    committed = len(list(parts.glob("0*.json")))
    assert committed >= (int(pause.split(":")[1]) if pause.startswith("commit") else 1)
    assert not out.exists()
    # Debris a kill can leave mid-write: a temporary file, and rows whose done-marker never landed.
    (parts / "000000999.json.123.tmp").write_text("{", encoding="utf-8")
    first_missing = next(i for i in range(10_000) if not (parts / f"{i:09d}.json").exists())
    (parts / f"{first_missing:09d}.parquet").write_bytes(b"torn")

    r = run_cli(*args, "--out", out, "--summary", tmp_path / "s.csv", "--resume")
    assert r.returncode == 0, r.stderr
    assert f"{committed} of" in r.stderr and "tasks resumed" in r.stderr
    got, want = pd.read_csv(out, dtype=str), pd.read_csv(expected, dtype=str)
    pd.testing.assert_frame_equal(got, want)
    assert not got.duplicated(["doc_id", "para_index", "my_id"]).any()
    assert not parts.exists()
    assert pd.read_csv(tmp_path / "s.csv")["paragraphs"].sum() == len(want)


def test_a_second_job_on_the_same_output_fails_at_once_and_leaves_the_first_alone(tmp_path, model_dir, reports):
    out = tmp_path / "p.csv"
    args = ["predict", model_dir, reports, "--chunk-size", "40", "--workers", "1"]
    first = _start([*args, "--out", out], "commit:2")
    try:
        assert _wait_for_pause(first), "the first job ended before its pause point"
        r = run_cli(*args, "--out", out, "--quiet")
        assert r.returncode == 2
        assert f"{out}: another predict job is writing this output" in r.stderr and "Traceback" not in r.stderr
        assert list(out.with_name(".p.csv.parts").glob("0*.json")), "the second job touched the first's journal"
    finally:
        _kill(first)
    # The kill left the lock file; the operating system released the lock, so the next job runs.
    assert out.with_name(".p.csv.lock").exists()
    r = run_cli(*args, "--out", out, "--quiet", "--resume")
    assert r.returncode == 0, r.stderr
    assert out.exists() and not out.with_name(".p.csv.lock").exists()


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ".xlsx", ".tsv"])
def test_every_table_format_streams_in_order(tmp_path, suffix):
    rows = pd.DataFrame({"id": [f"{i:03d}" for i in range(23)], "body": [f"第{i}段，加强理论学习。" for i in range(23)]})
    path = tmp_path / f"t{suffix}"
    if suffix == ".jsonl":
        rows.to_json(path, orient="records", lines=True, force_ascii=False)
    elif suffix == ".parquet":
        rows.to_parquet(path)
    elif suffix == ".xlsx":
        rows.to_excel(path, index=False)
    else:
        rows.to_csv(path, sep="\t", index=False)
    tasks = list(plan_tasks([path], text_col="body", chunk_size=10))
    assert [t.kind for t in tasks] == ["table"] * 3 and [len(t.frame) for t in tasks] == [10, 10, 3]
    got = pd.concat([t.frame for t in tasks], ignore_index=True)
    assert got["text"].tolist() == rows["body"].tolist() and got["para_index"].tolist() == list(range(23))
    assert got["id"].astype(str).str.zfill(3).tolist() == rows["id"].tolist()


@pytest.fixture(scope="module")
def big_table(tmp_path_factory, corpus) -> Path:
    """A table large enough that the CSV parser reads it in several blocks."""
    path = tmp_path_factory.mktemp("big") / "big.csv"
    rows = pd.concat([corpus[["doc_id", "para_index", "text"]].head(2000)] * 4, ignore_index=True)
    rows.insert(0, "row_id", [f"{i:05d}" for i in range(len(rows))])
    rows.to_csv(path, index=False)
    return path


def test_an_interrupt_while_reading_a_table_is_not_journalled_as_a_bad_input(tmp_path, model_dir, big_table,
                                                                             monkeypatch):
    """Ctrl-C landing inside the C parser's read() used to become "cannot parse as csv table", be
    journalled as a failed input, and make --resume refuse the unchanged input as changed."""
    import io

    import pipeline.batch as batch

    class InterruptedFile(io.FileIO):
        interrupted = False

        def read(self, size=-1):
            # once past half the file (earlier chunks are classified and committed by then)
            if not InterruptedFile.interrupted and self.tell() > big_table.stat().st_size / 2:
                InterruptedFile.interrupted = True
                raise KeyboardInterrupt
            return super().read(size)

    out = tmp_path / "p.parquet"
    monkeypatch.setattr(batch, "open", lambda path, mode="r", *a, **k: InterruptedFile(path, "rb") if mode == "rb"
                        else open(path, mode, *a, **k), raising=False)
    with pytest.raises(KeyboardInterrupt):
        predict_to_file(model_dir, [big_table], out, workers=1, chunk_size=200)
    monkeypatch.undo()
    assert InterruptedFile.interrupted
    run = predict_to_file(model_dir, [big_table], out, workers=1, chunk_size=200, resume=True)
    assert not run.failures and run.paragraphs == 8000 and run.resumed_tasks >= 1


def _children(pid: int) -> list:
    import psutil

    return psutil.Process(pid).children(recursive=True)


def _all_gone(procs, timeout: float = 15) -> bool:
    import psutil

    gone, alive = psutil.wait_procs(procs, timeout=timeout)
    return not alive


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_ctrl_c_and_sigterm_stop_cleanly_and_resume(tmp_path, model_dir, reports, big_table, how):
    args = ["predict", model_dir, reports, big_table, "--chunk-size", "300", "--workers", "2"]
    expected = tmp_path / "expected.csv"
    assert run_cli(*args, "--out", expected, "--quiet").returncode == 0

    out = tmp_path / "out.csv"
    proc = _start([*args, "--out", out], "commit:2")
    assert _wait_for_pause(proc)
    workers = _children(proc.pid)
    assert workers
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends: the whole process group
    else:
        os.kill(proc.pid, signal.SIGTERM)   # what a scheduler or `kill` sends: the parent only
    proc.wait(timeout=60)
    stderr = proc.stderr.read()
    proc.stderr.close()
    assert proc.returncode == (130 if how == "ctrl-c" else 143), stderr
    assert "--resume" in stderr and "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert _all_gone(workers), "workers outlived the stopped job"
    r = run_cli(*args, "--out", out, "--resume")
    assert r.returncode == 0, r.stderr
    assert "tasks resumed" in r.stderr
    pd.testing.assert_frame_equal(pd.read_csv(out, dtype=str), pd.read_csv(expected, dtype=str))


def test_workers_die_with_a_killed_parent(tmp_path, model_dir, reports):
    proc = _start(["predict", model_dir, reports, "--chunk-size", "40", "--workers", "2", "--out", tmp_path / "o.csv"],
                  "commit:1")
    assert _wait_for_pause(proc)
    workers = _children(proc.pid)
    assert len(workers) >= 2
    os.kill(proc.pid, signal.SIGKILL)  # the parent alone, as an OOM killer or `kill -9 PID` would
    proc.wait(timeout=30)
    proc.stderr.close()
    assert _all_gone(workers, timeout=10), [w.pid for w in workers if w.is_running()]
