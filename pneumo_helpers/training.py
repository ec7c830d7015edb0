"""Training: class weights, early stopping on validation AUC, and a history the plots read."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import keras
import numpy as np

from . import config


@dataclass
class TrainingResult:
    """What :func:`fit` returns: the trained model, its history and how long it took.

    Attributes:
        model: the trained model, with the weights of its best validation epoch.
        history: ``{"loss": [...], "val_auc": [...], ...}``, one value per epoch run.
        seconds: wall-clock training time.
        best_epoch: 1-based epoch whose weights the model holds.
        class_weight: the class weights used, or None.
    """

    model: keras.Model
    history: dict[str, list[float]]
    seconds: float
    best_epoch: int
    class_weight: dict[int, float] | None = field(default=None)

    @property
    def epochs_run(self) -> int:
        """Return how many epochs ran before training stopped."""
        return len(self.history.get("loss", []))


def class_weights(labels: np.ndarray, *, allow_single_class: bool = False) -> dict[int, float]:
    """Return balanced class weights ``n / (2 * n_c)`` for 0/1 labels.

    The rarer class (here: normal) weighs more, so that both classes contribute equally
    to the loss. Per-example weights are ``np.array([w[0], w[1]])[labels]``.

    Args:
        labels: 0/1 labels.
        allow_single_class: return weight 1 for both classes when the labels hold only
            one (a federated client may lack a class) instead of raising.

    Raises:
        ValueError: labels are empty, not 0/1, or hold a single class.
    """
    labels = np.asarray(labels).ravel()
    if labels.size == 0:
        raise ValueError("labels is empty: cannot compute class weights.")
    values = set(np.unique(labels).tolist())
    if not values <= {0, 1}:
        raise ValueError(f"labels must be 0/1, got values {sorted(values)}.")
    counts = np.bincount(labels.astype(int), minlength=2)
    if (counts == 0).any() and allow_single_class:
        return {0: 1.0, 1: 1.0}
    if (counts == 0).any():
        raise ValueError(
            f"labels hold a single class (counts {counts.tolist()}): class weights need both."
        )
    return {c: float(labels.size / (2.0 * counts[c])) for c in (0, 1)}


def fit(
    model: keras.Model,
    train_data,
    val_data,
    *,
    epochs: int | None = None,
    train_labels: np.ndarray | None = None,
    class_weight: dict[int, float] | str | None = "balanced",
    patience: int | None = None,
    monitor: str = "val_auc",
    seed: int | None = None,
    reduce_lr: bool = True,
    verbose: int = 0,
    callbacks: list | None = None,
) -> TrainingResult:
    """Train ``model`` with class weights and early stopping on validation AUC.

    Args:
        model: a compiled model whose metrics include ``auc``.
        train_data: a ``tf.data.Dataset`` of ``(image, label)`` batches.
        val_data: the validation dataset (never the test split).
        epochs: maximum epochs; default the active profile's.
        train_labels: the training labels, needed for ``class_weight="balanced"``.
        class_weight: ``"balanced"``, an explicit ``{0: w0, 1: w1}``, or None.
        patience: epochs without improvement before stopping; default the profile's.
        monitor: the validation metric to watch; maximised, or minimised for a loss.
        seed: when given, :func:`pneumo_helpers.config.set_seed` is called first.
        reduce_lr: halve the learning rate when the monitored metric has not improved
            for two epochs (smoother convergence, steadier validation scores).
        verbose: Keras verbosity (0 silent, 2 one line per epoch).
        callbacks: extra Keras callbacks.

    Returns:
        A :class:`TrainingResult`; the model holds the weights of its best epoch.
    """
    if seed is not None:
        config.set_seed(seed)
    active = None
    if epochs is None or patience is None:
        active = config.profile()
    epochs = epochs if epochs is not None else active.epochs
    patience = patience if patience is not None else active.patience
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}.")
    epochs = config.budget(epochs)  # a rehearsal trains a single epoch
    if class_weight == "balanced":
        if train_labels is None:
            raise ValueError(
                "class_weight='balanced' needs train_labels (the training split's labels), "
                "or pass class_weight=None or an explicit {0: w0, 1: w1}."
            )
        class_weight = class_weights(train_labels)
    elif isinstance(class_weight, str):
        raise ValueError(f"class_weight must be 'balanced', a dict or None, got {class_weight!r}.")

    mode = "min" if monitor.endswith("loss") else "max"
    stopper = keras.callbacks.EarlyStopping(
        monitor=monitor,
        mode=mode,
        patience=patience,
        restore_best_weights=True,
        verbose=0,
    )
    schedule = []
    if reduce_lr:
        schedule.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=monitor, mode=mode, factor=0.5, patience=2, min_lr=1e-5, verbose=0
            )
        )
    start = time.perf_counter()
    history = model.fit(
        train_data,
        validation_data=val_data,
        epochs=epochs,
        class_weight=class_weight,
        callbacks=[stopper, *schedule, *(callbacks or [])],
        shuffle=False,  # the tf.data pipeline shuffles; Keras cannot shuffle a Dataset
        verbose=verbose,
    )
    seconds = time.perf_counter() - start
    record = {key: [float(v) for v in values] for key, values in history.history.items()}
    if monitor in record and record[monitor]:
        pick = np.argmin if mode == "min" else np.argmax
        best_epoch = int(pick(record[monitor])) + 1
    else:
        best_epoch = len(record.get("loss", [])) or 1
    return TrainingResult(
        model=model,
        history=record,
        seconds=seconds,
        best_epoch=best_epoch,
        class_weight=class_weight,
    )
