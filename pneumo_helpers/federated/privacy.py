"""Privacy: clipping updates, the sensitivity DP noise is scaled to, secure-aggregation masks.

Clipping bounds how far one hospital can move the model (:func:`clip_update`, measured by
:func:`update_norm`); :func:`dp_sensitivity` is that bound on the size-weighted average,
the unit of client-level DP noise; :func:`secure_aggregation_masks` shows the arithmetic
that lets a server learn the sum of updates and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import FederatedError


def update_norm(update: Sequence[np.ndarray]) -> float:
    """Return the L2 norm of a model update, all arrays flattened into one vector."""
    return float(np.sqrt(sum(float(np.sum(np.square(u, dtype=np.float64))) for u in update)))


def dp_sensitivity(clip_norm: float, sizes: Sequence[int]) -> float:
    """Return how far one client can move the size-weighted average: ``C * max(n_k) / sum(n)``.

    FedAvg weights client ``k`` by ``n_k / sum(n)``; with its update clipped to L2 norm
    ``C``, the largest client moves the average by at most ``C * max(n_k) / sum(n)``. The
    Gaussian noise of client-level DP is scaled to this bound (``C / K`` only holds when
    every client weighs the same).
    """
    sizes = np.asarray(sizes, dtype=float)
    return float(clip_norm * sizes.max() / sizes.sum())


def clip_update(update: Sequence[np.ndarray], max_norm: float) -> list[np.ndarray]:
    """Scale a model update down so that its L2 norm is at most ``max_norm``.

    Clipping bounds how much any one client can move the model: the *sensitivity* that
    differential privacy's noise must hide.
    """
    if not max_norm > 0:
        raise FederatedError(f"max_norm must be positive, got {max_norm!r}.")
    norm = update_norm(update)
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    return [np.asarray(u) * np.asarray(scale, dtype=np.asarray(u).dtype) for u in update]


def secure_aggregation_masks(
    n_clients: int, shapes: Sequence[tuple[int, ...]], seed: int = 0, scale: float = 100.0
) -> list[list[np.ndarray]]:
    """Return pairwise-cancelling masks, the core idea of secure aggregation (Bonawitz 2017).

    Every pair of clients ``i < j`` shares a random mask ``m_ij``: client ``i`` adds it and
    client ``j`` subtracts it. Each masked update looks like noise to the server, yet the
    masks cancel in the sum, so the server learns the sum (and thus the average) and
    nothing else. (The real protocol derives the masks from key agreement and survives
    clients dropping out; this is the arithmetic only.)

    Returns:
        ``masks[k]`` is the list of arrays client ``k`` adds to its update; the masks of all
        clients sum to zero.
    """
    if n_clients < 2:
        raise FederatedError(f"secure aggregation needs at least 2 clients, got {n_clients}.")
    rng = np.random.default_rng(seed)
    masks = [[np.zeros(shape) for shape in shapes] for _ in range(n_clients)]
    for i in range(n_clients):
        for j in range(i + 1, n_clients):
            for a, shape in enumerate(shapes):
                shared = rng.normal(0.0, scale, size=shape)
                masks[i][a] += shared
                masks[j][a] -= shared
    return masks
