"""The evaluation report: files written by the CLI, and report.html rendered in a real browser."""
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from conftest import run_cli
from pipeline.evaluation import evaluate_report
from pipeline.report import render_markdown, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def report(trained_model, corpus, small_corpus):
    held = corpus[~corpus["doc_id"].isin(small_corpus["doc_id"])].head(300).reset_index(drop=True)
    return evaluate_report(trained_model, held, max_errors=20)


def _need_chromium():
    if CHROMIUM:
        return CHROMIUM
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("chromium is not installed, and CI=true: .ci/run must install it (apt-get install -y chromium)")
    pytest.skip("chromium not installed (Debian: apt-get install -y chromium); required when CI=true")


def test_report_html_renders_in_headless_chromium(report, tmp_path):
    chromium = _need_chromium()
    paths = write_report(report, tmp_path / "rep")
    url = paths["html"].resolve().as_uri()
    shot = tmp_path / "shot.png"
    common = [chromium, *CHROME_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    r = subprocess.run([*common, f"--screenshot={shot}", "--window-size=1200,2000", url],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    dom = subprocess.run([*common, "--virtual-time-budget=5000", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    # No JavaScript error or failed figure was logged to the console, and every figure decoded.
    console = [line for line in (r.stderr + dom.stderr).splitlines() if ":CONSOLE" in line]
    assert not console, console
    loaded = re.search(r'data-figures-loaded="(\d+)/(\d+)"', dom.stdout)
    assert loaded and loaded.group(1) == loaded.group(2) == "4", loaded
    # Chinese paragraphs render with real glyphs, not missing-glyph boxes (.ci/run installs
    # fonts-noto-cjk where missing; the page names the fonts it wants).
    assert 'data-cjk-glyphs="ok"' in dom.stdout, "Chinese text renders as missing glyphs: install fonts-noto-cjk"
    assert "Confusion matrix" in dom.stdout and "Errors" in dom.stdout
    # The screenshot is not blank: many non-white pixels and real variation.
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (2000, 1200)
    assert pixels.std() > 0.05
    assert (pixels.min(axis=2) < 0.9).mean() > 0.02


def test_missing_chinese_fonts_are_detected(report, tmp_path):
    """The glyph check can fail: with a font configuration that holds no Chinese font, the page
    must say the glyphs are missing (so the check above is not vacuous)."""
    chromium = _need_chromium()
    latin = [d for d in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation") if os.path.isdir(d)]
    if not latin:
        pytest.skip("no Latin-only font folder to build a font configuration without Chinese fonts")
    conf = tmp_path / "fonts.conf"
    conf.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
                    + "".join(f"<dir>{d}</dir>" for d in latin)
                    + f"<cachedir>{tmp_path / 'fc-cache'}</cachedir></fontconfig>", encoding="utf-8")
    paths = write_report(report, tmp_path / "rep")
    dom = subprocess.run([chromium, *CHROME_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
                          "--dump-dom", paths["html"].resolve().as_uri()], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "FONTCONFIG_FILE": str(conf)})
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-cjk-glyphs="missing"' in dom.stdout


def test_error_table_reads_left_to_right(report, tmp_path):
    html = write_report(report, tmp_path / "rep")["html"].read_text(encoding="utf-8")
    errors = html[html.index("<h2>Errors"):]
    assert '<th class="l">text</th>' in errors and '<th class="l">gold</th>' in errors
    assert "Microsoft YaHei" in html and "Noto Sans CJK SC" in html and "WenQuanYi" in html


def test_markdown_and_json_agree(report, tmp_path):
    paths = write_report(report, tmp_path / "rep")
    metrics = json.loads(paths["metrics"].read_text(encoding="utf-8"))
    assert {"accuracy", "macro_f1", "n", "per_label", "confusion"} <= set(metrics)
    assert set(metrics["per_label"]["other"]) >= {"precision", "recall", "f1", "support"}
    assert metrics["accuracy"] == pytest.approx(report["accuracy"])
    md = paths["markdown"].read_text(encoding="utf-8")
    assert md == render_markdown(report)
    assert f"{report['accuracy']:.3f}" in md and "baseline: keywords" in md
    html = paths["html"].read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 4 and "<script src" not in html and "http" not in html.lower().replace("http-equiv", "")


def test_cli_cross_validation_report(tmp_path, small_csv):
    out = tmp_path / "cv"
    r = run_cli("evaluate", "--cv", "3", small_csv, "--report", out, "--set", "evaluation.bootstrap_samples=100")
    assert r.returncode == 0, r.stderr
    assert "3-fold CV" in r.stdout and "±" in r.stdout
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    cv = metrics["cv"]
    assert cv["k"] == 3 and len(cv["accuracy"]["folds"]) == 3
    assert cv["accuracy"]["mean"] == pytest.approx(np.mean(cv["accuracy"]["folds"]))
    assert metrics["intervals"]["n_samples"] == 100 and metrics["intervals"]["unit"] == "document"
    assert (out / "report.html").exists() and (out / "report.md").exists()


def test_cli_cross_validation_grouped_by_another_column(tmp_path, small_corpus):
    # The bundled doc_ids start with their writer (a1_…): folds by writer score unseen writers.
    data = small_corpus[["doc_id", "text", "label"]].assign(writer=small_corpus["doc_id"].str.split("_").str[0])
    path = tmp_path / "by_writer.csv"
    data.to_csv(path, index=False)
    n_writers = data["writer"].nunique()
    assert n_writers >= 3
    out = tmp_path / "cv"
    r = run_cli("evaluate", "--cv", "3", path, "--cv-by", "writer", "--report", out,
                "--set", "evaluation.bootstrap_samples=50")
    assert r.returncode == 0, r.stderr
    assert f"3-fold CV over {n_writers} writer groups" in r.stdout
    assert f"bootstrap samples of {n_writers} writer groups" in r.stdout
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["cv"]["grouped_by"] == "writer" and metrics["cv"]["n_groups"] == n_writers
    assert metrics["intervals"]["n_units"] == n_writers
    assert "3 folds grouped by writer)" in (out / "report.md").read_text(encoding="utf-8")

    r = run_cli("evaluate", "--cv", "3", path, "--cv-by", "unit")
    assert r.returncode == 2 and "no column 'unit' to group the folds by" in r.stderr


def test_cli_evaluate_usage_errors(tmp_path, small_csv, model_dir):
    r = run_cli("evaluate", small_csv)
    assert r.returncode == 2 and "evaluate MODEL_DIR DATA" in r.stderr and "--cv K" in r.stderr
    r = run_cli("evaluate", "--cv", "3", model_dir, small_csv)
    assert r.returncode == 2 and "model folder" in r.stderr
    r = run_cli("evaluate", model_dir, small_csv, "--set", "classifier.C=1")
    assert r.returncode == 2 and "only with --cv" in r.stderr
    r = run_cli("evaluate", model_dir, small_csv, "--cv-by", "doc_id")
    assert r.returncode == 2 and "--cv-by applies only with --cv" in r.stderr
    r = run_cli("evaluate")
    assert r.returncode == 2 and "usage" in r.stderr
