"""Federated learning from first principles: hospitals, partitions, FedAvg, FedProx, DP-style noise.

Hospitals cannot pool their patients' X-rays. In *federated averaging* (FedAvg, McMahan et
al. 2017) a server sends the current model to every hospital, each hospital trains it on
its own images for a few epochs, and the server replaces the model by the average of the
returned weights, each hospital weighted by its number of images. Only weights travel.

The road::

    parts = partition_non_iid(labels, n_clients=5, alpha=0.5, seed=0)    # 5 "hospitals"
    clients = [(images[p], labels[p]) for p in parts]
    result = run_fedavg(build_federated_cnn, clients, rounds=10, local_epochs=1,
                        eval_data={"test": (test_images, test_labels)})
    result.table()                                                      # AUC per round

The same local training (:class:`LocalTrainer`) serves the from-scratch loop, centralised
training, each hospital alone, and the Flower app (:mod:`pneumo_helpers.flower_app`), so
that all of them are compared on equal terms.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import data, training

#: One client's data: ``(images, labels)``, images ``uint8 (N, H, W)`` or float ``(N, H, W, 1)``.
ClientData = tuple[np.ndarray, np.ndarray]


class FederatedError(ValueError):
    """A federated-learning helper received an argument it cannot use."""


# --------------------------------------------------------------------------------------
# Partitions: who holds which X-rays
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Aggregation, communication, clipping and noise
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# The model and local training
# --------------------------------------------------------------------------------------


def prepare_images(images: np.ndarray) -> np.ndarray:
    """Return images as ``float32 (N, H, W, 1)`` in [0, 1] (``uint8`` input is divided by 255)."""
    return data.as_float_images(images, error=FederatedError)


def build_federated_cnn(
    input_shape: Sequence[int] = (28, 28, 1),
    filters: Sequence[int] = (16, 32, 64),
    dense_units: int = 32,
    learning_rate: float = 1e-3,
):
    """Build the small CNN the federated chapter trains: 3×3 conv blocks, no BatchNorm.

    The course's baseline CNN uses batch normalisation, whose running statistics are
    averages over each hospital's own images; averaging them across hospitals with
    different case mixes is a known pitfall of FedAvg (FedBN keeps them local), and
    noise added for privacy can make a running variance negative. This model therefore
    has none: every weight is an ordinary parameter that FedAvg averages.

    Returns:
        A compiled ``keras.Model`` named ``federated_cnn`` with one sigmoid output.
    """
    import keras
    from keras import layers

    from .models import compile_binary

    inputs = keras.Input(shape=tuple(int(v) for v in input_shape), name="image")
    x = inputs
    for block, width in enumerate(filters, start=1):
        x = layers.Conv2D(width, 3, padding="same", activation="relu", name=f"block{block}_conv")(x)
        x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="pneumonia")(x)
    model = keras.Model(inputs, outputs, name="federated_cnn")
    return compile_binary(model, learning_rate)


class LocalTrainer:
    """Train one Keras model again and again on different clients' data, traced once.

    Each call to :meth:`train` starts from the weights it is given, with a fresh Adam
    state (a hospital keeps no optimizer memory between rounds), shuffles with a seed of
    its own, and may add FedProx's proximal term ``mu / 2 * ||w - w_global||^2`` to the
    loss, which pulls the local weights back towards the global model.
    """

    def __init__(self, model, learning_rate: float = 1e-3, optimizer: str = "adam"):
        import keras
        import tensorflow as tf

        self.model = model
        if optimizer == "adam":
            self.optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
        elif optimizer == "sgd":
            self.optimizer = keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9)
        else:
            raise FederatedError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}.")
        self.optimizer.build(model.trainable_variables)
        self._loss = keras.losses.BinaryCrossentropy()
        self._anchor = [
            tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False)
            for v in model.trainable_variables
        ]
        self._mu = tf.Variable(0.0, trainable=False, dtype=tf.float32)
        self._step = tf.function(self._train_step, reduce_retracing=True)
        self._forward = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True)

    def _train_step(self, x, y, sample_weight):
        import tensorflow as tf

        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            scores = self.model(x, training=True)
            loss = self._loss(y, scores, sample_weight=sample_weight)
            proximal = tf.add_n(
                [
                    tf.reduce_sum(tf.square(tf.convert_to_tensor(v) - a))
                    for v, a in zip(variables, self._anchor, strict=True)
                ]
            )
            total = loss + 0.5 * self._mu * proximal
        gradients = tape.gradient(total, variables)
        self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return loss

    def _reset_optimizer(self) -> None:
        for variable in self.optimizer.variables:
            if "learning_rate" in variable.path:
                continue
            variable.assign(np.zeros(variable.shape, dtype=variable.dtype))

    def get_weights(self) -> list[np.ndarray]:
        """Return the model's weights as numpy arrays."""
        return self.model.get_weights()

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Load weights into the model."""
        self.model.set_weights(list(weights))

    def train(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        *,
        epochs: int = 1,
        batch_size: int = 32,
        seed: int | Sequence[int] = 0,
        proximal_mu: float = 0.0,
        balanced: bool = True,
        reset_optimizer: bool = True,
    ) -> float:
        """Train for ``epochs`` passes over ``(images, labels)``; return the mean loss.

        With ``proximal_mu > 0`` the starting weights are the FedProx anchor. With
        ``balanced`` each example's loss is weighted ``n / (2 n_c)`` by its class's count on
        *this* data (see :func:`balanced_sample_weights`).
        """
        if len(images) != len(labels):
            raise FederatedError(
                f"images and labels differ in length ({len(images)} vs {len(labels)})."
            )
        if len(images) == 0:
            raise FederatedError("this client has no examples to train on: check the partition.")
        if epochs < 1 or batch_size < 1:
            raise FederatedError(
                f"epochs and batch_size must be at least 1, got {epochs} and {batch_size}."
            )
        x = prepare_images(images)
        y = np.asarray(labels, dtype=np.float32).reshape(-1, 1)
        weights = balanced_sample_weights(labels) if balanced else np.ones(len(y), np.float32)
        if reset_optimizer:
            self._reset_optimizer()
        self._mu.assign(float(proximal_mu))
        for anchor, variable in zip(self._anchor, self.model.trainable_variables, strict=True):
            anchor.assign(np.asarray(variable))
        rng = np.random.default_rng(seed)
        losses = []
        for _ in range(epochs):
            order = rng.permutation(len(x))
            for start in range(0, len(x), batch_size):
                batch = order[start : start + batch_size]
                losses.append(float(self._step(x[batch], y[batch], weights[batch])))
        return float(np.mean(losses))

    def predict(self, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Return the pneumonia scores ``(N,)`` of the current weights."""
        x = prepare_images(images)
        parts = [
            np.asarray(self._forward(x[start : start + batch_size])).reshape(-1)
            for start in range(0, len(x), batch_size)
        ]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def balanced_sample_weights(labels) -> np.ndarray:
    """Return per-example weights from chapter 2's :func:`~pneumo_helpers.training.class_weights`.

    Computed on one client's labels: a hospital with few normal X-rays weighs each of
    them more, so that its local training pulls in the same direction as everyone else's
    rather than towards its own case mix. With a single class every weight is 1.
    """
    labels = np.asarray(labels).reshape(-1).astype(int)
    weights = training.class_weights(labels, allow_single_class=True)
    return np.array([weights[0], weights[1]], dtype=np.float32)[labels]


