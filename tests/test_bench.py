"""The benchmark script runs end to end on a tiny slice (numbers are not checked: speed lives
in benchmarks, not tests), and the fast vectorizer computes what scikit-learn's does."""
import importlib.util
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from conftest import REPO
from pipeline.features import NgramTfidfVectorizer
from pipeline.preprocess import Segmenter, normalize_texts


def _bench():
    spec = importlib.util.spec_from_file_location("bench_fasttext", REPO / "benchmarks" / "bench_fasttext.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_fasttext"] = module
    spec.loader.exec_module(module)
    return module


def test_benchmark_smoke_on_report_corpus():
    bench = _bench()
    result = bench.run("reports", limit=300)
    ours = result["results"]["ours"]
    assert 0 <= ours["accuracy"] <= 1 and ours["train_seconds"] > 0 and ours["model_bytes"] > 0
    assert ours["peak_rss_mb"] > 10
    assert "ours" in result["table"]
    if bench.fasttext_available():
        assert "fastText" in result["results"] and result["results"]["fastText"]["predict_seconds"] > 0
    else:
        assert any("fastText skipped" in n for n in result["notes"])
        pytest.skip("fastText part not run: package not installed (pip install '.[bench]'); our part passed")


@pytest.mark.parametrize("kwargs", [
    dict(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True),
    dict(analyzer="char", ngram_range=(2, 5), min_df=1),  # > 63 bits: string fallback
    dict(analyzer="word", ngram_range=(1, 2), min_df=1, sublinear_tf=True),
    dict(analyzer="word", ngram_range=(1, 3), min_df=2),
])
def test_fast_vectorizer_matches_sklearn(corpus, kwargs):
    texts = normalize_texts(corpus["text"].head(400).tolist())
    train, test = texts[:300], texts[300:] + ["全新的没见过的词语组合xyz", ""]
    seg = Segmenter("rjieba")
    ours = NgramTfidfVectorizer(**kwargs, tokenizer=seg if kwargs["analyzer"] == "word" else None)
    ref_kwargs = {k: v for k, v in kwargs.items() if k != "analyzer"}
    ref = (TfidfVectorizer(analyzer="char", lowercase=False, **ref_kwargs) if kwargs["analyzer"] == "char"
           else TfidfVectorizer(tokenizer=seg, token_pattern=None, lowercase=False, **ref_kwargs))
    a, b = ours.fit_transform(train), ref.fit_transform(train)
    names_a, names_b = ours.get_feature_names_out(), ref.get_feature_names_out()
    assert sorted(names_a) == sorted(names_b)
    perm = pd.Index(names_a).get_indexer(names_b)
    assert abs(a[:, perm] - b).max() < 1e-6
    assert abs(ours.transform(test)[:, perm] - ref.transform(test)).max() < 1e-6
    assert ours.vocabulary_[names_a[5]] == 5
