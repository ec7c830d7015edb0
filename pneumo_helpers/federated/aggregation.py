"""Aggregation and communication: FedAvg's weighted mean and the bytes a model costs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import FederatedError


def fedavg(
    client_weights: Sequence[Sequence[np.ndarray]], client_sizes: Sequence[float]
) -> list[np.ndarray]:
    """Return the sample-weighted mean of the clients' weights (McMahan et al. 2017).

    ``new[j] = sum_k n_k * w_k[j] / sum_k n_k`` for every weight array ``j``: a hospital
    with twice the X-rays counts twice as much.

    Args:
        client_weights: one list of weight arrays per client (``model.get_weights()``), all
            with the same shapes.
        client_sizes: number of training examples of each client (non-negative).

    Returns:
        The averaged list of arrays, in the dtype of the first client's arrays.

    Raises:
        FederatedError: no clients, lengths or shapes differ, a negative size, or all sizes
            zero (there is nothing to average).
    """
    if len(client_weights) == 0:
        raise FederatedError("client_weights is empty: fedavg needs at least one client.")
    sizes = np.asarray(client_sizes, dtype=np.float64).reshape(-1)
    if len(sizes) != len(client_weights):
        raise FederatedError(
            f"client_weights has {len(client_weights)} clients but client_sizes has "
            f"{len(sizes)} sizes: pass one size per client."
        )
    if (sizes < 0).any() or not np.isfinite(sizes).all():
        raise FederatedError(f"client_sizes must be non-negative numbers, got {sizes.tolist()}.")
    total = sizes.sum()
    if total == 0:
        raise FederatedError(
            "client_sizes are all zero: no client trained on any example, so there is "
            "nothing to average. Check the partition (every client needs examples)."
        )
    reference = [np.asarray(w) for w in client_weights[0]]
    for k, weights in enumerate(client_weights):
        shapes = [np.shape(w) for w in weights]
        if shapes != [w.shape for w in reference]:
            raise FederatedError(
                f"client_weights[{k}] has array shapes {shapes}, client 0 has "
                f"{[w.shape for w in reference]}: every client must send the same model."
            )
    factors = sizes / total
    averaged = []
    for j, first in enumerate(reference):
        acc = np.zeros(first.shape, dtype=np.float64)
        for weights, factor in zip(client_weights, factors, strict=True):
            acc += factor * np.asarray(weights[j], dtype=np.float64)
        averaged.append(acc.astype(first.dtype if first.dtype.kind == "f" else np.float32))
    return averaged


def model_bytes(weights: Sequence[np.ndarray]) -> int:
    """Return how many bytes the weight arrays take on the wire (raw, uncompressed)."""
    return int(sum(np.asarray(w).nbytes for w in weights))
