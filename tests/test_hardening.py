"""Issue 12's newcomer findings: columns never clobbered, a fast --help, readable explanations,
and a majority baseline that knows only what the model knew."""
import subprocess
import sys

import pandas as pd
import pytest

import pipeline
from conftest import REPO, run_cli
from pipeline.batch import predict_inputs, predict_to_file
from pipeline.evaluation import evaluate_report
from pipeline.explain import top_terms

HEAVY = ("sklearn", "pandas", "numpy", "scipy", "jieba", "rjieba", "pyarrow", "matplotlib")


def test_importing_the_package_and_cli_loads_no_heavy_library():
    code = ("import sys, pipeline, pipeline.cli; pipeline.cli.build_parser(); "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]", out.stdout
    # and the lazy names still work
    out = subprocess.run([sys.executable, "-c", "import pipeline; print(pipeline.train.__name__)"],
                         capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "train"


def test_help_texts_are_whole_and_agree_with_the_options():
    top = run_cli("--help")
    assert top.returncode == 0 and "cmd_*" not in top.stdout and "COMMAND --help" in top.stdout
    ev = run_cli("evaluate", "--help").stdout
    usage, options = ev.split("\n\n", 1)[0], ev.split("options:", 1)[1]
    assert "--config FILE" in usage and "--config FILE" in options
    for option in ("--cv-by COLUMN", "--learning-curve", "--set SECTION.KEY=VALUE"):
        assert option in usage and option in options
    assert "[options]" in usage and "--text-col" in options and "--quiet" in options


def test_gold_label_column_is_kept_and_predictions_take_a_prefix(tmp_path, model_dir, corpus):
    table = tmp_path / "gold.csv"
    corpus[["doc_id", "para_index", "text", "label"]].head(60).to_csv(table, index=False)
    out = tmp_path / "p.csv"
    run = predict_to_file(model_dir, [table], out, workers=1)
    assert not run.failures
    got = pd.read_csv(out)
    pd.testing.assert_series_equal(got["label"], corpus["label"].head(60), check_names=False)
    assert {"pred_label", "pred_score"} <= set(got.columns) and "score" not in got.columns
    assert any(c.startswith("pred_prob_") for c in got.columns)
    # the in-memory API follows the same convention
    frame = predict_inputs(pipeline.load(model_dir), [table]).frame
    assert (frame["label"].to_numpy() == corpus["label"].head(60).to_numpy()).all() and "pred_label" in frame


def test_any_other_clash_is_an_error_naming_file_and_column(tmp_path, model_dir, corpus):
    table = tmp_path / "scored.csv"
    corpus[["doc_id", "text"]].head(20).assign(score="7").to_csv(table, index=False)
    r = run_cli("predict", model_dir, table, "--out", tmp_path / "p.csv", "--workers", "1")
    assert r.returncode == 2
    errors = pd.read_csv(tmp_path / "p.errors.csv")
    assert "scored.csv" in errors["reason"][0] and "score" in errors["reason"][0]
    assert "would be overwritten" in r.stderr


def test_explain_lists_terms_a_reader_can_use(model_dir):
    model = pipeline.load(model_dir)
    terms = top_terms(model, n=15)
    words = [t.split(":", 1)[1].replace(" ", "") for t in terms["term"]]
    assert all(len(w) >= 2 for w in words), [w for w in words if len(w) < 2]
    assert all(any(ch.isalnum() for ch in w) for w in words)
    assert len(terms) == 15 * len(model.labels)
    r = run_cli("explain", model_dir, "--top", "8")
    shown = [t for line in r.stdout.splitlines() for t in line.split(":", 1)[1].split("  ") if t.strip()]
    assert all(len(t.split(":", 1)[1].replace(" ", "")) >= 2 for t in shown), shown


def test_majority_baseline_uses_the_training_labels(small_corpus):
    model = pipeline.train(small_corpus)
    counts = small_corpus["label"].value_counts()
    assert model.card["training_data"]["label_counts"] == {k: int(v) for k, v in sorted(counts.items())}
    rare = counts.index[-1]  # an evaluation set whose own majority is the training set's rarest label
    held = small_corpus[small_corpus["label"] == rare].head(30)
    report = evaluate_report(model, held)
    assert f"always {counts.index[0]!r}" in report["baselines"]["majority"]["description"]
    assert report["baselines"]["majority"]["accuracy"] == 0.0
