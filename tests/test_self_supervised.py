"""Tests of self-supervision: views, NT-Xent by hand, subsets, probes, prototypes, fine-tuning."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from pneumo_helpers import budgets, data, evidence, models
from pneumo_helpers import self_supervised as ssl

QUICK_PRETRAIN = budgets.budget("quick", "simclr_pretraining")
QUICK_FEW = budgets.budget("quick", "baseline_cnn_few_labels")


def _dataset(n_train: int = 64, size: int = 16) -> data.PneumoniaMNIST:
    """Tiny films: pneumonia ones are brighter, so the mean pixel separates the classes."""
    rng = np.random.default_rng(0)

    def split(n):
        labels = np.array([0, 1, 1, 1] * (n // 4))
        images = rng.integers(0, 100, size=(len(labels), size, size)).astype(np.uint8)
        images[labels == 1] += 100
        return data.Split(images, labels)

    return data.PneumoniaMNIST(split(n_train), split(32), split(32), size=size, path=Path("fake"))


# ------------------------------------------------------------------ NT-Xent by hand


def test_nt_xent_equals_the_hand_computed_value_of_a_tiny_batch():
    # Two films, two views each, unit projections (1, 0) and (0, 1), temperature 1: every
    # view's partner has similarity 1 and its two negatives 0, so each term is
    # -log(e / (e + 1 + 1)) = log(1 + 2 / e).
    z = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert ssl.nt_xent(z, z, temperature=1.0) == pytest.approx(np.log(1 + 2 / np.e), abs=1e-6)


def test_nt_xent_by_hand_with_unequal_similarities_and_a_temperature():
    # View A of film 1 is (1, 0); its partner (view B) is (0.6, 0.8), similarity 0.6. Film 2:
    # view A (0, 1), view B (0.8, 0.6). At temperature 0.5 the term of view A1 is
    # -log(exp(0.6/0.5) / (exp(0/0.5) + exp(0.6/0.5) + exp(0.8/0.5))), and so on.
    a = np.array([[1.0, 0.0], [0.0, 1.0]])
    b = np.array([[0.6, 0.8], [0.8, 0.6]])
    z = np.vstack([a, b])
    partner = [2, 3, 0, 1]
    tau = 0.5
    terms = []
    for i in range(4):
        sims = {k: float(z[i] @ z[k]) / tau for k in range(4) if k != i}
        terms.append(-np.log(np.exp(sims[partner[i]]) / sum(np.exp(v) for v in sims.values())))
    # The same sums written out for view A1: sims 0 (A2), 0.6 (B1, partner), 0.8 (B2).
    first = -np.log(np.exp(1.2) / (np.exp(0.0) + np.exp(1.2) + np.exp(1.6)))
    assert terms[0] == pytest.approx(first)
    assert ssl.nt_xent(a, b, temperature=tau) == pytest.approx(np.mean(terms), abs=1e-5)


def test_nt_xent_is_lower_when_partners_match_and_ignores_the_projection_length():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(6, 4))
    matched = ssl.nt_xent(a, a + 0.01 * rng.normal(size=a.shape))
    shuffled = ssl.nt_xent(a, a[::-1])
    assert matched < shuffled
    assert ssl.nt_xent(a, 3.0 * a) == pytest.approx(ssl.nt_xent(a, a), abs=1e-5)


def test_nt_xent_refuses_bad_batches():
    with pytest.raises(ssl.SelfSupervisedError, match="same shape"):
        ssl.nt_xent(np.ones((3, 2)), np.ones((2, 2)))
    with pytest.raises(ssl.SelfSupervisedError, match="N >= 2"):
        ssl.nt_xent(np.ones((1, 2)), np.ones((1, 2)))
    with pytest.raises(ssl.SelfSupervisedError, match="temperature"):
        ssl.nt_xent(np.eye(2), np.eye(2), temperature=0.0)


# ------------------------------------------------------------------ views


def test_views_keep_shape_and_range_and_differ_between_seeds():
    films = _dataset().train.images[:8]
    view = ssl.augment_for_pretraining(films, seed=0)
    assert view.shape == (8, 16, 16, 1) and view.dtype == np.float32
    assert view.min() >= 0.0 and view.max() <= 1.0
    assert not np.allclose(view, ssl.augment_for_pretraining(films, seed=1))
    np.testing.assert_allclose(view, ssl.augment_for_pretraining(films, seed=0))


def test_views_use_no_colour_jitter_a_grey_film_stays_grey():
    films = np.repeat(_dataset().train.images[:8, :, :, None], 3, axis=-1)
    view = ssl.augment_for_pretraining(films, seed=3)
    assert view.shape == (8, 16, 16, 3)
    np.testing.assert_allclose(view[..., 0], view[..., 1], atol=1e-6)
    np.testing.assert_allclose(view[..., 0], view[..., 2], atol=1e-6)


def test_views_without_changes_return_the_film():
    films = _dataset().train.images[:4]
    identity = ssl.ViewSettings(
        crop_scale=(1.0, 1.0),
        max_rotation=0.0,
        contrast=0.0,
        brightness=0.0,
        noise=0.0,
        blur_probability=0.0,
        aspect_ratio=(1.0, 1.0),
    )
    view = ssl.augment_for_pretraining(films, seed=0, settings=identity)
    np.testing.assert_allclose(view[..., 0], films / 255.0, atol=1e-4)


def test_views_refuse_bad_settings_and_shapes():
    with pytest.raises(ssl.SelfSupervisedError, match="crop_scale"):
        ssl.augment_for_pretraining(np.zeros((2, 8, 8)), settings=ssl.ViewSettings((0.0, 1.0)))
    with pytest.raises(ssl.SelfSupervisedError, match="on its side"):
        ssl.augment_for_pretraining(np.zeros((2, 8, 8)), settings=ssl.ViewSettings(max_rotation=90))
    with pytest.raises(ssl.SelfSupervisedError, match="shape"):
        ssl.augment_for_pretraining(np.zeros((8, 8)))


# ------------------------------------------------------------------ stratified subsets


def test_subsets_are_stratified_nested_and_the_same_for_every_method():
    labels = np.array([0] * 100 + [1] * 300)
    subsets = ssl.nested_label_subsets(labels, (0.01, 0.05, 0.1, 1.0), seed=4)
    sizes = {f: np.bincount(labels[ix], minlength=2).tolist() for f, ix in subsets.items()}
    assert sizes == {0.01: [1, 3], 0.05: [5, 15], 0.1: [10, 30], 1.0: [100, 300]}
    chain = [set(subsets[f]) for f in (0.01, 0.05, 0.1, 1.0)]
    assert all(small <= large for small, large in zip(chain, chain[1:], strict=False))
    again = ssl.nested_label_subsets(labels, (0.1, 0.01), seed=4)  # order does not matter
    np.testing.assert_array_equal(again[0.01], subsets[0.01])
    np.testing.assert_array_equal(again[0.1], subsets[0.1])
    other = ssl.nested_label_subsets(labels, (0.1,), seed=5)
    assert set(other[0.1]) != set(subsets[0.1])


def test_subsets_keep_one_of_each_class_and_refuse_bad_input():
    labels = np.array([0] * 10 + [1] * 30)
    tiny = ssl.nested_label_subsets(labels, (0.01,))[0.01]
    assert sorted(labels[tiny].tolist()) == [0, 1]
    with pytest.raises(ssl.SelfSupervisedError, match="fractions"):
        ssl.nested_label_subsets(labels, (0.0,))
    with pytest.raises(ssl.SelfSupervisedError, match="both classes"):
        ssl.nested_label_subsets(np.ones(10), (0.5,))


# ------------------------------------------------------------------ prototypes and probes


def _separable(n_per_class: int, rng):
    normal = rng.normal(loc=(-3.0, 0.0), scale=0.5, size=(n_per_class, 2))
    pneumonia = rng.normal(loc=(3.0, 0.0), scale=0.5, size=(n_per_class, 2))
    # Shift both classes so that the directions (what the unit scaling keeps) differ too.
    features = np.vstack([normal, pneumonia]) + np.array([0.0, 5.0])
    return features, np.array([0] * n_per_class + [1] * n_per_class)


def test_prototypes_separate_separable_toy_data():
    rng = np.random.default_rng(0)
    train_x, train_y = _separable(20, rng)
    query_x, query_y = _separable(50, rng)
    scores = ssl.prototype_scores(train_x[[0, 1, 20, 21]], train_y[[0, 1, 20, 21]], query_x)
    assert scores[query_y == 1].min() > scores[query_y == 0].max()
    result = ssl.few_shot_episodes(train_x, train_y, query_x, query_y, shots=1, episodes=15)
    assert result.scores.shape == (15, 100) and result.support.shape == (15, 2)
    np.testing.assert_allclose(result.aucs, 1.0)
    mean, low, high = result.mean_interval(n_boot=50)
    assert mean == pytest.approx(1.0) and low <= mean <= high


def test_episodes_depend_only_on_labels_shots_and_seed():
    labels = np.array([0] * 30 + [1] * 30)
    first = ssl.episode_supports(labels, shots=5, episodes=4, seed=2)
    np.testing.assert_array_equal(first, ssl.episode_supports(labels, 5, 4, seed=2))
    assert (labels[first[:, :5]] == 0).all() and (labels[first[:, 5:]] == 1).all()
    with pytest.raises(ssl.SelfSupervisedError, match="at least 40"):
        ssl.episode_supports(labels, shots=40, episodes=1)
    with pytest.raises(ssl.SelfSupervisedError, match="differ in length"):
        ssl.few_shot_episodes(np.zeros((5, 2)), labels, np.zeros((3, 2)), np.zeros(3), 1)


def test_linear_probe_chooses_its_strength_on_validation_and_refuses_the_test_split():
    rng = np.random.default_rng(3)
    train_x, train_y = _separable(30, rng)
    val_x, val_y = _separable(30, rng)
    probe = ssl.fit_linear_probe(train_x, train_y, val_x, val_y, strengths=(0.01, 1.0))
    assert set(probe.validation_auc) == {0.01, 1.0} and probe.C in (0.01, 1.0)
    assert evidence.CHOICES[-1].split == "validation"
    assert probe.scores(val_x)[val_y == 1].min() > probe.scores(val_x)[val_y == 0].max()
    test_y = val_y.copy()
    evidence.register_test(test_y)
    with pytest.raises(evidence.EvidenceError):
        ssl.fit_linear_probe(train_x, train_y, val_x, test_y)
    with pytest.raises(ssl.SelfSupervisedError, match="both classes"):
        ssl.fit_linear_probe(train_x, np.ones(60), val_x, val_y)
    with pytest.raises(ssl.SelfSupervisedError, match="one label per row"):
        ssl.fit_linear_probe(train_x, train_y[:10], val_x, val_y)


def test_raw_pixels_are_flattened_and_shrunk_when_asked():
    films = np.full((3, 16, 16), 255, dtype=np.uint8)
    assert ssl.raw_pixel_features(films).shape == (3, 256)
    small = ssl.raw_pixel_features(films, side=8)
    assert small.shape == (3, 64) and np.allclose(small, 1.0)


def test_nearest_neighbours_by_cosine_and_a_bad_k():
    bank = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert ssl.nearest_neighbours(np.array([[2.0, 0.1]]), bank, k=2).tolist() == [[0, 2]]
    with pytest.raises(ssl.SelfSupervisedError, match="k must be"):
        ssl.nearest_neighbours(bank, bank, k=4)


# ------------------------------------------------------------------ encoder and training


def test_encoder_weights_start_a_baseline_cnn_by_layer_name():
    encoder = ssl.build_encoder((16, 16, 1), (4, 8), seed=1)
    cnn = models.build_baseline_cnn((16, 16, 1), filters=(4, 8))
    copied = ssl.init_from_encoder(cnn, encoder)
    assert copied == ["block1_conv1", "block1_bn1", "block2_conv1", "block2_bn1"]
    for name in copied:
        for mine, theirs in zip(
            cnn.get_layer(name).get_weights(), encoder.get_layer(name).get_weights(), strict=True
        ):
            np.testing.assert_array_equal(mine, theirs)
    with pytest.raises(ssl.SelfSupervisedError, match="same filters"):
        ssl.init_from_encoder(models.build_baseline_cnn((16, 16, 1), filters=(8, 8)), encoder)
    with pytest.raises(ssl.SelfSupervisedError, match="at least"):
        ssl.build_encoder((4, 4, 1), (4, 8, 16))


def test_pretraining_reads_images_only_and_refuses_the_test_split(monkeypatch):
    monkeypatch.setenv("PNEUMO_REHEARSAL", "1")  # one epoch
    dataset = _dataset(32)
    row = dataclasses.replace(QUICK_PRETRAIN, batch_size=8, filters=(4, 8))
    result = ssl.pretrain_simclr(dataset.train.images, row, seed=0)
    assert result.images == 32 and result.steps == 4 and len(result.losses) == 1
    assert np.isfinite(result.losses[0])
    features = ssl.embed(result.encoder, dataset.val.images)
    assert features.shape == (32, 8)
    test_images = dataset.test.images.copy()
    evidence.register_test(test_images)
    with pytest.raises(ssl.SelfSupervisedError, match="test split"):
        ssl.pretrain_simclr(test_images, row)
    with pytest.raises(ssl.SelfSupervisedError, match="at least 2"):
        ssl.pretrain_simclr(dataset.train.images, dataclasses.replace(row, batch_size=1))


def test_fine_tuning_and_scratch_make_equal_updates_on_any_subset(monkeypatch):
    monkeypatch.setenv("PNEUMO_REHEARSAL", "1")
    dataset = _dataset(64)
    row = dataclasses.replace(QUICK_FEW, batch_size=8, filters=(4, 8))
    trainer = ssl.FewLabelTrainer(dataset, row)
    encoder = ssl.build_encoder((16, 16, 1), (4, 8), seed=1)
    subsets = ssl.nested_label_subsets(dataset.train.labels, (0.1, 1.0))
    runs = [
        trainer.train(subsets[fraction], encoder=start, seed=0)
        for fraction in (0.1, 1.0)
        for start in (encoder, None)
    ]
    assert {run.updates for run in runs} == {4}  # half of 64 rows in batches of 8, one epoch
    assert all(run.test_scores.shape == (32,) and run.val_scores.shape == (32,) for run in runs)
    with pytest.raises(ssl.SelfSupervisedError, match="indices of the training split"):
        trainer.train(np.array([64]))
