"""What few labels do with an encoder: features, shared subsets, probes, fine-tuning."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import budgets, config, data, data_efficiency, evaluation, evidence, models, training
from .errors import SelfSupervisedError


def embed(encoder, images, batch_size: int = 512) -> np.ndarray:
    """Return the encoder's features of ``images`` (uint8 or [0, 1] floats), one row each."""
    floats = data.as_float_images(images, encoder.input_shape[1:], error=SelfSupervisedError)
    chunks = [
        np.asarray(encoder(floats[start : start + batch_size], training=False))
        for start in range(0, len(floats), batch_size)
    ]
    return np.concatenate(chunks) if chunks else np.zeros((0, encoder.output_shape[-1]))


def raw_pixel_features(images, side: int | None = None) -> np.ndarray:
    """Return the images' pixels in [0, 1], flattened: the control without any encoder.

    Args:
        images: ``(N, H, W)`` or ``(N, H, W, C)`` images.
        side: shrink larger images to ``side`` px first (area averaging), e.g. 28 so that
            a logistic regression on 128 px films does not need 16,384 inputs.
    """
    floats = data.as_float_images(images, error=SelfSupervisedError)
    if side is not None and floats.shape[1] > side:
        import tensorflow as tf

        floats = tf.image.resize(floats, (side, side), method="area").numpy()
    return floats.reshape(len(floats), -1)


# ------------------------------------------------------------------ few labels


def nested_label_subsets(
    labels, fractions: Sequence[float], seed: int = 0
) -> dict[float, np.ndarray]:
    """Return stratified, nested subsets of the training X-rays: ``{fraction: indices}``.

    Each class is shuffled once with ``seed``; a share keeps the first ``fraction`` of
    each class's X-rays (at least one), so every smaller subset lies inside every larger
    one and every method trained on a share sees the same X-rays.

    Raises:
        SelfSupervisedError: a fraction is not in (0, 1], or the labels are not 0/1 with
            both classes present.
    """
    labels = np.asarray(labels).reshape(-1)
    if labels.size == 0 or set(np.unique(labels).tolist()) != {0, 1}:
        raise SelfSupervisedError(
            "labels must be 0/1 with both classes present (the training split's labels)."
        )
    if not fractions or any(not 0.0 < float(f) <= 1.0 for f in fractions):
        raise SelfSupervisedError(
            f"fractions must be in (0, 1], got {list(fractions)} (e.g. 0.01 for 1 %)."
        )
    rng = np.random.default_rng(seed)
    orders = {c: rng.permutation(np.flatnonzero(labels == c)) for c in (0, 1)}
    subsets = {}
    for fraction in fractions:
        keep = [
            order[: max(1, int(round(float(fraction) * len(order))))] for order in orders.values()
        ]
        subsets[float(fraction)] = np.sort(np.concatenate(keep))
    return subsets


@dataclass
class LinearProbe:
    """A logistic regression on frozen features, its strength chosen on validation.

    Attributes:
        model: the fitted scikit-learn pipeline (standardise, then logistic regression).
        C: the inverse regularisation strength chosen.
        validation_auc: ``{C: validation AUC}`` of every strength tried.
    """

    model: object
    C: float
    validation_auc: dict[float, float]

    def scores(self, features) -> np.ndarray:
        """Return pneumonia probabilities for rows of features."""
        return self.model.predict_proba(np.asarray(features))[:, 1]


#: The probe's regularisation strengths tried on validation (inverse, scikit-learn's C).
PROBE_STRENGTHS = (0.001, 0.01, 0.1, 1.0, 10.0)


