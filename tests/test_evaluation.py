"""The evaluation numbers themselves, on cases small enough to work out by hand."""
import numpy as np
import pandas as pd
import pytest

from pipeline.baselines import KeywordClassifier, MajorityBaseline, load_keywords
from pipeline.evaluation import (_codes, _weighted_scores, bootstrap_intervals, calibration_table, compute_metrics,
                                 confused_pairs, error_table, evaluate_report, top_k_accuracy)

GOLD = ["a", "a", "b", "b", "c"]
PRED = ["a", "b", "b", "b", "a"]


def test_metrics_by_hand():
    m = compute_metrics(GOLD, PRED, ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(3 / 5)
    # a: P 1/2 R 1/2 F 1/2; b: P 2/3 R 1 F 0.8; c: F 0
    assert m["per_label"]["a"]["f1"] == pytest.approx(0.5)
    assert m["per_label"]["b"]["precision"] == pytest.approx(2 / 3)
    assert m["per_label"]["b"]["f1"] == pytest.approx(0.8)
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 0) / 3)
    assert m["confusion"]["matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert m["confusion"]["normalized"] == [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]


def test_confused_pairs_largest_first():
    m = compute_metrics(["a", "a", "a", "b"], ["b", "b", "a", "a"], ["a", "b"])
    assert confused_pairs(m["confusion"]) == [
        {"gold": "a", "predicted": "b", "count": 2, "share_of_gold": pytest.approx(2 / 3)},
        {"gold": "b", "predicted": "a", "count": 1, "share_of_gold": 1.0},
    ]


def test_top2_accuracy():
    proba = np.array([[0.6, 0.3, 0.1],   # gold a: top-1
                      [0.5, 0.4, 0.1],   # gold b: second
                      [0.5, 0.4, 0.1],   # gold c: third -> miss
                      [0.2, 0.2, 0.6]])  # gold a: tie with b for second; first-listed (a) wins
    assert top_k_accuracy(["a", "b", "c", "a"], proba, ["a", "b", "c"], k=2) == pytest.approx(3 / 4)
    assert top_k_accuracy(["a", "b", "c", "a"], proba, ["a", "b", "c"], k=1) == pytest.approx(1 / 4)


def test_expected_calibration_error_by_hand():
    # bin 0.9-1.0: scores .95/.95, one right -> |0.5-0.95|; bin 0.6-0.7: scores .65/.65, both right -> |1-0.65|
    proba = np.array([[0.95, 0.05], [0.95, 0.05], [0.65, 0.35], [0.35, 0.65]])
    cal = calibration_table(["x", "y", "x", "y"], proba, ["x", "y"], n_bins=10)
    assert cal["ece"] == pytest.approx(0.5 * 0.45 + 0.5 * 0.35)
    row9, row6 = cal["bins"][9], cal["bins"][6]
    assert (row9["count"], row9["accuracy"], row9["mean_score"]) == (2, 0.5, pytest.approx(0.95))
    assert (row6["count"], row6["accuracy"]) == (2, 1.0)
    assert sum(b["count"] for b in cal["bins"]) == 4


def test_perfectly_calibrated_scores_have_zero_ece():
    proba = np.array([[1.0, 0.0]] * 3)
    assert calibration_table(["x"] * 3, proba, ["x", "y"])["ece"] == 0.0


def test_weighted_scores_match_sklearn_metrics():
    rng = np.random.default_rng(1)
    gold = rng.choice(list("abcd"), 200)
    pred = np.where(rng.random(200) < 0.7, gold, rng.choice(list("abcd"), 200))
    t, p, n = _codes(gold, pred)
    acc, mf1 = _weighted_scores(t, p, n, np.ones(len(t)))
    m = compute_metrics(gold, pred)
    assert acc == pytest.approx(m["accuracy"]) and mf1 == pytest.approx(m["macro_f1"])
    # weights 2 on a row = that row twice
    w = np.ones(len(t)); w[:10] = 2
    acc2, mf12 = _weighted_scores(t, p, n, w)
    m2 = compute_metrics(list(gold) + list(gold[:10]), list(pred) + list(pred[:10]))
    assert acc2 == pytest.approx(m2["accuracy"]) and mf12 == pytest.approx(m2["macro_f1"])


def test_bootstrap_contains_point_and_is_deterministic():
    rng = np.random.default_rng(0)
    gold = rng.choice(list("abc"), 300)
    pred = np.where(rng.random(300) < 0.8, gold, rng.choice(list("abc"), 300))
    a = bootstrap_intervals(gold, pred, n_samples=300, random_state=7)
    b = bootstrap_intervals(gold, pred, n_samples=300, random_state=7)
    assert a == b
    assert a["unit"] == "paragraph" and a["n_units"] == 300
    for key in ("accuracy", "macro_f1"):
        assert a[key]["low"] < a[key]["point"] < a[key]["high"]
    assert a["accuracy"]["point"] == pytest.approx(np.mean(gold == pred))
    assert a["accuracy"]["high"] - a["accuracy"]["low"] < 0.2
    assert bootstrap_intervals(gold, pred, n_samples=300, random_state=8) != a


def test_grouped_bootstrap_resamples_whole_documents():
    # doc A: 10 paragraphs all right; doc B: 10 all wrong. Resampling documents can only give
    # accuracy 0, 0.5 or 1; resampling paragraphs would give values in between.
    gold = ["a"] * 20
    pred = ["a"] * 10 + ["b"] * 10
    groups = ["A"] * 10 + ["B"] * 10
    iv = bootstrap_intervals(gold, pred, groups, n_samples=200, random_state=0)
    assert iv["unit"] == "document" and iv["n_units"] == 2
    assert {iv["accuracy"]["low"], iv["accuracy"]["high"]} <= {0.0, 0.5, 1.0}
    assert iv["accuracy"]["low"] == 0.0 and iv["accuracy"]["high"] == 1.0
    flat = bootstrap_intervals(gold, pred, None, n_samples=200, random_state=0)
    assert flat["unit"] == "paragraph" and 0.25 < flat["accuracy"]["low"] < 0.5 < flat["accuracy"]["high"] < 0.75


def test_majority_baseline():
    m = MajorityBaseline().fit(None, ["b", "a", "b", "c"])
    assert m.label_ == "b" and list(m.predict(["x", "y"])) == ["b", "b"]


def test_keyword_rules_weigh_occurrences_by_length():
    rules = KeywordClassifier({"discipline": ["八项规定", "纪律"], "ideology": ["理论学习"]}, default="other").fit()
    pred = rules.predict(["严守八项规定", "加强理论学习，落实八项规定、八项规定", "加强理论学习，守纪律", "无关的话"])
    # 2nd: 4×2 vs 4 -> discipline; 3rd: 理论学习 (4) vs 纪律 (2) -> ideology
    assert list(pred) == ["discipline", "discipline", "ideology", "other"]


def test_bundled_keywords_cover_the_taxonomy():
    keywords, default = load_keywords()
    assert default == "other"
    assert {"politics", "ideology", "organization", "work_style", "discipline", "performance"} <= set(keywords)
    assert list(KeywordClassifier().predict(["严格落实中央八项规定精神", "坚决做到两个维护"])) == ["discipline", "politics"]


def test_error_table_orders_confident_mistakes_first():
    frame = pd.DataFrame({"text": ["t1", "t2", "t3"], "label": ["a", "b", "c"], "doc_id": ["d", "d", "e"]})
    rows = error_table(frame, ["a", "a", "a"], [0.9, 0.6, 0.8], terms=[[], [("w:x", 0.5)], []])
    assert [r["text"] for r in rows] == ["t3", "t2"]
    assert rows[1]["terms"] == [["w:x", 0.5]] and rows[0]["doc_id"] == "e"


def test_evaluate_report_is_consistent(trained_model, corpus, small_corpus):
    held = corpus[~corpus["doc_id"].isin(small_corpus["doc_id"])].head(200).reset_index(drop=True)
    report = evaluate_report(trained_model, held, max_errors=5)
    assert report["n"] == 200
    assert report["n_errors"] == round((1 - report["accuracy"]) * 200)
    assert report["accuracy"] <= report["top2_accuracy"] <= 1
    assert report["intervals"]["unit"] == "document"
    assert report["intervals"]["accuracy"]["point"] == pytest.approx(report["accuracy"])
    assert len(report["errors"]) == min(5, report["n_errors"])
    assert all(e["gold"] != e["predicted"] and e["terms"] for e in report["errors"])
    assert report["accuracy"] > report["baselines"]["majority"]["accuracy"]
    assert report["accuracy"] > report["baselines"]["keywords"]["accuracy"]
    assert np.sum(report["confusion"]["matrix"]) == 200


def test_bootstrap_with_too_few_documents_resamples_paragraphs_and_says_so():
    from pipeline.evaluation import bootstrap_intervals

    gold = ["a", "b"] * 20
    pred = ["a", "b"] * 15 + ["b", "a"] * 5
    one_doc = bootstrap_intervals(gold, pred, ["d1"] * 40, n_samples=200)
    assert one_doc["unit"] == "paragraph" and "too narrow" in one_doc["note"]
    assert one_doc["accuracy"]["low"] < one_doc["accuracy"]["point"] < one_doc["accuracy"]["high"]
    many = bootstrap_intervals(gold, pred, [f"d{i // 2}" for i in range(40)], n_samples=200)
    assert many["unit"] == "document" and many["note"] == ""
