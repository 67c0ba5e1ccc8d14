"""Features: TF-IDF over jieba words (1–2-grams) joined with TF-IDF over characters (1–3-grams).

Character n-grams carry over between authors and segmenters (a word the dictionary cuts
differently still shares its characters); words add the domain terms whole (两个维护, 八项规定).

``NgramTfidfVectorizer`` computes the same numbers as scikit-learn's ``TfidfVectorizer``
(smooth idf, optional sublinear tf, l2 rows; vocabulary pruned by ``min_df`` then
``max_features``) but counts n-grams with numpy instead of one Python dict lookup per n-gram,
which was two thirds of prediction time. Each token gets an integer id (a character its code
point, a word its index in the training word list) and an n-gram is the integer formed by
its ids in base ``2**bits``; counting, vocabulary look-up and pruning are then array
operations. When n-grams do not fit in 63 bits (long n-grams over a huge word list) it falls
back to counting strings, which is slower but gives the same result.
"""
from __future__ import annotations

from itertools import chain

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import FeatureUnion
from sklearn.utils.validation import check_is_fitted

from .preprocess import Segmenter
from .state import StateReader, StateWriter

_CHAR_BITS = 21  # every Unicode code point (+1) fits in 21 bits


def build_features(config: dict) -> FeatureUnion:
    pre, feats = config["preprocess"], config["features"]
    segmenter = Segmenter(backend=pre["backend"], hmm=pre["hmm"], use_stopwords=pre["use_stopwords"])
    words = NgramTfidfVectorizer(
        analyzer="word",
        tokenizer=segmenter,
        ngram_range=(1, feats["word_ngram_max"]),
        min_df=feats["word_min_df"],
        sublinear_tf=feats["sublinear_tf"],
        max_features=feats["max_features"],
        dtype=np.float32,
    )
    chars = NgramTfidfVectorizer(
        analyzer="char",
        ngram_range=(feats["char_ngram_min"], feats["char_ngram_max"]),
        min_df=feats["char_min_df"],
        sublinear_tf=feats["sublinear_tf"],
        max_features=feats["max_features"],
        dtype=np.float32,
    )
    return FeatureUnion([("words", words), ("chars", chars)])


