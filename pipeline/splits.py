"""Folds that keep groups apart: the one splitting rule shared by calibration and evaluation.

Paragraphs of one report (or one writer, one unit) are alike, so a model scored on a fold
that shares a group with its training data looks better than it is, and scores calibrated so
come out over-confident. Every fold here holds whole groups.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

from .errors import InputError


def grouped_folds(labels: Sequence[str], groups: Sequence[str], k: int, random_state: int = 0):
    """Fold indices split by group; stratified by label where the groups allow it."""
    n_groups = len(set(groups))
    if n_groups < k:
        raise InputError(f"cross-validation with {k} folds needs at least {k} groups (documents, or values of the "
                         f"--cv-by column); found {n_groups}")
    y = np.asarray(labels)
    try:
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=random_state)
        return list(splitter.split(np.zeros(len(y)), y, groups))
    except ValueError:
        return list(GroupKFold(n_splits=k).split(np.zeros(len(y)), y, groups))
