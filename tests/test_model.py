import json
import subprocess
import sys

import numpy as np
import pytest

import pipeline
from pipeline.config import load_config, merge_config
from pipeline.errors import ConfigError, InputError, ModelError


def test_predict_and_proba_agree(trained_model, small_corpus):
    texts = small_corpus["text"].tolist()[:50]
    proba = trained_model.predict_proba(texts)
    assert proba.shape == (50, len(trained_model.labels))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    table = trained_model.classify(texts)
    assert table["label"].tolist() == list(trained_model.predict(texts))
    assert set(table.columns) == {"label", "score", *(f"prob_{l}" for l in trained_model.labels)}


def test_model_learns_more_than_the_majority(trained_model, corpus, small_corpus):
    held_out = corpus[~corpus["doc_id"].isin(small_corpus["doc_id"])]
    metrics = pipeline.evaluate(trained_model, held_out)
    majority = held_out["label"].value_counts(normalize=True).iloc[0]
    assert metrics["accuracy"] > majority + 0.3


def test_saved_model_loads_in_a_new_process(model_dir, trained_model):
    texts = ["一是理论学习不够深入，学懂弄通做实有差距。", "严格落实中央八项规定精神，坚决反对特权思想。"]
    code = ("import json, sys, pipeline; m = pipeline.load(sys.argv[1]); "
            "print(json.dumps({'labels': list(m.predict(json.loads(sys.argv[2]))), 'proba': m.predict_proba(json.loads(sys.argv[2])).tolist()}))")
    out = subprocess.run([sys.executable, "-c", code, str(model_dir), json.dumps(texts)], capture_output=True, text=True, check=True)
    got = json.loads(out.stdout)
    assert got["labels"] == list(trained_model.predict(texts))
    # exact: the saved arrays are the fitted ones, and JSON writes floats in their shortest exact form
    assert got["proba"] == trained_model.predict_proba(texts).tolist()


def test_card_describes_the_model(model_dir, small_corpus):
    card = json.loads((model_dir / "card.json").read_text(encoding="utf-8"))
    assert card["training_data"]["rows"] == len(small_corpus)
    assert len(card["training_data"]["sha256"]) == 64
    assert card["labels"] == sorted(small_corpus["label"].unique())
    assert card["versions"]["scikit-learn"]
    assert card["config"]["classifier"]["type"] == "linear_svc"


def test_tampered_model_is_refused(model_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(model_dir, copy)
    with open(copy / "arrays.npz", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelError, match="sha256"):
        pipeline.load(copy)


def test_saving_over_a_model_replaces_it_whole(trained_model, tmp_path):
    target = tmp_path / "m"
    trained_model.save(target)
    trained_model.save(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    assert pipeline.load(target).labels == trained_model.labels


@pytest.mark.parametrize("kind", ["logistic_regression", "sgd"])
def test_other_classifiers_give_scores(kind, small_corpus):
    model = pipeline.train(small_corpus.head(600), config={"classifier": {"type": kind}})
    proba = model.predict_proba(["加强党风廉政建设"])
    assert proba.shape == (1, len(model.labels)) and abs(proba.sum() - 1) < 1e-6


def test_unknown_config_key_is_rejected():
    with pytest.raises(ConfigError, match="classifier.kernel"):
        merge_config({"classifier": {"kernel": "rbf"}})
    with pytest.raises(ConfigError, match="choose one of"):
        merge_config({"classifier": {"type": "forest"}})


def test_config_file_and_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[classifier]\ntype = "logistic_regression"\nC = 4.0\n', encoding="utf-8")
    config = load_config(path, ["features.char_ngram_max=2"])
    assert config["classifier"]["type"] == "logistic_regression" and config["classifier"]["C"] == 4.0
    assert config["features"]["char_ngram_max"] == 2


def test_single_label_training_data_is_explained():
    with pytest.raises(InputError, match="at least two labels"):
        pipeline.train(["甲", "乙", "丙"], ["a", "a", "a"])


def test_label_with_one_example_is_explained():
    with pytest.raises(InputError, match="fewer than"):
        pipeline.train(["甲", "乙", "丙", "丁"], ["a", "a", "a", "b"])
