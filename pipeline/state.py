"""Fitted state as plain data: numbers in arrays, everything else in JSON values.

A fitted estimator of ours is a handful of arrays (idf weights, coefficients, calibration
parameters) and a few lists and scalars (the word list, the labels). ``StateWriter`` collects
them under dotted names; ``StateReader`` hands them back, checking each one's type, dtype and
shape, so that the code rebuilding an estimator (``features.restore_vectorizer``,
``classifier.restore_classifier``) receives exactly what it expects or raises a ``ModelError``
naming the entry. Nothing here imports or calls anything named by the data: a reader only
checks values against what its caller asks for.
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from .errors import ModelError

# The only dtypes a saved array may have (numbers; never objects, strings or records).
NUMERIC_DTYPES = frozenset(np.dtype(t) for t in ("bool", "int32", "int64", "float32", "float64"))
FLOATS = (np.dtype("float32"), np.dtype("float64"))


class StateWriter:
    """Collects JSON values (``meta``) and arrays (``arrays``, by dotted name) for one estimator."""

    def __init__(self, meta: dict | None = None, arrays: dict | None = None, prefix: str = ""):
        self.meta = {} if meta is None else meta
        self.arrays = {} if arrays is None else arrays
        self.prefix = prefix

    def sub(self, key: str) -> "StateWriter":
        child = self.meta.setdefault(key, {})
        return StateWriter(child, self.arrays, f"{self.prefix}{key}.")

    def put(self, key: str, value: Any) -> None:
        self.meta[key] = value

    def put_array(self, key: str, array) -> None:
        array = np.ascontiguousarray(array)
        if array.dtype not in NUMERIC_DTYPES:
            raise TypeError(f"{self.prefix}{key}: dtype {array.dtype} cannot be saved as a numeric array")
        self.arrays[f"{self.prefix}{key}"] = array


class StateReader:
    """Hands out the entries of a saved state, each checked against what the caller expects.

    Every entry read is marked; ``finish()`` then refuses anything left over, so a state with
    an entry this version does not know is refused rather than silently ignored."""

    def __init__(self, meta: dict, arrays: dict, prefix: str = "", where: str = "state", arrays_where: str = "arrays",
                 _arrays_read: set | None = None):
        if not isinstance(meta, dict):
            raise ModelError(f"{where}: {prefix.rstrip('.') or 'the state'} must be a JSON object")
        self.meta, self.arrays, self.prefix = meta, arrays, prefix
        self.where, self.arrays_where = where, arrays_where  # where the JSON values and the arrays came from
        self._root = _arrays_read is None
        self._arrays_read = set() if _arrays_read is None else _arrays_read  # one set, shared with children
        self._used: set[str] = set()
        self._children: list[StateReader] = []

    def _name(self, key: str) -> str:
        return f"{self.prefix}{key if key.isprintable() else repr(key)}"  # an error stays one line

    def _fail(self, key: str, problem: str) -> ModelError:
        return ModelError(f"{self.where}: {self._name(key)} {problem}")

    def array_error(self, key: str, problem: str) -> ModelError:
        return ModelError(f"{self.arrays_where}: array {self._name(key)} {problem}")

    def _get(self, key: str) -> Any:
        if key not in self.meta:
            raise self._fail(key, "is missing")
        self._used.add(key)
        return self.meta[key]

    def has(self, key: str) -> bool:
        return key in self.meta

    def sub(self, key: str) -> "StateReader":
        child = StateReader(self._get(key), self.arrays, f"{self._name(key)}.", self.where, self.arrays_where,
                            self._arrays_read)
        self._children.append(child)
        return child

    # ---- JSON values -------------------------------------------------------------------------
    def string(self, key: str, choices: Iterable[str] | None = None) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise self._fail(key, f"must be a text, got {type(value).__name__}")
        if choices is not None and value not in choices:
            raise self._fail(key, f"is {value!r}; this version knows only {', '.join(map(repr, choices))}")
        return value

    def integer(self, key: str, low: int = 0) -> int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self._fail(key, f"must be an integer >= {low}, got {value!r}")
        return value

    def strings(self, key: str, unique: bool = False) -> list[str]:
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, "must be a JSON list of texts")
        if unique and len(set(value)) != len(value):
            raise self._fail(key, "holds the same text twice; each entry must be unique")
        return value

    def booleans(self, key: str, length: int) -> list[bool]:
        value = self._get(key)
        if not isinstance(value, list) or len(value) != length or not all(isinstance(v, bool) for v in value):
            raise self._fail(key, f"must be a JSON list of {length} true/false values")
        return value

    # ---- arrays ------------------------------------------------------------------------------
    def array(self, key: str, dtypes: Iterable = FLOATS, shape: tuple | None = None, finite: bool = True) -> np.ndarray:
        """The array saved as ``key``; ``shape`` may hold None for a free dimension."""
        name = self._name(key)
        if name not in self.arrays:
            raise ModelError(f"{self.arrays_where}: array {name} is missing")
        self._arrays_read.add(name)
        array = self.arrays[name]
        dtypes = tuple(np.dtype(d) for d in dtypes)
        if array.dtype not in dtypes:
            raise ModelError(f"{self.arrays_where}: array {name} has dtype {array.dtype}; expected "
                             f"{' or '.join(str(d) for d in dtypes)}")
        if shape is not None and (len(shape) != array.ndim or
                                  any(want is not None and want != got for want, got in zip(shape, array.shape))):
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise ModelError(f"{self.arrays_where}: array {name} has shape {array.shape}; expected {want}")
        if finite and array.dtype.kind == "f" and array.size and not np.isfinite(array).all():
            raise ModelError(f"{self.arrays_where}: array {name} holds NaN or infinite values")
        return array

    def finish(self) -> None:
        """Refuse entries nobody asked for (in this reader, its children, and, at the root, arrays)."""
        for child in self._children:
            child.finish()
        unknown = sorted(set(self.meta) - self._used)
        if unknown:
            raise ModelError(f"{self.where}: unknown entr{'y' if len(unknown) == 1 else 'ies'} "
                             f"{', '.join(self._name(k) for k in unknown)}; this version does not read "
                             f"{'it' if len(unknown) == 1 else 'them'}")
        if self._root:
            extra = sorted(set(self.arrays) - self._arrays_read)
            if extra:
                raise ModelError(f"{self.arrays_where}: unexpected array(s) {', '.join(extra)}")

