"""Fixtures shared by the unit tests."""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pneumo_helpers import data


def make_tiny_dataset(size: int = 16) -> data.PneumoniaMNIST:
    """Bright images are pneumonia, dark ones normal."""

    def split(n: int, seed: int) -> data.Split:
        rng = np.random.default_rng(seed)
        labels = np.array([0, 1] * (n // 2))
        images = rng.integers(0, 80, size=(n, size, size)).astype(np.uint8)
        images[labels == 1] += 120
        return data.Split(images, labels)

    return data.PneumoniaMNIST(split(32, 0), split(16, 1), split(16, 2), size, Path("tiny.npz"))


@pytest.fixture
def tiny_dataset() -> Callable[..., data.PneumoniaMNIST]:
    """Return the maker of a tiny dataset: call it, optionally with ``size=``, for a fresh one."""
    return make_tiny_dataset
