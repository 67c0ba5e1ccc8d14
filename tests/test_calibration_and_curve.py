"""Scores calibrated on grouped folds, every setting validated, and the learning curve."""
import json

import numpy as np
import pytest

import pipeline
from conftest import run_cli
from pipeline.config import ConfigError, load_config, merge_config
from pipeline.errors import InputError
from pipeline.evaluation import learning_curve


def _writers(frame):
    # Three "writers" over the small corpus's documents, so folds can hold a writer out.
    docs = sorted(frame["doc_id"].unique())
    writer = {d: f"w{i % 3}" for i, d in enumerate(docs)}
    return frame.assign(writer=frame["doc_id"].map(writer))


def test_calibration_folds_never_split_a_group(small_corpus):
    frame = _writers(small_corpus)
    model = pipeline.train(frame, config={"classifier": {"calibration_by": "writer"}})
    clf = model.pipeline[-1]
    assert clf.calibrated_by_ == "3 groups"
    writers = frame["writer"].to_numpy()
    splits = clf.calibrated_.cv
    assert len(splits) == 3
    for train, test in splits:
        assert not set(writers[train]) & set(writers[test])
    # default: folds hold whole documents
    model = pipeline.train(small_corpus)
    docs = small_corpus["doc_id"].to_numpy()
    for train, test in model.pipeline[-1].calibrated_.cv:
        assert not set(docs[train]) & set(docs[test])
    assert np.allclose(model.predict_proba(["严格落实中央八项规定精神"]).sum(), 1.0)


def test_calibration_by_a_missing_column_names_it(small_corpus):
    with pytest.raises(InputError, match="calibration_by names the column 'writer'"):
        pipeline.train(small_corpus.drop(columns=["writer"], errors="ignore"),
                       config={"classifier": {"calibration_by": "writer"}})


def test_texts_without_groups_calibrate_on_rows():
    texts = [f"严格落实八项规定第{i}条" for i in range(12)] + [f"加强理论学习第{i}次" for i in range(12)]
    model = pipeline.train(texts, ["discipline"] * 12 + ["ideology"] * 12)
    # each text is its own group when no doc_id is given: as many groups as rows
    assert model.pipeline[-1].calibrated_by_ == "24 groups"


@pytest.mark.parametrize("override, key", [
    ("classifier.C=abc", "classifier.C"), ("classifier.C=-1", "classifier.C"), ("classifier.C=0", "classifier.C"),
    ("classifier.calibration_folds=1", "classifier.calibration_folds"), ("classifier.max_iter=0", "classifier.max_iter"),
    ("classifier.max_iter=2.5", "classifier.max_iter"), ("classifier.n_jobs=0", "classifier.n_jobs"),
    ("features.char_ngram_max=true", "features.char_ngram_max"), ("preprocess.hmm=1", "preprocess.hmm"),
    ("evaluation.low_confidence=1.5", "evaluation.low_confidence"), ("classifier.type=forest", "classifier.type"),
    ("classifier.tol=null", "classifier.tol"), ("classifier.calibration_by=", "classifier.calibration_by"),
])
def test_every_bad_setting_is_named(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(None, [override])


def test_bad_settings_fail_the_same_way_from_toml_and_the_api(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[classifier]\nC = -1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"classifier\.C = -1"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"classifier\.C = 'abc'"):
        merge_config({"classifier": {"C": "abc"}})
    with pytest.raises(ConfigError, match=r"classifier\.calibration_folds = 1"):
        pipeline.train(["一", "二"], ["a", "b"], config={"classifier": {"calibration_folds": 1}})


@pytest.mark.parametrize("override", ["classifier.C=abc", "classifier.C=-1", "classifier.calibration_folds=1",
                                      "classifier.max_iter=0"])
def test_cli_rejects_bad_settings_in_one_line(tmp_path, small_csv, override):
    result = run_cli("train", small_csv, "--out", tmp_path / "m", "--set", override)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and override.split("=")[0] in lines[0], result.stderr
    assert not (tmp_path / "m").exists()


def test_learning_curve_grows_and_reports(small_corpus, tmp_path):
    frame = _writers(small_corpus)
    curve = learning_curve({}, frame, 3, cv_by="writer", fractions=(0.25, 0.5, 1.0))
    points = curve["points"]
    assert [p["fraction"] for p in points] == [0.25, 0.5, 1.0]
    sizes = [p["train_paragraphs"] for p in points]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1] / 2
    for p in points:
        assert p["accuracy_low"] <= p["accuracy"] <= p["accuracy_high"]
    # more data should not hurt much, and the smallest share is clearly worse than all of it here
    assert points[-1]["accuracy"] > points[0]["accuracy"]
    assert curve["gain_per_doubling"] is not None and curve["verdict"]


def test_learning_curve_share_too_small_is_skipped_not_fatal(small_corpus):
    curve = learning_curve({}, small_corpus, 3, fractions=(0.01, 1.0))
    assert "skipped" in curve["points"][0] and "accuracy" in curve["points"][1]


def test_cli_learning_curve_in_the_report(tmp_path, small_csv):
    out = tmp_path / "rep"
    result = run_cli("evaluate", "--cv", "3", "--learning-curve", small_csv, "--report", out, "-q")
    assert result.returncode == 0, result.stderr
    assert "learning curve" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert len(metrics["learning_curve"]["points"]) == 5
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Learning curve" in page and 'alt="learning curve' in page
    result = run_cli("evaluate", "--learning-curve", tmp_path, small_csv)
    assert result.returncode == 2 and "only with --cv" in result.stderr
