"""Tests of the federated helpers: partitions, FedAvg, clipping, masks, the round loop."""

import functools

import numpy as np
import pytest

from pneumo_helpers import config
from pneumo_helpers import federated as fl


def _labels(n=400, share=0.75, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random(n) < share).astype(int)


def _assert_partition(parts, n):
    joined = np.concatenate(parts)
    assert len(joined) == n, "every index exactly once"
    assert np.array_equal(np.sort(joined), np.arange(n))
    assert all(len(p) > 0 for p in parts), "no empty client"


# -- partitions ------------------------------------------------------------------------


def test_partition_iid_is_a_balanced_deterministic_partition():
    labels = _labels()
    parts = fl.partition_iid(labels, 5, seed=3)
    _assert_partition(parts, len(labels))
    assert {len(p) for p in parts} == {80}
    again = fl.partition_iid(labels, 5, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))
    other = fl.partition_iid(labels, 5, seed=4)
    assert not all(np.array_equal(a, b) for a, b in zip(parts, other, strict=True))


@pytest.mark.parametrize("alpha", [0.1, 0.5, 100.0])
def test_partition_non_iid_is_a_deterministic_partition_without_empty_clients(alpha):
    labels = _labels(300)
    parts = fl.partition_non_iid(labels, 6, alpha, seed=1)
    _assert_partition(parts, len(labels))
    again = fl.partition_non_iid(labels, 6, alpha, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))


def test_small_alpha_skews_the_pneumonia_share_more_than_large_alpha():
    labels = _labels(2000)

    def spread(alpha):
        spreads = []
        for seed in range(5):
            parts = fl.partition_non_iid(labels, 5, alpha, seed=seed)
            spreads.append(np.std([labels[p].mean() for p in parts]))
        return np.mean(spreads)

    assert spread(0.1) > 0.2
    assert spread(1000.0) < 0.03
    assert spread(0.1) > 5 * spread(1000.0)


def test_partition_non_iid_min_size_is_respected():
    labels = _labels(500)
    parts = fl.partition_non_iid(labels, 5, 0.3, seed=0, min_size=40)
    _assert_partition(parts, len(labels))
    assert min(len(p) for p in parts) >= 40


def test_partition_non_iid_gives_up_with_a_clear_message():
    with pytest.raises(fl.FederatedError, match="larger alpha"):
        fl.partition_non_iid(_labels(100), 5, 0.01, seed=0, min_size=19, max_tries=3)


def test_partition_quantity_skew_varies_sizes_not_the_class_mix():
    labels = _labels(3000)
    parts = fl.partition_quantity_skew(labels, 5, 0.5, seed=2, min_size=10)
    _assert_partition(parts, len(labels))
    sizes = np.array([len(p) for p in parts])
    assert sizes.min() >= 10 and sizes.max() > 3 * sizes.min()
    big = [p for p in parts if len(p) > 200]
    assert all(abs(labels[p].mean() - labels.mean()) < 0.08 for p in big)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: fl.partition_iid(_labels(3), 5), "more than the 3 examples"),
        (lambda: fl.partition_iid(_labels(), 0), "at least 1"),
        (lambda: fl.partition_non_iid(_labels(), 5, 0.0), "alpha must be a positive"),
        (lambda: fl.partition_non_iid(_labels(), 5, 0.5, min_size=0), "no empty client"),
        (lambda: fl.partition_quantity_skew(_labels(), 5, -1.0), "alpha"),
    ],
)
def test_partitions_reject_bad_arguments(call, match):
    with pytest.raises(fl.FederatedError, match=match):
        call()
    assert issubclass(fl.FederatedError, ValueError)


def test_partition_summary_counts_classes():
    labels = np.array([0, 1, 1, 1, 0, 1])
    table = fl.partition_summary(labels, [np.array([0, 1, 2]), np.array([3, 4, 5])])
    assert table["x-rays"].tolist() == [3, 3]
    assert table["normal"].tolist() == [1, 1]
    assert table["pneumonia share"].round(3).tolist() == [0.667, 0.667]


# -- aggregation, clipping, masks --------------------------------------------------------