class NgramTfidfVectorizer(TransformerMixin, BaseEstimator):
    """TF-IDF over word n-grams (``analyzer="word"``, words from ``tokenizer``) or character
    n-grams (``analyzer="char"``, spaces included, text used as given).

    Same weighting as ``TfidfVectorizer(norm="l2", use_idf=True, smooth_idf=True)``. Word
    n-grams are named by their words joined with a space, as scikit-learn does.
    """

    def __init__(self, analyzer: str = "char", tokenizer=None, ngram_range: tuple[int, int] = (1, 1),
                 min_df: int | float = 1, max_features: int | None = None, sublinear_tf: bool = False,
                 dtype=np.float64):
        self.analyzer = analyzer
        self.tokenizer = tokenizer
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.dtype = dtype

    # ---- tokens as integer ids -------------------------------------------------------------
    def _tokens(self, texts):
        """(ids, lengths, words): one id per token of all texts concatenated; tokens per text."""
        if self.analyzer == "char":
            joined = "".join(texts)
            ids = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.int64) + 1
            return ids, np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)), None
        if self.analyzer != "word":
            raise ValueError(f"analyzer must be 'word' or 'char', got {self.analyzer!r}")
        if self.tokenizer is None:
            lists = [t.split() for t in texts]
        elif hasattr(self.tokenizer, "segment_many"):
            lists = self.tokenizer.segment_many(texts)
        else:
            lists = [self.tokenizer(t) for t in texts]
        lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        words = np.fromiter(chain.from_iterable(lists), dtype=object, count=int(lengths.sum()))
        return None, lengths, words

    def _bits(self) -> int:
        if self.analyzer == "char":
            return _CHAR_BITS
        return max(1, int(len(self.words_) + 1).bit_length())

    def _ngram_keys(self, ids, lengths):
        """(doc index, key) of every n-gram inside one text, for n in ngram_range."""
        lo, hi = self.ngram_range
        bits = self._bits()
        n_docs, total = len(lengths), len(ids)
        ends = np.cumsum(lengths)
        doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
        end_of = ends[doc_of] if total else np.zeros(0, dtype=np.int64)
        pos = np.arange(total, dtype=np.int64)
        docs, keys = [], []
        for n in range(lo, hi + 1):
            valid = pos + n <= end_of
            start = pos[valid]
            key = np.zeros(len(start), dtype=np.int64)
            ok = np.ones(len(start), dtype=bool)
            for k in range(n):
                part = ids[start + k]
                ok &= part > 0  # id 0: a word unseen in training, so the n-gram cannot be known
                key = (key << bits) | part
            docs.append(doc_of[valid][ok])
            keys.append(key[ok])
        return np.concatenate(docs), np.concatenate(keys)

    def _string_ngrams(self, texts, lengths, words):
        """Fallback when keys would overflow 63 bits: the n-grams as strings."""
        lo, hi = self.ngram_range
        if self.analyzer == "char":
            seqs, sep = texts, ""
        else:
            bounds = np.concatenate([[0], np.cumsum(lengths)])
            seqs = [list(words[bounds[i]:bounds[i + 1]]) for i in range(len(lengths))]
            sep = " "
        docs, grams = [], []
        for d, seq in enumerate(seqs):
            for n in range(lo, hi + 1):
                g = [sep.join(seq[i:i + n]) for i in range(len(seq) - n + 1)]
                grams += g
                docs += [d] * len(g)
        return np.asarray(docs, dtype=np.int64), np.asarray(grams, dtype=object)

    def _use_int_keys(self) -> bool:
        return self._bits() * self.ngram_range[1] <= 63

    def _analyse(self, texts, fitting: bool):
        ids, lengths, words = self._tokens(texts)
        if self.analyzer == "word":
            if fitting:
                self.words_ = pd.Index(pd.unique(words)) if len(words) else pd.Index([], dtype=object)
            ids = self.words_.get_indexer(words).astype(np.int64) + 1  # unknown word → 0
        if self._use_int_keys():
            return self._ngram_keys(ids, lengths)
        return self._string_ngrams(texts, lengths, words)

    # ---- sklearn API -----------------------------------------------------------------------
    def fit(self, texts, y=None):
        self.fit_transform(texts)
        return self

    def fit_transform(self, texts, y=None):
        texts = _check_texts(texts)
        lo, hi = self.ngram_range
        if not 1 <= lo <= hi:
            raise ValueError(f"ngram_range must satisfy 1 <= min <= max, got {self.ngram_range}")
        docs, keys = self._analyse(texts, fitting=True)
        n_docs = len(texts)
        uniq, inverse = np.unique(keys, return_inverse=True)
        inverse = inverse.ravel()
        # document frequency: count distinct (term, doc) pairs
        pairs = _sorted_unique(inverse.astype(np.int64) * max(n_docs, 1) + docs)
        df = np.bincount(pairs // max(n_docs, 1), minlength=len(uniq))
        tf_total = np.bincount(inverse, minlength=len(uniq))
        min_df = self.min_df if isinstance(self.min_df, (int, np.integer)) else int(np.ceil(self.min_df * n_docs))
        keep = np.flatnonzero(df >= min_df)
        if self.max_features is not None and len(keep) > self.max_features:
            # most frequent terms over the corpus; ties broken by term order (sklearn breaks them arbitrarily)
            order = np.argsort(-tf_total[keep], kind="stable")[: self.max_features]
            keep = np.sort(keep[order])
        if len(keep) == 0:
            raise ValueError("after pruning, no terms remain; lower min_df or give more text")
        self.terms_ = pd.Index(uniq[keep])
        self.idf_ = (np.log((1 + n_docs) / (1 + df[keep])) + 1).astype(self.dtype)
        col_of = np.full(len(uniq), -1, dtype=np.int64)
        col_of[keep] = np.arange(len(keep))
        return self._weigh(docs, col_of[inverse], n_docs)

    def transform(self, texts):
        check_is_fitted(self, "terms_")
        texts = _check_texts(texts)
        docs, keys = self._analyse(texts, fitting=False)
        return self._weigh(docs, self.terms_.get_indexer(keys), len(texts))

    def _weigh(self, docs, cols, n_docs):
        known = cols >= 0
        counts = sp.csr_matrix((np.ones(int(known.sum()), dtype=self.dtype), (docs[known], cols[known])),
                               shape=(n_docs, len(self.terms_)), dtype=self.dtype)
        counts.sum_duplicates()
        if self.sublinear_tf:
            np.log(counts.data, out=counts.data)
            counts.data += 1
        counts.data *= self.idf_[counts.indices]
        norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
        norms[norms == 0] = 1
        counts.data /= np.repeat(norms, np.diff(counts.indptr)).astype(self.dtype)
        return counts

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "terms_")
        if not self._use_int_keys():
            return np.asarray(self.terms_, dtype=object)
        bits, mask = self._bits(), (1 << self._bits()) - 1
        names = []
        for key in self.terms_:
            key, parts = int(key), []
            while key:
                parts.append(key & mask)
                key >>= bits
            parts.reverse()
            if self.analyzer == "char":
                names.append("".join(chr(p - 1) for p in parts))
            else:
                names.append(" ".join(self.words_[p - 1] for p in parts))
        return np.asarray(names, dtype=object)

    @property
    def vocabulary_(self) -> dict:
        """term → column, as in scikit-learn's vectorizers."""
        return {name: i for i, name in enumerate(self.get_feature_names_out())}


