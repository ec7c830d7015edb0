"""DP-SGD (Abadi et al. 2016) in a Keras 3 training loop, and the accountant that prices it.

Differentially private SGD changes two lines of a training step (:func:`private_gradient`):

1. every example's gradient is *clipped* to L2 norm at most ``C``, so that no single
   X-ray can move the model by more than ``C``;
2. Gaussian noise of standard deviation ``σ·C`` is added to the sum of the clipped
   gradients, which hides whether any one example was in the batch.

Batches are drawn by *Poisson sampling* (each image joins a step's batch with probability
``q``, :func:`train_dp_sgd`), the sampling the accountant assumes. The privacy the whole
training buys is then computed, not asserted: :func:`dp_sgd_epsilon` composes the steps
in ``dp_accounting``'s RDP (or PLD) accountant and returns the ε of an (ε, δ) guarantee
for one example: the model's weights are almost as likely with any one X-ray left out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .errors import PrivacyError


def private_gradient(model, images, labels, clip_norm: float, noise_multiplier: float, noise):
    """Return DP-SGD's gradient for one batch: per-example clipping, then Gaussian noise.

    Args:
        model: a Keras model (TensorFlow backend) with one sigmoid output.
        images: the batch's images (at least one; :func:`train_dp_sgd` handles empty ones).
        labels: their 0/1 labels, float, shape ``(batch, 1)``.
        clip_norm: ``C``, the largest L2 norm one example's gradient may have.
        noise_multiplier: ``σ``; the noise's standard deviation is ``σ·C``.
        noise: a ``tf.random.Generator`` for the noise.

    Returns:
        One tensor per trainable variable: the noisy *sum* of the clipped gradients.
    """
    import keras
    import tensorflow as tf

    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        losses = keras.losses.binary_crossentropy(labels, model(images, training=True))
    per_example = tape.jacobian(losses, variables)  # one gradient per X-ray
    squares = [tf.reduce_sum(tf.reshape(g, [tf.shape(g)[0], -1]) ** 2, 1) for g in per_example]
    norms = tf.sqrt(tf.add_n(squares))  # each example's gradient norm
    factor = tf.minimum(1.0, clip_norm / (norms + 1e-12))
    clipped = [tf.tensordot(factor, g, axes=1) for g in per_example]  # each example: norm <= C
    return [g + noise.normal(g.shape, stddev=noise_multiplier * clip_norm) for g in clipped]


@dataclass(frozen=True)
class DPRun:
    """What one DP-SGD training did: its steps, sampling rate and noise, and its seconds."""

    steps: int
    sampling_probability: float
    noise_multiplier: float
    clip_norm: float
    seconds: float


def train_dp_sgd(
    model,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int,
    expected_batch: int,
    learning_rate: float,
    clip_norm: float = 1.0,
    noise_multiplier: float = 1.0,
    seed: int = 0,
) -> DPRun:
    """Train ``model`` with DP-SGD: Poisson-sampled batches, :func:`private_gradient`, SGD.

    Each step draws every training image with probability ``q = expected_batch / n`` and
    divides the noisy gradient sum by ``expected_batch`` (not by the batch's actual size,
    which would depend on who was drawn). ``epochs * n / expected_batch`` steps are run.

    Args:
        model: an uncompiled Keras model (TensorFlow backend) with one sigmoid output.
        images: float training images, as the model expects them.
        labels: their 0/1 labels.
        epochs: passes over the data, in expectation.
        expected_batch: the mean batch size ``q * n``.
        learning_rate: SGD's learning rate (momentum 0.9).
        clip_norm: ``C``.
        noise_multiplier: ``σ`` (0 trains with clipping only: no privacy).
        seed: seeds the sampling and the noise.

    Returns:
        The :class:`DPRun`, for :func:`dp_sgd_epsilon`.
    """
    import keras
    import tensorflow as tf

    n = len(images)
    if n == 0 or len(labels) != n:
        raise PrivacyError(f"need one label per image, got {len(labels)} for {n} images.")
    if epochs < 1 or expected_batch < 1 or clip_norm <= 0 or noise_multiplier < 0:
        raise PrivacyError("epochs and expected_batch >= 1, clip_norm > 0, noise >= 0 please.")
    q = min(1.0, expected_batch / n)
    steps = max(1, int(round(epochs * n / expected_batch)))
    optimizer = keras.optimizers.SGD(learning_rate, momentum=0.9)
    optimizer.build(model.trainable_variables)  # its variables exist before tracing
    noise = tf.random.Generator.from_seed(seed)
    images = tf.constant(images, tf.float32)
    labels = tf.constant(np.asarray(labels, np.float32).reshape(-1, 1))
    signature = [tf.TensorSpec([None, *images.shape[1:]]), tf.TensorSpec([None, 1])]

    @tf.function(input_signature=signature)
    def step(batch_images, batch_labels):
        noisy_sum = private_gradient(
            model, batch_images, batch_labels, clip_norm, noise_multiplier, noise
        )
        optimizer.apply([g / expected_batch for g in noisy_sum], model.trainable_variables)

    @tf.function
    def empty_step():  # nobody drawn: the noise alone (the accountant counts this step too)
        sigma = noise_multiplier * clip_norm
        noisy = [noise.normal(v.shape, stddev=sigma) for v in model.trainable_variables]
        optimizer.apply([g / expected_batch for g in noisy], model.trainable_variables)

    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for _ in range(steps):
        chosen = np.flatnonzero(rng.random(n) < q)  # Poisson sampling
        if len(chosen):
            step(tf.gather(images, chosen), tf.gather(labels, chosen))
        else:
            empty_step()
    return DPRun(steps, q, noise_multiplier, clip_norm, time.perf_counter() - start)


def dp_sgd_epsilon(
    sampling_probability: float,
    noise_multiplier: float,
    steps: int,
    delta: float,
    accountant: str = "rdp",
) -> float:
    """Return the ε of DP-SGD's (ε, δ) guarantee, from ``dp_accounting``'s accountant.

    The training is ``steps`` compositions of a Poisson-sampled Gaussian mechanism
    (sampling probability ``q``, noise multiplier ``σ``); the accountant composes them and
    converts the result to the smallest ε it can prove at ``delta``. Neighbouring data
    sets differ by adding or removing one example (one X-ray).

    Args:
        sampling_probability: ``q``.
        noise_multiplier: ``σ``; 0 means no noise, hence no guarantee (ε = ∞).
        steps: training steps.
        delta: δ, e.g. ``1 / n``.
        accountant: ``"rdp"`` (Rényi DP, Mironov 2017) or ``"pld"`` (privacy-loss
            distributions, tighter).

    Returns:
        ε (``inf`` without noise).
    """
    import dp_accounting
    from absl import logging as absl_logging
    from dp_accounting.pld import pld_privacy_accountant
    from dp_accounting.rdp import rdp_privacy_accountant

    if not 0 < sampling_probability <= 1 or steps < 1 or not 0 < delta < 1:
        raise PrivacyError("need 0 < sampling_probability <= 1, steps >= 1 and 0 < delta < 1.")
    if accountant not in ("rdp", "pld"):
        raise PrivacyError(f"accountant must be 'rdp' or 'pld', got {accountant!r}.")
    if noise_multiplier <= 0:
        return float("inf")
    event = dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(
            sampling_probability, dp_accounting.GaussianDpEvent(noise_multiplier)
        ),
        steps,
    )
    if accountant == "rdp":
        ledger = rdp_privacy_accountant.RdpAccountant()
    else:
        ledger = pld_privacy_accountant.PLDAccountant()
    verbosity = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)  # orders that do not converge are dropped
    try:
        ledger.compose(event)
        return float(ledger.get_epsilon(delta))
    finally:
        absl_logging.set_verbosity(verbosity)