def test_fedavg_is_the_sample_weighted_mean():
    a = [np.array([0.0, 0.0], np.float32), np.array([[1.0]], np.float32)]
    b = [np.array([4.0, 8.0], np.float32), np.array([[5.0]], np.float32)]
    averaged = fl.fedavg([a, b], [3, 1])
    np.testing.assert_allclose(averaged[0], [1.0, 2.0])
    np.testing.assert_allclose(averaged[1], [[2.0]])
    assert averaged[0].dtype == np.float32
    # A client with no examples does not count; equal sizes give the plain mean.
    np.testing.assert_allclose(fl.fedavg([a, b], [0, 5])[0], [4.0, 8.0])
    np.testing.assert_allclose(fl.fedavg([a, b], [2, 2])[0], [2.0, 4.0])


def test_fedavg_rejects_all_zero_sizes_and_mismatches():
    a = [np.ones(2)]
    with pytest.raises(fl.FederatedError, match="all zero"):
        fl.fedavg([a, a], [0, 0])
    with pytest.raises(ValueError, match="one size per client"):
        fl.fedavg([a, a], [1])
    with pytest.raises(fl.FederatedError, match="same model"):
        fl.fedavg([a, [np.ones(3)]], [1, 1])
    with pytest.raises(fl.FederatedError, match="non-negative"):
        fl.fedavg([a, a], [1, -1])
    with pytest.raises(fl.FederatedError, match="empty"):
        fl.fedavg([], [])


def test_model_bytes_and_update_norm():
    weights = [np.zeros((10, 10), np.float32), np.zeros(5, np.float32)]
    assert fl.model_bytes(weights) == 105 * 4
    assert fl.update_norm([np.array([3.0]), np.array([4.0])]) == pytest.approx(5.0)


def test_clip_update_bounds_the_norm_and_keeps_small_updates():
    update = [np.array([3.0, 0.0]), np.array([4.0])]
    clipped = fl.clip_update(update, 1.0)
    assert fl.update_norm(clipped) == pytest.approx(1.0)
    np.testing.assert_allclose(clipped[0], [0.6, 0.0])  # same direction
    small = fl.clip_update(update, 10.0)
    np.testing.assert_allclose(small[1], [4.0])
    with pytest.raises(fl.FederatedError, match="positive"):
        fl.clip_update(update, 0.0)


def test_secure_aggregation_masks_hide_updates_but_cancel_in_the_sum():
    rng = np.random.default_rng(0)
    updates = [[rng.normal(size=(3, 2)), rng.normal(size=4)] for _ in range(4)]
    masks = fl.secure_aggregation_masks(4, [(3, 2), (4,)], seed=1)
    masked = [
        [u + m for u, m in zip(up, mk, strict=True)] for up, mk in zip(updates, masks, strict=True)
    ]
    true_sum = [sum(u[j] for u in updates) for j in range(2)]
    masked_sum = [sum(u[j] for u in masked) for j in range(2)]
    for t, s in zip(true_sum, masked_sum, strict=True):
        np.testing.assert_allclose(t, s, atol=1e-9)
    # One masked update says little about the real one.
    assert np.abs(masked[0][0] - updates[0][0]).mean() > 10
    with pytest.raises(fl.FederatedError, match="at least 2"):
        fl.secure_aggregation_masks(1, [(2,)])


def test_balanced_sample_weights_equalise_the_classes():
    weights = fl.balanced_sample_weights(np.array([0, 1, 1, 1]))
    np.testing.assert_allclose(weights, [2.0, 2 / 3, 2 / 3, 2 / 3])
    assert weights[:1].sum() == pytest.approx(weights[1:].sum())
    np.testing.assert_allclose(fl.balanced_sample_weights(np.array([1, 1])), [1.0, 1.0])


def test_prepare_images_scales_uint8_and_adds_a_channel():
    images = np.full((2, 4, 4), 255, np.uint8)
    prepared = fl.prepare_images(images)
    assert prepared.shape == (2, 4, 4, 1) and prepared.dtype == np.float32
    assert prepared.max() == pytest.approx(1.0)
    with pytest.raises(fl.FederatedError, match="shape"):
        fl.prepare_images(np.zeros(5))


# -- training ----------------------------------------------------------------------------