# ---- fitted state as data (persistence's safe format) --------------------------------------
# A fitted vectorizer is its word list (word analyzer), its vocabulary and its idf weights; the
# analyzer, n-gram range and tokenizer are settings, rebuilt from the config.

def save_vectorizer_state(vectorizer: NgramTfidfVectorizer, out: StateWriter) -> None:
    """``words`` (JSON list, index order), ``terms`` (int64 keys in column order, or a JSON list
    of n-gram strings when keys would not fit in 63 bits) and ``idf``."""
    check_is_fitted(vectorizer, "terms_")
    if vectorizer.analyzer == "word":
        out.put("words", [str(w) for w in vectorizer.words_])
    if vectorizer._use_int_keys():
        out.put_array("terms", np.asarray(vectorizer.terms_, dtype=np.int64))
    else:
        out.put("terms", [str(t) for t in vectorizer.terms_])
    out.put_array("idf", vectorizer.idf_)


def restore_vectorizer(vectorizer: NgramTfidfVectorizer, state: StateReader) -> NgramTfidfVectorizer:
    """Set the fitted attributes of an unfitted ``vectorizer`` (built from the model's config)."""
    if vectorizer.analyzer == "word":
        vectorizer.words_ = pd.Index(np.asarray(state.strings("words", unique=True), dtype=object), dtype=object)
    if vectorizer._use_int_keys():
        terms = state.array("terms", dtypes=("int64",), shape=(None,))
        if terms.size and (terms[0] <= 0 or (np.diff(terms) <= 0).any()):
            raise state.array_error("terms", "must hold positive, increasing n-gram keys")
        vectorizer.terms_ = pd.Index(terms)
    else:
        vectorizer.terms_ = pd.Index(np.asarray(state.strings("terms", unique=True), dtype=object), dtype=object)
    vectorizer.idf_ = state.array("idf", dtypes=(vectorizer.dtype,), shape=(len(vectorizer.terms_),))
    return vectorizer


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique by sorting: NumPy 2.3+'s hash-based np.unique is several times slower on
    millions of int64 keys."""
    values = np.sort(values)
    return values[np.concatenate([[True], values[1:] != values[:-1]])] if len(values) else values


def _check_texts(texts) -> list[str]:
    if isinstance(texts, str):
        raise ValueError("expected a list of texts, got one string")
    return list(texts)
