"""Few-shot classification by prototypes (the nearest class mean), over sampled episodes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import config, evaluation
from .errors import SelfSupervisedError


def prototype_scores(support_features, support_labels, query_features) -> np.ndarray:
    """Score queries by the nearest class mean: squared distance to normal minus to pneumonia.

    Features are scaled to unit length first, so the distance compares directions.
    Higher scores mean closer to the pneumonia prototype.
    """
    support = _unit(np.asarray(support_features, dtype=float))
    queries = _unit(np.asarray(query_features, dtype=float))
    labels = np.asarray(support_labels).ravel()
    normal, pneumonia = support[labels == 0].mean(0), support[labels == 1].mean(0)
    to_normal = ((queries - normal) ** 2).sum(1)
    to_pneumonia = ((queries - pneumonia) ** 2).sum(1)
    return to_normal - to_pneumonia


def _unit(features: np.ndarray) -> np.ndarray:
    return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)


@dataclass
class FewShotResult:
    """Episodes of prototypical classification with ``shots`` labelled X-rays per class.

    Attributes:
        shots: labelled X-rays per class in each episode's support set.
        support: ``(episodes, 2 * shots)`` training indices of each support set.
        scores: ``(episodes, queries)`` each episode's scores of the query X-rays.
        aucs: ``(episodes,)`` each episode's AUC on the queries.
    """

    shots: int
    support: np.ndarray
    scores: np.ndarray
    aucs: np.ndarray

    def mean_interval(self, n_boot: int = 1000, seed: int = 0) -> tuple[float, float, float]:
        """Return the mean AUC over episodes and a bootstrap interval of it (over episodes)."""
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, len(self.aucs), size=(config.budget(n_boot, 20), len(self.aucs)))
        low, high = evaluation.percentile_interval(self.aucs[draws].mean(axis=1))
        return float(self.aucs.mean()), low, high


def episode_supports(train_labels, shots: int, episodes: int, seed: int = 0) -> np.ndarray:
    """Draw ``episodes`` support sets of ``shots`` X-rays per class: ``(episodes, 2 * shots)``.

    The draws depend only on the labels, ``shots`` and ``seed``: every encoder is scored
    on the same episodes.
    """
    labels = np.asarray(train_labels).ravel()
    members = [np.flatnonzero(labels == c) for c in (0, 1)]
    if shots < 1 or episodes < 1 or min(len(m) for m in members) < shots:
        raise SelfSupervisedError(
            f"need shots >= 1, episodes >= 1 and at least {shots} X-rays of each class; got "
            f"shots={shots}, episodes={episodes}, class counts {[len(m) for m in members]}."
        )
    rng = np.random.default_rng([seed, shots])
    return np.array(
        [
            np.concatenate([rng.choice(m, size=shots, replace=False) for m in members])
            for _ in range(episodes)
        ]
    )


def few_shot_episodes(
    train_features,
    train_labels,
    query_features,
    query_labels,
    shots: int,
    episodes: int = 200,
    seed: int = 0,
) -> FewShotResult:
    """Run prototypical classification on many sampled episodes; score the same queries.

    Each episode draws ``shots`` labelled training X-rays per class
    (:func:`episode_supports`), takes each class's mean feature as its prototype, and
    scores every query by :func:`prototype_scores`.

    Raises:
        SelfSupervisedError: features and labels differ in length, or too few X-rays of a
            class for ``shots``.
    """
    train_features, query_features = np.asarray(train_features), np.asarray(query_features)
    train_labels = np.asarray(train_labels).ravel()
    query_labels = np.asarray(query_labels).ravel()
    if len(train_features) != len(train_labels) or len(query_features) != len(query_labels):
        raise SelfSupervisedError(
            f"features and labels differ in length: train {len(train_features)} vs "
            f"{len(train_labels)}, queries {len(query_features)} vs {len(query_labels)}."
        )
    support = episode_supports(train_labels, shots, config.budget(episodes, 10), seed)
    scores = np.array(
        [prototype_scores(train_features[s], train_labels[s], query_features) for s in support]
    )
    counts = np.ones((1, 1))
    pos, neg = query_labels == 1, query_labels == 0
    aucs = np.array(
        [
            evaluation.auc_from_counts(
                row[pos], row[neg], counts.repeat(pos.sum(), 1), counts.repeat(neg.sum(), 1)
            )[0]
            for row in scores
        ]
    )
    return FewShotResult(shots, support, scores, aucs)


def nearest_neighbours(query_features, bank_features, k: int = 5) -> np.ndarray:
    """Return, for each query, the indices of its ``k`` nearest bank rows by cosine similarity."""
    queries = _unit(np.asarray(query_features, dtype=float))
    bank = _unit(np.asarray(bank_features, dtype=float))
    if not 1 <= k <= len(bank):
        raise SelfSupervisedError(f"k must be between 1 and {len(bank)}, got {k}.")
    similarity = queries @ bank.T
    return np.argsort(-similarity, axis=1)[:, :k]
