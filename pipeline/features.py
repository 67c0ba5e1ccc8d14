"""Features: TF-IDF over jieba words (1–2-grams) joined with TF-IDF over characters (1–3-grams).

Character n-grams carry over between authors and segmenters (a word the dictionary cuts
differently still shares its characters); words add the domain terms whole (两个维护, 八项规定).
"""
from __future__ import annotations

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from .preprocess import Segmenter


def build_features(config: dict) -> FeatureUnion:
    pre, feats = config["preprocess"], config["features"]
    segmenter = Segmenter(backend=pre["backend"], hmm=pre["hmm"], use_stopwords=pre["use_stopwords"])
    words = TfidfVectorizer(
        tokenizer=segmenter,
        token_pattern=None,  # the default pattern would drop one-character words (党, 税)
        lowercase=False,
        ngram_range=(1, feats["word_ngram_max"]),
        min_df=feats["word_min_df"],
        sublinear_tf=feats["sublinear_tf"],
        max_features=feats["max_features"],
        dtype=_float32(),
    )
    chars = TfidfVectorizer(
        analyzer="char",
        lowercase=False,
        ngram_range=(feats["char_ngram_min"], feats["char_ngram_max"]),
        min_df=feats["char_min_df"],
        sublinear_tf=feats["sublinear_tf"],
        max_features=feats["max_features"],
        dtype=_float32(),
    )
    return FeatureUnion([("words", words), ("chars", chars)])


def _float32():
    import numpy as np

    return np.float32
