"""The round loop: FedAvg (and FedProx, clipping, noise) from scratch, and pooled training.

:func:`run_fedavg` sends the global weights to every client, trains each locally
(:class:`~.local_training.LocalTrainer`), averages the returned weights
(:func:`~.aggregation.fedavg`) and evaluates; :func:`train_centralised` trains one model
on one data set with the same local training. Both return a :class:`FederatedResult`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .aggregation import fedavg, model_bytes
from .errors import FederatedError
from .local_training import LocalTrainer, score_summary
from .privacy import clip_update, dp_sensitivity, update_norm

#: One client's data: ``(images, labels)``, images ``uint8 (N, H, W)`` or float ``(N, H, W, 1)``.
ClientData = tuple[np.ndarray, np.ndarray]


@dataclass
class FederatedResult:
    """What :func:`run_fedavg` and :func:`train_centralised` return.

    Attributes:
        history: one dict per round (round 0 = the starting model): ``round``, metrics such
            as ``test_auc`` for every evaluation set, ``bytes_down``/``bytes_up`` (this
            round's traffic, all clients together), ``median_update_norm`` (the median L2
            norm of the clients' updates, before any clipping) and ``seconds`` (cumulative).
        weights: the final global weights.
        client_sizes: training examples per client.
        settings: the arguments of the run, for tables and reports.
    """

    history: list[dict[str, float]]
    weights: list[np.ndarray]
    client_sizes: list[int]
    settings: dict = field(default_factory=dict)

    def table(self):
        """Return the history as a ``pandas.DataFrame`` indexed by round."""
        import pandas as pd

        return pd.DataFrame(self.history).set_index("round")

    def final(self, metric: str = "test_auc") -> float:
        """Return ``metric`` after the last round."""
        return float(self.history[-1][metric])

    @property
    def total_bytes(self) -> int:
        """Return all bytes sent in both directions over the whole run."""
        return int(sum(row.get("bytes_down", 0) + row.get("bytes_up", 0) for row in self.history))


def _evaluate(trainer: LocalTrainer, eval_data: Mapping[str, ClientData] | None) -> dict:
    metrics = {}
    for name, (images, labels) in (eval_data or {}).items():
        for key, value in score_summary(labels, trainer.predict(images)).items():
            metrics[f"{name}_{key}"] = value
    return metrics


def _check_clients(client_data: Sequence[ClientData]) -> list[int]:
    if len(client_data) == 0:
        raise FederatedError("client_data is empty: pass one (images, labels) pair per client.")
    sizes = []
    for k, pair in enumerate(client_data):
        if len(pair) != 2:
            raise FederatedError(f"client_data[{k}] must be an (images, labels) pair.")
        images, labels = pair
        if len(images) != len(labels):
            raise FederatedError(
                f"client_data[{k}] has {len(images)} images but {len(labels)} labels."
            )
        sizes.append(len(labels))
    return sizes


def run_fedavg(
    build_model: Callable[[], object],
    client_data: Sequence[ClientData],
    rounds: int,
    local_epochs: int = 1,
    *,
    eval_data: Mapping[str, ClientData] | None = None,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    proximal_mu: float = 0.0,
    clip_norm: float | None = None,
    noise_multiplier: float = 0.0,
    seed: int = 0,
    on_round: Callable[[dict], None] | None = None,
) -> FederatedResult:
    """Run federated averaging from scratch: ``rounds`` rounds over all clients.

    Each round: every client starts from the global weights, trains ``local_epochs``
    epochs on its own data (with FedProx's proximal term when ``proximal_mu > 0``), and
    sends its weights back; the server averages them weighted by client size
    (:func:`fedavg`) and evaluates the new global model on ``eval_data``.

    Privacy option (client-level, DP-FedAvg style, without an accountant): with
    ``clip_norm`` each client's *update* (new minus global weights) is clipped to that L2
    norm; with ``noise_multiplier > 0`` the server adds Gaussian noise of standard
    deviation ``noise_multiplier * dp_sensitivity(clip_norm, sizes)`` to the weighted
    average. It bounds what one *hospital* can change, not one patient (that needs
    per-example clipping), and no (epsilon, delta) is computed.

    Args:
        build_model: returns a fresh Keras model (called once, after seeding).
        client_data: one ``(images, labels)`` pair per client.
        rounds: communication rounds.
        local_epochs: epochs each client trains per round.
        eval_data: ``{"test": (images, labels), ...}``; metrics become ``test_auc`` etc.
        batch_size: local mini-batch size.
        learning_rate: the clients' Adam learning rate.
        proximal_mu: FedProx's coefficient (0: plain FedAvg).
        clip_norm: clip every client update to this L2 norm (None: no clipping).
        noise_multiplier: server-side Gaussian noise, in units of :func:`dp_sensitivity`.
        seed: seeds the model's initial weights, the clients' shuffling and the noise.
        on_round: called with each round's record (e.g. to print progress).

    Returns:
        A :class:`FederatedResult` whose history has rounds 0 (start) to ``rounds``.
    """
    from .. import config

    sizes = _check_clients(client_data)
    if rounds < 1 or local_epochs < 1:
        raise FederatedError(
            f"rounds and local_epochs must be at least 1, got {rounds} and {local_epochs}."
        )
    if noise_multiplier < 0:
        raise FederatedError(f"noise_multiplier must be >= 0, got {noise_multiplier}.")
    if noise_multiplier > 0 and clip_norm is None:
        raise FederatedError(
            "noise_multiplier > 0 needs clip_norm: the noise is scaled to the clipping "
            "bound. Pass clip_norm (e.g. 1.0) too."
        )
    config.set_seed(seed)
    rounds = config.budget(rounds, config.REHEARSAL_ROUNDS)  # a rehearsal runs two rounds
    local_epochs = config.budget(local_epochs)
    trainer = LocalTrainer(build_model(), learning_rate)
    global_weights = trainer.get_weights()
    per_model = model_bytes(global_weights)
    noise_rng = np.random.default_rng([seed, 7])
    start = time.perf_counter()
    history = [{"round": 0, **_evaluate(trainer, eval_data), "bytes_down": 0, "bytes_up": 0}]
    history[0]["seconds"] = 0.0
    for round_number in range(1, rounds + 1):
        returned, norms = [], []
        for client, (images, labels) in enumerate(client_data):
            trainer.set_weights(global_weights)
            trainer.train(
                images,
                labels,
                epochs=local_epochs,
                batch_size=batch_size,
                seed=[seed, round_number, client],
                proximal_mu=proximal_mu,
            )
            local = trainer.get_weights()
            update = [w - g for w, g in zip(local, global_weights, strict=True)]
            norms.append(update_norm(update))
            if clip_norm is not None:
                update = clip_update(update, clip_norm)
                local = [g + u for g, u in zip(global_weights, update, strict=True)]
            returned.append(local)
        global_weights = fedavg(returned, sizes)
        if noise_multiplier > 0:
            std = noise_multiplier * dp_sensitivity(clip_norm, sizes)
            global_weights = [
                (w + noise_rng.normal(0.0, std, size=w.shape)).astype(w.dtype)
                for w in global_weights
            ]
        trainer.set_weights(global_weights)
        record = {
            "round": round_number,
            **_evaluate(trainer, eval_data),
            "bytes_down": per_model * len(client_data),
            "bytes_up": per_model * len(client_data),
            "median_update_norm": float(np.median(norms)),
            "seconds": time.perf_counter() - start,
        }
        history.append(record)
        if on_round is not None:
            on_round(record)
    settings = {
        "rounds": rounds,
        "local_epochs": local_epochs,
        "n_clients": len(client_data),
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "proximal_mu": proximal_mu,
        "clip_norm": clip_norm,
        "noise_multiplier": noise_multiplier,
        "seed": seed,
        "model_bytes": per_model,
    }
    return FederatedResult(history, global_weights, sizes, settings)


def train_centralised(
    build_model: Callable[[], object],
    images: np.ndarray,
    labels: np.ndarray,
    epochs: int,
    *,
    eval_data: Mapping[str, ClientData] | None = None,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    seed: int = 0,
) -> FederatedResult:
    """Train one model on one data set (all hospitals pooled, or one hospital alone).

    The same model, optimizer, batch size and local training as :func:`run_fedavg`, with
    the optimizer state kept across epochs; the history has one row per epoch (``round``
    counts epochs here) and no traffic.
    """
    sizes = _check_clients([(images, labels)])
    if epochs < 1:
        raise FederatedError(f"epochs must be at least 1, got {epochs}.")
    from .. import config

    config.set_seed(seed)
    epochs = config.budget(epochs, config.REHEARSAL_ROUNDS)
    trainer = LocalTrainer(build_model(), learning_rate)
    start = time.perf_counter()
    history = [{"round": 0, **_evaluate(trainer, eval_data), "seconds": 0.0}]
    for epoch in range(1, epochs + 1):
        trainer.train(
            images,
            labels,
            epochs=1,
            batch_size=batch_size,
            seed=[seed, epoch],
            reset_optimizer=epoch == 1,
        )
        history.append(
            {
                "round": epoch,
                **_evaluate(trainer, eval_data),
                "seconds": time.perf_counter() - start,
            }
        )
    settings = {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate}
    return FederatedResult(history, trainer.get_weights(), sizes, {**settings, "seed": seed})