def fit_linear_probe(
    train_features,
    train_labels,
    val_features,
    val_labels,
    strengths: Sequence[float] = PROBE_STRENGTHS,
) -> LinearProbe:
    """Fit a balanced logistic regression per strength; keep the best on validation AUC.

    Raises:
        SelfSupervisedError: features and labels differ in length, a split lacks a class,
            or no strength is given.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train_features, val_features = np.asarray(train_features), np.asarray(val_features)
    train_labels, val_labels = np.asarray(train_labels).ravel(), np.asarray(val_labels).ravel()
    for name, x, y in (("train", train_features, train_labels), ("val", val_features, val_labels)):
        if x.ndim != 2 or len(x) != len(y):
            raise SelfSupervisedError(
                f"{name}_features must be (N, D) with one label per row, got {x.shape} and "
                f"{y.shape} labels."
            )
        if set(np.unique(y).tolist()) != {0, 1}:
            raise SelfSupervisedError(f"{name}_labels must hold both classes (0 and 1).")
    if not strengths:
        raise SelfSupervisedError("strengths must list at least one C, e.g. (0.01, 0.1, 1).")
    evidence.refuse_test("fit_linear_probe", val_labels)
    scaler = StandardScaler().fit(train_features)
    x_train, x_val = scaler.transform(train_features), scaler.transform(val_features)
    # From the strongest regularisation to the weakest, each fit starting from the last.
    regression = LogisticRegression(class_weight="balanced", max_iter=2000, warm_start=True)
    fitted, aucs = {}, {}
    for strength in sorted(float(c) for c in strengths):
        regression.set_params(C=strength).fit(x_train, train_labels)
        fitted[strength] = make_pipeline(scaler, copy.deepcopy(regression))
        val_scores = regression.predict_proba(x_val)[:, 1]
        aucs[strength] = evaluation.point_metrics(val_labels, val_scores)["auc"]
    chosen = evidence.choose(
        "linear probe strength C", {str(c): a for c, a in aucs.items()}, split="validation"
    )
    return LinearProbe(fitted[float(chosen)], float(chosen), aucs)


def init_from_encoder(model, encoder) -> list[str]:
    """Copy the encoder's weights into the layers of ``model`` with the same names.

    Returns:
        The names of the layers copied.

    Raises:
        SelfSupervisedError: no layer matches, or a matching layer's weights differ in shape
            (the encoder was built with other filters).
    """
    targets = {layer.name: layer for layer in model.layers}
    copied = []
    for layer in encoder.layers:
        weights = layer.get_weights()
        if not weights or layer.name not in targets:
            continue
        target = targets[layer.name]
        shapes = [w.shape for w in target.get_weights()]
        if shapes != [w.shape for w in weights]:
            raise SelfSupervisedError(
                f"layer {layer.name!r} has weights of shapes {shapes} in the model but "
                f"{[w.shape for w in weights]} in the encoder: build both with the same filters."
            )
        target.set_weights(weights)
        copied.append(layer.name)
    if not copied:
        raise SelfSupervisedError(
            "no layer of the model matches the encoder by name: start a baseline CNN "
            "(models.build_baseline_cnn) from an encoder of build_encoder."
        )
    return copied


@dataclass
class ClassifierRun:
    """One training of the baseline CNN on a share of the labels, scored at once.

    Attributes:
        val_scores: pneumonia scores of the validation split (its best epoch's weights).
        test_scores: pneumonia scores of the test split, reported only.
        history: the training history per epoch.
        best_epoch: the epoch whose weights were kept (best validation AUC).
        updates: weight updates made.
        seconds: wall-clock training time.
    """

    val_scores: np.ndarray
    test_scores: np.ndarray
    history: dict[str, list[float]]
    best_epoch: int
    updates: int
    seconds: float


class FewLabelTrainer:
    """Train the baseline CNN on shares of the labels, from an encoder or from scratch.

    Every run makes the same number of weight updates whatever the share: the labelled
    subset is repeated to :attr:`EPOCH_SHARE` of the training split's size
    (:func:`pneumo_helpers.data_efficiency.repeat_to_size`), one epoch, and trained for
    the row's epochs; the epoch with the best validation AUC is kept (every method reads the
    validation labels the same way). One compiled network is re-initialised for every
    run, so that TensorFlow traces its training step once; each run's scores are taken
    before the next run starts.

    Args:
        dataset: the full data set (validation chooses the epoch; test is scored).
        row: the budget row (``budgets.budget(profile, "baseline_cnn_few_labels")``).
    """

    #: One epoch's rows, as a share of the training split (two validation checkpoints
    #: within one pass's worth of updates in the quick profile).
    EPOCH_SHARE = 0.5

    def __init__(self, dataset: data.PneumoniaMNIST, row: budgets.Budget):
        self.dataset, self.row = dataset, row
        self.filters = tuple(row.filters or (16, 32, 64))
        self.model = self._fresh(seed=0)
        self.val_data = data.make_dataset(*dataset.val, batch_size=512)
        self.test_data = data.make_dataset(*dataset.test, batch_size=512)

    def _fresh(self, seed: int):
        config.set_seed(seed)
        return models.build_baseline_cnn(
            (self.dataset.size, self.dataset.size, 1),
            filters=self.filters,
            learning_rate=self.row.learning_rate,
            batchnorm_momentum=self.row.batchnorm_momentum or 0.9,
        )

    def _reset(self, seed: int, encoder) -> None:
        """Seeded random weights (then the encoder's, if any) and a fresh optimiser state."""
        self.model.set_weights(self._fresh(seed).get_weights())
        if encoder is not None:
            init_from_encoder(self.model, encoder)
        for variable in self.model.optimizer.variables:
            variable.assign(np.zeros(variable.shape, variable.dtype))
        self.model.optimizer.learning_rate.assign(self.row.learning_rate)

    def train(self, subset, *, encoder=None, seed: int = 0) -> ClassifierRun:
        """Train on the training X-rays ``subset`` (indices), from ``encoder`` or scratch.

        Raises:
            SelfSupervisedError: ``subset`` is empty or holds indices outside the split.
        """
        import dataclasses

        subset = np.asarray(subset, dtype=int)
        n_train = len(self.dataset.train.labels)
        if subset.size == 0 or subset.min() < 0 or subset.max() >= n_train:
            raise SelfSupervisedError(
                f"subset must hold indices of the training split (0 to {n_train - 1}), got "
                f"{subset.size} indices."
            )
        self._reset(seed, encoder)
        train = self.dataset.train
        labelled = dataclasses.replace(
            self.dataset, train=data.Split(train.images[subset], train.labels[subset])
        )
        epoch_rows = max(1, int(self.EPOCH_SHARE * n_train))
        steps = -(-epoch_rows // self.row.batch_size)
        repeated = data_efficiency.repeat_to_size(labelled, max(len(subset), epoch_rows), seed)
        batches = data.make_dataset(
            *repeated.train,
            batch_size=self.row.batch_size,
            shuffle=True,
            augment=self.row.augment,
            seed=seed,
        ).take(steps)  # a larger subset: each epoch, the first rows of a new shuffle
        result = training.fit(
            self.model,
            batches,
            self.val_data,
            epochs=self.row.epochs,
            patience=self.row.patience,
            monitor=self.row.monitor,
            train_labels=labelled.train.labels,
            reduce_lr=self.row.schedule == "plateau",
        )
        return ClassifierRun(
            val_scores=evaluation.predict_scores(self.model, self.val_data),
            test_scores=evaluation.predict_scores(self.model, self.test_data),
            history=result.history,
            best_epoch=result.best_epoch,
            updates=result.epochs_run * steps,
            seconds=result.seconds,
        )