def score_summary(labels, scores) -> dict[str, float]:
    """Return AUC, log loss and accuracy at 0.5 of pneumonia scores.

    The AUC and the accuracy are those of the course's one engine
    (:func:`pneumo_helpers.evaluation.point_metrics`); the AUC is NaN when the labels hold
    a single class, and every value is NaN when the scores are not finite (a diverged run).

    Args:
        labels: 0/1 labels.
        scores: the model's pneumonia scores, in the same order.

    Returns:
        ``{"auc": ..., "loss": ..., "accuracy": ...}``.
    """
    from sklearn.metrics import log_loss

    from . import evaluation

    labels = np.asarray(labels).reshape(-1)
    scores = np.clip(np.asarray(scores, dtype=np.float64).reshape(-1), 1e-7, 1 - 1e-7)
    if not np.isfinite(scores).all():
        return {"auc": float("nan"), "loss": float("nan"), "accuracy": float("nan")}
    point = evaluation.point_metrics(labels, scores, threshold=0.5)
    return {
        "auc": point["auc"],
        "loss": float(log_loss(labels, scores, labels=[0, 1])),
        "accuracy": point["accuracy"],
    }


# --------------------------------------------------------------------------------------
# The round loop
# --------------------------------------------------------------------------------------


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
    from . import config

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
    from . import config

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
