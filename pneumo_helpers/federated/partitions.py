"""Partitions: which hospital holds which X-rays (IID, label skew, quantity skew).

Each splitter returns one sorted index array per client: disjoint, together complete, and
the same for the same seed. :func:`partition_summary` tabulates what each client holds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import FederatedError


def _check_partition_args(labels, n_clients: int) -> np.ndarray:
    labels = np.asarray(labels).reshape(-1)
    if not isinstance(n_clients, int | np.integer) or isinstance(n_clients, bool):
        raise FederatedError(f"n_clients must be an integer, got {n_clients!r}.")
    if n_clients < 1:
        raise FederatedError(f"n_clients must be at least 1, got {n_clients}.")
    if len(labels) < n_clients:
        raise FederatedError(
            f"n_clients={n_clients} is more than the {len(labels)} examples in labels: "
            "every client needs at least one example. Use fewer clients."
        )
    return labels


def partition_iid(labels, n_clients: int, seed: int = 0) -> list[np.ndarray]:
    """Split example indices at random into ``n_clients`` near-equal parts (IID).

    Every client gets the same mix of classes, up to chance. The parts are disjoint and
    together hold every index once; the same seed gives the same parts.

    Returns:
        A list of ``n_clients`` sorted ``int64`` index arrays.
    """
    labels = _check_partition_args(labels, n_clients)
    order = np.random.default_rng(seed).permutation(len(labels))
    return [np.sort(part).astype(np.int64) for part in np.array_split(order, n_clients)]


def partition_non_iid(
    labels,
    n_clients: int,
    alpha: float,
    seed: int = 0,
    min_size: int = 1,
    max_tries: int = 1000,
) -> list[np.ndarray]:
    """Split example indices with *label skew*: each class is shared by a Dirichlet draw.

    For every class, proportions ``p ~ Dirichlet(alpha, ..., alpha)`` over the clients decide
    how that class's examples are dealt out. Small ``alpha`` (e.g. 0.1) gives hospitals with
    very different pneumonia shares; large ``alpha`` (e.g. 100) is close to IID. Draws that
    leave a client with fewer than ``min_size`` examples are redrawn (from the same seeded
    generator, so the result is still deterministic).

    Args:
        labels: ``(N,)`` class labels.
        n_clients: number of clients (hospitals).
        alpha: Dirichlet concentration, > 0.
        seed: seed of the draw; the same seed gives the same partition.
        min_size: smallest number of examples a client may hold (at least 1: no empty client).
        max_tries: redraws allowed before giving up.

    Returns:
        A list of ``n_clients`` sorted ``int64`` index arrays: disjoint, together complete.

    Raises:
        FederatedError: an argument is invalid, or no draw within ``max_tries`` gives every
            client ``min_size`` examples.
    """
    labels = _check_partition_args(labels, n_clients)
    if not np.isfinite(alpha) or alpha <= 0:
        raise FederatedError(f"alpha must be a positive number, got {alpha!r}.")
    if min_size < 1:
        raise FederatedError(f"min_size must be at least 1 (no empty client), got {min_size}.")
    if min_size * n_clients > len(labels):
        raise FederatedError(
            f"min_size={min_size} for {n_clients} clients needs {min_size * n_clients} examples, "
            f"but labels holds {len(labels)}. Lower min_size or use fewer clients."
        )
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    for _ in range(max_tries):
        parts: list[list[np.ndarray]] = [[] for _ in range(n_clients)]
        for value in classes:
            members = rng.permutation(np.flatnonzero(labels == value))
            shares = rng.dirichlet(np.full(n_clients, float(alpha)))
            cuts = (np.cumsum(shares)[:-1] * len(members)).astype(int)
            for client, chunk in enumerate(np.split(members, cuts)):
                parts[client].append(chunk)
        merged = [np.sort(np.concatenate(chunks)).astype(np.int64) for chunks in parts]
        if min(len(part) for part in merged) >= min_size:
            return merged
    raise FederatedError(
        f"partition_non_iid found no split with at least {min_size} example(s) per client in "
        f"{max_tries} draws (alpha={alpha}, n_clients={n_clients}). Use a larger alpha, fewer "
        "clients or a smaller min_size."
    )


def partition_quantity_skew(
    labels, n_clients: int, alpha: float, seed: int = 0, min_size: int = 1
) -> list[np.ndarray]:
    """Split example indices with *quantity skew*: random sizes, the same class mix.

    Client sizes follow Dirichlet(alpha) proportions (small ``alpha``: a few large hospitals
    and many small ones); which examples a client gets is random, so classes stay mixed
    as in IID. Every client gets at least ``min_size`` examples.

    Returns:
        A list of ``n_clients`` sorted ``int64`` index arrays: disjoint, together complete.
    """
    labels = _check_partition_args(labels, n_clients)
    if not np.isfinite(alpha) or alpha <= 0:
        raise FederatedError(f"alpha must be a positive number, got {alpha!r}.")
    if min_size < 1 or min_size * n_clients > len(labels):
        raise FederatedError(
            f"min_size must be at least 1 and min_size * n_clients ({min_size} * {n_clients}) "
            f"at most the {len(labels)} examples, got min_size={min_size}."
        )
    rng = np.random.default_rng(seed)
    shares = rng.dirichlet(np.full(n_clients, float(alpha)))
    spare = len(labels) - min_size * n_clients
    sizes = min_size + np.floor(shares * spare).astype(int)
    sizes[np.argmax(shares)] += len(labels) - sizes.sum()  # rounding leftovers
    order = rng.permutation(len(labels))
    return [np.sort(part).astype(np.int64) for part in np.split(order, np.cumsum(sizes)[:-1])]


def partition_summary(labels, partitions: Sequence[np.ndarray], names=None):
    """Return a table of each client's size, class counts and pneumonia share."""
    import pandas as pd

    labels = np.asarray(labels).reshape(-1)
    names = (
        list(names) if names is not None else [f"hospital {i + 1}" for i in range(len(partitions))]
    )
    rows = []
    for name, part in zip(names, partitions, strict=True):
        part_labels = labels[np.asarray(part, dtype=int)]
        rows.append(
            {
                "client": name,
                "x-rays": len(part_labels),
                "normal": int(np.sum(part_labels == 0)),
                "pneumonia": int(np.sum(part_labels == 1)),
                "pneumonia share": float(np.mean(part_labels == 1)) if len(part_labels) else 0.0,
            }
        )
    return pd.DataFrame(rows).set_index("client")
