"""Duplicate detection: exact duplicate images within and across splits."""

from __future__ import annotations

import hashlib

import numpy as np

from .layout import PneumoniaMNIST


def find_duplicates(splits: dict[str, np.ndarray] | PneumoniaMNIST) -> pd.DataFrame:  # noqa: F821
    """Find exact duplicate images within and across splits.

    Args:
        splits: ``{"train": images, ...}`` or a :class:`PneumoniaMNIST` object.

    Returns:
        A ``pandas.DataFrame`` with one row per duplicate pair: ``split_a``, ``index_a``,
        ``split_b``, ``index_b`` and ``kind`` (``"within"`` or ``"across"``).
    """
    import pandas as pd

    if isinstance(splits, PneumoniaMNIST):
        splits = {name: split.images for name, split in splits.splits().items()}
    seen: dict[bytes, list[tuple[str, int]]] = {}
    for name, images in splits.items():
        images = np.ascontiguousarray(images)
        for index in range(len(images)):
            key = hashlib.sha1(images[index].tobytes()).digest()
            seen.setdefault(key, []).append((name, index))
    rows = []
    for places in seen.values():
        for i in range(len(places)):
            for j in range(i + 1, len(places)):
                (split_a, index_a), (split_b, index_b) = places[i], places[j]
                kind = "within" if split_a == split_b else "across"
                rows.append((split_a, index_a, split_b, index_b, kind))
    columns = ["split_a", "index_a", "split_b", "index_b", "kind"]
    return pd.DataFrame(rows, columns=columns)
