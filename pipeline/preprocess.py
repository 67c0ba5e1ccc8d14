"""Preprocessing: Unicode normalisation and word segmentation.

``normalize_text`` is the one documented change we make to text: NFKC (full-width letters,
digits and punctuation become their usual forms), control characters become spaces, runs of
whitespace collapse to one space. Inside a model, ``normalize_texts`` also converts traditional
characters to simplified (``preprocess.to_simplified``): about one public web copy of these
reports in ten is a traditional-script mirror, and a model trained on simplified text would
otherwise see few of its n-grams. ``Segmenter`` cuts normalised text into words with jieba
(or rjieba, the same dictionary and algorithm in Rust), a domain user dictionary and a stopword
list. Both pickle by value, so a model saved in one process predicts in a fresh one.
"""
from __future__ import annotations

import os
import re
import unicodedata
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterable

from .errors import ConfigError

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """NFKC, control characters to spaces, whitespace collapsed and stripped. Idempotent."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def normalize_texts(texts: Iterable[str], to_simplified: bool = False) -> list[str]:
    """Vectorised form for ``FunctionTransformer``: a module-level function, so it pickles.
    ``to_simplified``: also convert traditional characters to simplified (OpenCC t2s, phrase
    aware: 乾隆 stays, 乾淨 becomes 干净); simplified text passes through unchanged."""
    if to_simplified:
        convert = _t2s().convert
        return [convert(normalize_text(t)) for t in texts]
    return [normalize_text(t) for t in texts]


@lru_cache(maxsize=1)
def _t2s():
    # OpenCC (the reference converter, C++ with its dictionaries in the wheel; about 30 M
    # characters/s here) rather than a table of our own: one-to-many characters need phrases.
    import opencc

    return opencc.OpenCC("t2s")


def _resource_path(name: str) -> Path:
    return Path(str(resources.files("pipeline") / "resources" / name))


USER_DICT = _resource_path("userdict.txt")
STOPWORDS = _resource_path("stopwords.txt")


def _read_user_dict(path: Path) -> list[tuple[str, int | None, str | None]]:
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts:
            freq = int(parts[1]) if len(parts) > 1 else None
            entries.append((parts[0], freq, parts[2] if len(parts) > 2 else None))
    return entries


@lru_cache(maxsize=None)
def _load_stopwords(path: str) -> frozenset[str]:
    return frozenset(w.strip() for w in Path(path).read_text(encoding="utf-8").splitlines() if w.strip())


@lru_cache(maxsize=None)
def _load_cutter(backend: str, user_dict: str):
    """Build one dictionary per process and backend (about a second for jieba), then reuse it."""
    entries = _read_user_dict(Path(user_dict))
    if backend == "jieba":
        import jieba

        tokenizer = jieba.Tokenizer()
        # jieba caches its prefix dictionary in a shared temp folder by default; keep ours per user.
        cache_dir = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pipeline-jieba"
        cache_dir.mkdir(parents=True, exist_ok=True)
        tokenizer.tmp_dir = str(cache_dir)
        jieba.setLogLevel(60)
        tokenizer.initialize()
        for word, freq, tag in entries:
            tokenizer.add_word(word, freq, tag)
        return lambda text, hmm: tokenizer.lcut(text, cut_all=False, HMM=hmm)
    if backend == "rjieba":
        import rjieba

        tokenizer = rjieba.Jieba()
        for word, freq, tag in entries:
            tokenizer.add_word(word, freq, tag)
        return lambda text, hmm: tokenizer.cut(text, hmm)
    raise ConfigError(f"unknown segmentation backend {backend!r}; choose 'jieba' or 'rjieba'")


class Segmenter:
    """Callable ``text -> list of words``, for ``TfidfVectorizer(tokenizer=...)``.

    Holds only its settings; the dictionary is built lazily, once per process, so pickling
    stores settings (not a 50 MB dictionary) and unpickling in a new process just works.
    """

    def __init__(self, backend: str = "jieba", hmm: bool = True, use_stopwords: bool = True,
                 user_dict: str | None = None, stopwords: str | None = None):
        self.backend = backend
        self.hmm = hmm
        self.use_stopwords = use_stopwords
        self.user_dict = user_dict
        self.stopwords = stopwords

    def _cutter(self):
        return _load_cutter(self.backend, self.user_dict or str(USER_DICT))

    def _stopset(self) -> frozenset[str]:
        if not self.use_stopwords:
            return frozenset()
        return _load_stopwords(self.stopwords or str(STOPWORDS))

    def warm_up(self) -> "Segmenter":
        """Load the dictionary now (e.g. before forking workers) rather than on first use."""
        self._cutter()
        self._stopset()
        return self

    def __call__(self, text: str) -> list[str]:
        stop = self._stopset()
        return [w for w in self._cutter()(text, self.hmm) if w != " " and w not in stop]

    def segment_many(self, texts: Iterable[str]) -> list[list[str]]:
        cut, stop, hmm = self._cutter(), self._stopset(), self.hmm
        return [[w for w in cut(t, hmm) if w != " " and w not in stop] for t in texts]

    def __repr__(self) -> str:
        return f"Segmenter(backend={self.backend!r}, hmm={self.hmm}, use_stopwords={self.use_stopwords})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Segmenter) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash(tuple(sorted(vars(self).items())))
