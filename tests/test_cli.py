import json

import pandas as pd

from conftest import run_cli


def test_train_evaluate_predict_end_to_end(tmp_path, small_csv, corpus, small_corpus):
    model = tmp_path / "model"
    r = run_cli("train", small_csv, "--out", model, "--quiet")
    assert r.returncode == 0, r.stderr
    assert sorted(q.name for q in model.iterdir()) == ["arrays.npz", "card.json", "state.json"]

    held_out = corpus[~corpus["doc_id"].isin(small_corpus["doc_id"])].head(300)
    test_csv = tmp_path / "test.csv"
    held_out.to_csv(test_csv, index=False)
    r = run_cli("evaluate", model, test_csv, "--report", tmp_path / "report")
    assert r.returncode == 0, r.stderr
    assert "accuracy" in r.stdout and "macro-F1" in r.stdout
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["n"] == 300
    assert {"accuracy", "macro_f1", "per_label", "confusion"} <= set(metrics)
    assert sum(v["support"] for v in metrics["per_label"].values()) == 300

    # A table keeps its order and its other columns; raw reports get doc_id/para_index.
    table = held_out[["doc_id", "para_index", "text"]].assign(my_id=range(300)).sample(frac=1, random_state=1)
    table_csv = tmp_path / "table.csv"
    table.to_csv(table_csv, index=False)
    r = run_cli("predict", model, table_csv, "--out", tmp_path / "pred.parquet", "--quiet")
    assert r.returncode == 0, r.stderr
    pred = pd.read_parquet(tmp_path / "pred.parquet")
    # CSV columns are carried as text, so ids like "007" keep their zeros.
    assert pred["my_id"].tolist() == table["my_id"].astype(str).tolist()
    assert {"label", "score"} <= set(pred.columns) and any(c.startswith("prob_") for c in pred.columns)

    report = tmp_path / "reports" / "r.txt"
    report.parent.mkdir()
    report.write_text("某局对照检查材料\n一、存在的问题\n一是理论学习不深入，学用脱节。\n二是落实八项规定精神不严。\n", encoding="utf-8")
    r = run_cli("predict", model, report.parent, "--out", tmp_path / "pred.jsonl", "--quiet")
    assert r.returncode == 0, r.stderr
    rows = pd.read_json(tmp_path / "pred.jsonl", lines=True)
    assert rows["para_index"].tolist() == [0, 1, 2, 3] and (rows["doc_id"] == "r").all()


def test_ingest_and_explain(tmp_path, model_dir):
    report = tmp_path / "r.txt"
    report.write_text("一、检视问题\n一是理论学习不深入。\n二、整改措施\n一是加强学习。\n", encoding="utf-8")
    r = run_cli("ingest", report, "--out", tmp_path / "p.csv")
    assert r.returncode == 0, r.stderr
    frame = pd.read_csv(tmp_path / "p.csv")
    assert frame["role"].tolist() == ["frame", "problem", "frame", "measure"]
    r = run_cli("explain", model_dir)
    assert r.returncode == 0 and "discipline:" in r.stdout
    r = run_cli("explain", model_dir, "严格落实中央八项规定精神")
    assert r.returncode == 0 and "label: discipline" in r.stdout


def test_bad_input_exits_2_with_one_line(tmp_path, model_dir):
    bad = tmp_path / "bad.csv"
    bad.write_text("body\n甲\n", encoding="utf-8")
    r = run_cli("train", bad, "--out", tmp_path / "m")
    assert r.returncode == 2
    assert "bad.csv" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("evaluate", tmp_path / "nope", bad)
    assert r.returncode == 2 and "not a model folder" in r.stderr
    r = run_cli("predict", model_dir, bad, "--out", tmp_path / "x.txt")
    assert r.returncode == 2
    assert not (tmp_path / "m").exists() and not (tmp_path / "x.txt").exists()


def test_usage_error_exits_2():
    assert run_cli("train").returncode == 2
