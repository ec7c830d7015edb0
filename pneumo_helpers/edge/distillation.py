"""Knowledge distillation: a small student learns from hard labels and a teacher's soft scores."""

from __future__ import annotations

import keras
import numpy as np

from .. import data, training
from .errors import EdgeError, EdgeInputError

#: Scores are clipped this far from 0 and 1 before they become logits.
EPSILON = 1e-7


def logits(scores) -> np.ndarray:
    """Return the logits of sigmoid scores, clipped :data:`EPSILON` away from 0 and 1."""
    clipped = np.clip(np.asarray(scores, dtype=float), EPSILON, 1 - EPSILON)
    return np.log(clipped) - np.log1p(-clipped)


def distillation_targets(labels, teacher_scores=None) -> np.ndarray:
    """Return ``(N, 2)`` float32 targets: the hard label and the teacher's logit, per image.

    Args:
        labels: 0/1 labels.
        teacher_scores: the teacher's sigmoid scores for the same images; None for a
            student without a teacher (logit 0, which a loss with ``alpha=1`` ignores).
    """
    labels = np.asarray(labels, dtype=np.float32).reshape(-1)
    if teacher_scores is None:
        teacher_scores = np.full(labels.shape, 0.5)
    teacher = logits(teacher_scores).astype(np.float32).reshape(-1)
    if labels.shape != teacher.shape:
        raise EdgeError(
            f"{labels.size} labels but {teacher.size} teacher scores: score each image."
        )
    return np.stack([labels, teacher], axis=1)


@keras.saving.register_keras_serializable(package="pneumo_helpers")
class DistillationLoss(keras.losses.Loss):
    """Hard labels plus the teacher's temperature-softened scores (Hinton et al. 2015).

    ``y_true`` holds two columns (:func:`distillation_targets`): the label and the
    teacher's logit. With the student's logit ``z``, the teacher's ``t`` and temperature
    ``T``, the loss is ``alpha * BCE(label, sigmoid(z)) + (1 - alpha) * T**2 *
    BCE(sigmoid(t / T), sigmoid(z / T))``; ``T**2`` keeps the soft term's gradients on the
    scale of the hard one. ``alpha=1`` trains on the labels alone.
    """

    def __init__(self, temperature: float = 2.0, alpha: float = 0.5, name="distillation", **kw):
        super().__init__(name=name, **kw)
        if temperature <= 0 or not 0.0 <= alpha <= 1.0:
            raise EdgeError(
                f"need temperature > 0 and alpha in [0, 1], got {temperature}, {alpha}."
            )
        self.temperature, self.alpha = float(temperature), float(alpha)

    def call(self, y_true, y_pred):
        """Return the loss of each image: ``y_true`` is ``(N, 2)`` targets, ``y_pred`` scores."""
        ops = keras.ops
        y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), (-1, 2))
        label, teacher = y_true[:, 0], y_true[:, 1]
        score = ops.clip(ops.reshape(y_pred, (-1,)), EPSILON, 1 - EPSILON)
        student = ops.log(score) - ops.log1p(-score)  # the student's logit

        def cross_entropy(target, logit):  # BCE(target, sigmoid(logit)), stable
            return ops.softplus(logit) - target * logit

        hard = cross_entropy(label, student)
        soft_target = ops.sigmoid(teacher / self.temperature)
        soft = cross_entropy(soft_target, student / self.temperature)
        return self.alpha * hard + (1 - self.alpha) * self.temperature**2 * soft

    def get_config(self) -> dict:
        """Return the loss's settings, for saving."""
        return {**super().get_config(), "temperature": self.temperature, "alpha": self.alpha}


@keras.saving.register_keras_serializable(package="pneumo_helpers")
class HardLabelAUC(keras.metrics.AUC):
    """The AUC of the hard labels (first column of distillation targets), named ``auc``."""

    def __init__(self, name="auc", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Update the AUC with the labels' column only."""
        label = keras.ops.reshape(y_true, (-1, 2))[:, :1]
        return super().update_state(label, y_pred, sample_weight)


def compile_student(
    model: keras.Model, temperature: float, alpha: float, learning_rate: float
) -> keras.Model:
    """Compile a model to learn from :func:`distillation_batches` (Adam, distillation loss)."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=DistillationLoss(temperature, alpha),
        metrics=[HardLabelAUC()],
    )
    return model


def distillation_batches(
    images,
    labels,
    teacher_scores=None,
    *,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
):
    """Return a ``tf.data`` pipeline of (image, targets) batches, class-weighted when shuffled.

    Images go through the course's converter (:func:`pneumo_helpers.data.as_float_images`);
    targets are :func:`distillation_targets` (``teacher_scores=None`` for a student
    trained without a teacher). Training batches (``shuffle=True``) carry
    balanced class weights per image (:func:`pneumo_helpers.training.class_weights`), the
    same as ``training.fit`` gives the course's other models; validation batches none.
    """
    import tensorflow as tf

    labels = np.asarray(labels).reshape(-1)
    tensors = [data.as_float_images(images, error=EdgeInputError)]
    tensors.append(distillation_targets(labels, teacher_scores))
    if shuffle:
        weights = training.class_weights(labels)
        tensors.append(np.array([weights[0], weights[1]], dtype=np.float32)[labels.astype(int)])
    batches = tf.data.Dataset.from_tensor_slices(tuple(tensors))
    if shuffle:
        batches = batches.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    return batches.batch(batch_size).prefetch(tf.data.AUTOTUNE)