def _toy_data(n, seed, share=0.5):
    """8 px images whose brightness says the class: a CNN separates them in a few steps."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < share).astype(int)
    images = rng.integers(0, 100, size=(n, 8, 8)).astype(np.uint8)
    images[labels == 1] += 120
    return images, labels


_tiny_model = functools.partial(fl.build_federated_cnn, (8, 8, 1), filters=(4,), dense_units=4)


def test_local_trainer_learns_and_fedprox_keeps_weights_close_to_the_anchor():
    images, labels = _toy_data(128, 0)
    trainer = fl.LocalTrainer(_tiny_model(), learning_rate=1e-2)
    start = trainer.get_weights()
    trainer.train(images, labels, epochs=3, batch_size=16, seed=0)
    free = fl.update_norm([a - b for a, b in zip(trainer.get_weights(), start, strict=True)])
    scores = trainer.predict(images)
    assert fl.score_summary(labels, scores)["auc"] > 0.95
    trainer.set_weights(start)
    trainer.train(images, labels, epochs=3, batch_size=16, seed=0, proximal_mu=100.0)
    held = fl.update_norm([a - b for a, b in zip(trainer.get_weights(), start, strict=True)])
    assert held < 0.5 * free
    with pytest.raises(fl.FederatedError, match="no examples"):
        trainer.train(images[:0], labels[:0])


def test_run_fedavg_history_bytes_and_learning():
    clients = [_toy_data(64, seed, share) for seed, share in ((1, 0.2), (2, 0.8), (3, 0.5))]
    test = _toy_data(64, 9)
    result = fl.run_fedavg(
        _tiny_model, clients, rounds=3, local_epochs=2, eval_data={"test": test}, seed=0
    )
    table = result.table()
    assert list(table.index) == [0, 1, 2, 3]
    assert result.final("test_auc") > 0.9
    per_model = fl.model_bytes(result.weights)
    assert table.loc[1, "bytes_up"] == 3 * per_model == table.loc[1, "bytes_down"]
    assert result.total_bytes == 3 * 2 * 3 * per_model
    assert result.client_sizes == [64, 64, 64]
    # The same seed gives the same run.
    again = fl.run_fedavg(
        _tiny_model, clients, rounds=3, local_epochs=2, eval_data={"test": test}, seed=0
    )
    np.testing.assert_allclose(again.weights[0], result.weights[0], rtol=1e-5, atol=1e-6)


def test_run_fedavg_with_clipping_and_noise_moves_less_and_differs():
    clients = [_toy_data(64, seed) for seed in (1, 2)]
    plain = fl.run_fedavg(_tiny_model, clients, rounds=1, seed=0)
    clipped = fl.run_fedavg(_tiny_model, clients, rounds=1, clip_norm=1e-3, seed=0)
    noisy = fl.run_fedavg(
        _tiny_model, clients, rounds=1, clip_norm=1e-3, noise_multiplier=1.0, seed=0
    )
    config.set_seed(0)  # run_fedavg seeds, then builds the starting model
    first = _tiny_model().get_weights()
    moved_plain = fl.update_norm([a - b for a, b in zip(plain.weights, first, strict=True)])
    moved_clipped = fl.update_norm([a - b for a, b in zip(clipped.weights, first, strict=True)])
    assert moved_clipped <= 1e-3 + 1e-6 < moved_plain
    assert not np.allclose(noisy.weights[0], clipped.weights[0])
    with pytest.raises(fl.FederatedError, match="clip_norm"):
        fl.run_fedavg(_tiny_model, clients, rounds=1, noise_multiplier=1.0)


def test_train_centralised_runs_one_row_per_epoch():
    images, labels = _toy_data(96, 4)
    result = fl.train_centralised(
        _tiny_model, images, labels, 2, eval_data={"val": _toy_data(32, 5)}, seed=0
    )
    assert list(result.table().index) == [0, 1, 2]
    assert "val_auc" in result.table()
    assert result.total_bytes == 0


def test_run_fedavg_rejects_bad_inputs():
    with pytest.raises(fl.FederatedError, match="empty"):
        fl.run_fedavg(_tiny_model, [], rounds=1)
    with pytest.raises(fl.FederatedError, match="labels"):
        fl.run_fedavg(_tiny_model, [(np.zeros((3, 8, 8)), np.zeros(2))], rounds=1)
    with pytest.raises(fl.FederatedError, match="at least 1"):
        fl.run_fedavg(_tiny_model, [_toy_data(8, 0)], rounds=0)


def test_dp_sensitivity_is_the_largest_clients_weight_times_the_clip():
    assert fl.dp_sensitivity(1.0, [10, 10, 10, 10]) == pytest.approx(0.25)  # C / K
    assert fl.dp_sensitivity(2.0, [80, 10, 10]) == pytest.approx(1.6)  # C * 80 / 100
