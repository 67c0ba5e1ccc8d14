"""The order in which paragraphs are offered for labelling.

``uncertain``: the paragraphs the model is least sure of first, measured by the margin between
its two best scores (a paragraph scored 0.41 / 0.38 teaches the model more than one scored
0.95 / 0.02), and spread across documents: a document's paragraphs are alike, so twenty
uncertain ones from a single report teach less than twenty from several.

``document``: reading order, document after document, as the inputs were given.

Both are plain functions of numbers, shared by the labelling page and
``benchmarks/bench_active.py``, so the benchmark measures the order the page uses.
"""
from __future__ import annotations

import heapq
from collections import deque
from typing import Sequence

import numpy as np

ORDERS = ("uncertain", "document")

# No document twice within this many consecutive paragraphs, while other documents still have
# paragraphs to offer.
SPREAD = 5


def margins(proba: np.ndarray) -> np.ndarray:
    """Best score minus second best, per row: 0 is a tie, 1 is certainty."""
    proba = np.asarray(proba, dtype=float)
    if proba.ndim != 2 or proba.shape[0] == 0:
        return np.zeros(proba.shape[0] if proba.ndim else 0)
    if proba.shape[1] < 2:
        return np.ones(proba.shape[0])
    top2 = np.partition(proba, -2, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def uncertain_order(margin: Sequence[float], documents: Sequence, spread: int = SPREAD) -> list[int]:
    """Row indices, smallest margin first, with no document repeated within ``spread``
    consecutive rows unless only that many documents (or fewer) have rows left.

    Greedy: each step takes the smallest-margin row among documents not picked in the last
    ``min(spread, documents left - 1)`` steps. Ties go to the earlier row, so the order is
    deterministic.
    """
    margin = np.asarray(margin, dtype=float)
    if len(margin) != len(documents):
        raise ValueError(f"{len(margin)} margins for {len(documents)} document ids")
    per_doc: dict = {}
    for i in np.lexsort((np.arange(len(margin)), margin)):  # by margin, then row
        per_doc.setdefault(documents[i], deque()).append(int(i))
    heap = [(margin[rows[0]], rows[0], doc) for doc, rows in per_doc.items()]
    heapq.heapify(heap)
    recent: deque = deque(maxlen=max(spread, 1))
    order: list[int] = []
    while heap:
        window = min(spread, len(heap) - 1)
        blocked = set(list(recent)[max(len(recent) - window, 0):]) if window > 0 else set()
        held = []
        while heap and heap[0][2] in blocked:
            held.append(heapq.heappop(heap))
        entry = heapq.heappop(heap) if heap else held.pop(0)
        for item in held:
            heapq.heappush(heap, item)
        _, row, doc = entry
        order.append(row)
        recent.append(doc)
        rows = per_doc[doc]
        rows.popleft()
        if rows:
            heapq.heappush(heap, (margin[rows[0]], rows[0], doc))
    return order


def document_order(n: int) -> list[int]:
    """Reading order: the rows as the inputs gave them."""
    return list(range(n))
