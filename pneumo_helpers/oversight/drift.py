"""Monitoring after deployment: is the stream still like the data the model was checked on?

Labels arrive late (a radiologist's report, a follow-up); the inputs and the scores arrive
at once. Each window of the stream is compared with a reference sample from validation by
two-sample tests that need no labels (Rabanser et al. 2019):

* the scores, and each simple acquisition statistic of the images, by the
  Kolmogorov-Smirnov test, with a Bonferroni correction over the statistics;
* the model's embedding (its penultimate layer) by the maximum mean discrepancy (MMD,
  Gretton et al. 2012) with a Gaussian kernel, its p-value by permutation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import OversightError


def _matrix(values, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    array = array.reshape(-1, 1) if array.ndim == 1 else array
    if array.ndim != 2 or array.shape[0] < 2 or not np.all(np.isfinite(array)):
        raise OversightError(f"{name} must be finite (cases, features) values, at least 2 cases.")
    return array


def ks_test(reference, current) -> pd.DataFrame:
    """Return the Kolmogorov-Smirnov statistic and p-value of each column (feature).

    Columns: ``statistic``, ``p_value`` and ``p_bonferroni`` (the p-value times the
    number of features, at most 1), one row per feature.
    """
    from scipy.stats import ks_2samp

    ref, cur = _matrix(reference, "reference"), _matrix(current, "current")
    if ref.shape[1] != cur.shape[1]:
        raise OversightError(f"reference has {ref.shape[1]} features, current {cur.shape[1]}.")
    rows = [ks_2samp(ref[:, j], cur[:, j]) for j in range(ref.shape[1])]
    p = np.array([row.pvalue for row in rows])
    return pd.DataFrame(
        {
            "statistic": [row.statistic for row in rows],
            "p_value": p,
            "p_bonferroni": np.minimum(p * len(rows), 1.0),
        }
    )


def mmd_test(
    reference, current, *, n_permutations: int = 200, bandwidth: float | None = None, seed: int = 0
) -> tuple[float, float]:
    """Return the squared MMD between two samples and its permutation p-value.

    The Gaussian kernel's bandwidth defaults to the median distance between the
    reference's points (the median heuristic).
    """
    ref, cur = _matrix(reference, "reference"), _matrix(current, "current")
    if n_permutations < 10:
        raise OversightError(f"n_permutations must be at least 10, got {n_permutations}.")
    pooled = np.vstack([ref, cur])
    squared = np.sum((pooled[:, None, :] - pooled[None, :, :]) ** 2, axis=-1)
    if bandwidth is None:
        within = squared[: len(ref), : len(ref)]
        bandwidth = float(np.sqrt(np.median(within[within > 0]))) if np.any(within > 0) else 1.0
    kernel = np.exp(-squared / (2.0 * bandwidth**2))
    first = np.arange(len(pooled)) < len(ref)
    observed = mmd_statistic(kernel, first)
    rng = np.random.default_rng(seed)
    shuffled = np.stack([rng.permutation(first) for _ in range(n_permutations)], axis=1)
    weights = group_weights(shuffled)  # every permutation at once: one column each
    permuted = np.einsum("ip,ip->p", weights, kernel @ weights)
    return observed, float((np.sum(permuted >= observed - 1e-12) + 1) / (n_permutations + 1))


def group_weights(first: np.ndarray) -> np.ndarray:
    """Return +1/n1 for the first group's cases and -1/n2 for the second's (per column)."""
    first = np.asarray(first, dtype=bool)
    return np.where(first, 1.0 / first.sum(axis=0), -1.0 / (~first).sum(axis=0))


def mmd_statistic(kernel: np.ndarray, first: np.ndarray) -> float:
    """Return the (biased) squared MMD of two groups from their pooled kernel matrix.

    With weights ``w`` of +1/n1 on the first group and -1/n2 on the second, ``w' K w`` is
    the mean kernel within the first group, plus that within the second, minus twice the
    mean between them: the squared distance between the groups' mean embeddings.
    """
    weights = group_weights(first)
    return float(weights @ kernel @ weights)


def monitor_windows(
    reference: dict[str, np.ndarray],
    stream: dict[str, np.ndarray],
    window: int,
    *,
    n_permutations: int = 200,
    seed: int = 0,
) -> pd.DataFrame:
    """Test each consecutive window of a stream against the reference, without labels.

    Args:
        reference: ``{"scores": (n,), "inputs": (n, k) statistics, "embedding": (n, d)}``
            from validation; any subset of the three keys.
        stream: the same keys for the deployed cases, in arrival order.
        window: cases per window.
        n_permutations, seed: the MMD's permutation test.

    Returns:
        One row per window: ``start``, ``end`` and a p-value per monitored signal
        (``p_scores``, ``p_inputs`` (Bonferroni over the statistics), ``p_embedding``).
    """
    known = {"scores", "inputs", "embedding"}
    if not reference or set(reference) - known or set(reference) != set(stream):
        raise OversightError(
            f"reference and stream need the same keys among {sorted(known)}, got "
            f"{sorted(reference)} and {sorted(stream)}."
        )
    lengths = {len(np.asarray(values)) for values in stream.values()}
    if len(lengths) != 1 or window < 2 or window > min(lengths):
        raise OversightError(
            f"every stream signal needs one row per case and window must be in [2, cases], "
            f"got lengths {sorted(lengths)} and window {window}."
        )
    rows = []
    for start in range(0, min(lengths) - window + 1, window):
        part = {key: np.asarray(values)[start : start + window] for key, values in stream.items()}
        row = {"start": start, "end": start + window}
        if "scores" in part:
            row["p_scores"] = float(ks_test(reference["scores"], part["scores"])["p_value"][0])
        if "inputs" in part:
            tests = ks_test(reference["inputs"], part["inputs"])
            row["p_inputs"] = float(tests["p_bonferroni"].min())
        if "embedding" in part:
            _, row["p_embedding"] = mmd_test(
                reference["embedding"], part["embedding"], n_permutations=n_permutations, seed=seed
            )
        rows.append(row)
    return pd.DataFrame(rows)
