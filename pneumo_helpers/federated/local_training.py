"""The model and local training: the CNN, one client's training step, its scores.

:class:`LocalTrainer` is the one local training loop: the from-scratch FedAvg rounds, pooled
training, each hospital alone and the Flower app (:mod:`pneumo_helpers.flower_app`) all
train through it, so that they are compared on equal terms.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import data, training
from .errors import FederatedError


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

    from ..models import compile_binary

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

    from .. import evaluation

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
