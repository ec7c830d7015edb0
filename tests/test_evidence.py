"""Tests of pneumo_helpers.evidence: no choice is made on the test split."""

from __future__ import annotations

import numpy as np
import pytest

from pneumo_helpers import data, evaluation, evidence, fairness


@pytest.fixture
def loaded(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in {"train": 12, "val": 10, "test": 10}.items():
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2).reshape(-1, 1)
    np.savez(tmp_path / "pneumoniamnist.npz", **arrays)
    return data.load_pneumoniamnist(size=28, data_dir=tmp_path, download=False)


def test_a_threshold_chosen_on_the_test_labels_is_refused(loaded):
    scores = np.linspace(0.1, 0.9, 10)
    evaluation.choose_threshold(loaded.val.labels, scores)  # validation: fine
    with pytest.raises(evidence.EvidenceError, match="validation split"):
        evaluation.choose_threshold(loaded.test.labels, scores)
    with pytest.raises(evidence.EvidenceError):
        evaluation.choose_threshold(loaded.test.labels[:8], scores[:8])  # a view of it too


def test_group_thresholds_on_the_test_labels_are_refused(loaded):
    groups = np.array(["a", "b"] * 5)
    scores = np.linspace(0.1, 0.9, 10)
    with pytest.raises(evidence.EvidenceError):
        fairness.group_thresholds(loaded.test.labels, scores, groups)


def test_choose_records_the_choice_and_refuses_the_test_split():
    before = len(evidence.CHOICES)
    assert evidence.choose("model", {"a": 0.9, "b": 0.95}, split="validation") == "b"
    ties = {"a": (0.9, 0.97), "b": (0.9, 0.98), "c": (0.8, 0.99)}  # then broken by the second
    assert evidence.choose("model", ties, split="validation") == "b"
    assert evidence.CHOICES[-1].options == ties
    assert evidence.choose("gap", {"a": -0.1, "b": -0.3}, split="train", higher_is_better=False)
    assert evidence.CHOICES[before].split == "validation"
    with pytest.raises(evidence.EvidenceError, match="never on the test split"):
        evidence.choose("model", {"a": 0.9}, split="test")
    with pytest.raises(evidence.EvidenceError, match="finite"):
        evidence.choose("model", {"a": float("nan")}, split="validation")


def test_copies_of_other_arrays_are_not_test():
    assert not evidence.is_test(np.arange(5)) and not evidence.is_test([1, 2])


def test_a_temperature_fitted_on_the_test_labels_is_refused(loaded):
    with pytest.raises(evidence.EvidenceError):
        evaluation.fit_temperature(loaded.test.labels, np.linspace(0.1, 0.9, 10))
