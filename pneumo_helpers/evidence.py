"""Rules of evidence, enforced: no choice is made on the test split.

The test split is touched once, to report. Two guards keep a chapter to that rule:

* :func:`load_pneumoniamnist <pneumo_helpers.data.load_pneumoniamnist>` registers the test
  split's arrays, and every helper that *chooses* something (a threshold, thresholds by
  group, a temperature) calls :func:`refuse_test` on the labels it was given: passing
  the test labels, or a view of them, raises :class:`EvidenceError` before anything is
  chosen.
* A chapter that picks among options (a model, a mitigation) does it with
  :func:`choose`, which names the split the scores came from, refuses ``"test"`` and
  records the choice; ``tests/test_notebooks.py`` fails on any other ``idxmax``-style
  pick in a chapter unless its line says ``# report`` (a description of results, such
  as "the weakest hospital", not a choice).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


class EvidenceError(ValueError):
    """A choice was about to be made on the test split."""


@dataclass(frozen=True)
class Choice:
    """One recorded choice: what was chosen, among what, and on which split."""

    what: str
    chosen: str
    split: str
    options: dict[str, float | tuple[float, ...]]


_test_arrays: list[weakref.ref] = []
CHOICES: list[Choice] = []
ALLOWED_SPLITS = ("validation", "train")


def register_test(*arrays: np.ndarray) -> None:
    """Mark arrays (the test split's images and labels) as test data."""
    for array in arrays:
        if isinstance(array, np.ndarray):
            _test_arrays.append(weakref.ref(array))


def is_test(array) -> bool:
    """Return True when ``array`` is registered test data or a view of it."""
    if not isinstance(array, np.ndarray):
        return False
    alive = [ref() for ref in _test_arrays]
    _test_arrays[:] = [
        ref for ref, value in zip(_test_arrays, alive, strict=True) if value is not None
    ]
    return any(value is not None and np.shares_memory(array, value) for value in alive)


def refuse_test(what: str, *arrays) -> None:
    """Raise :class:`EvidenceError` if any of ``arrays`` is the test split.

    Args:
        what: the choice being made, for the message (e.g. ``"choose_threshold"``).
        arrays: the labels (or scores) the choice is about to use.
    """
    if any(is_test(array) for array in arrays):
        raise EvidenceError(
            f"{what} was given the test split. Choices (thresholds, models, epochs, "
            "temperatures, mitigations) are made on the validation split; the test split "
            "is touched once, to report. Pass the validation labels and scores instead."
        )


def choose(
    what: str,
    options: Mapping[str, float | tuple[float, ...]],
    *,
    split: str,
    higher_is_better: bool = True,
) -> str:
    """Pick the best of ``options`` (name -> score on ``split``) and record the choice.

    Args:
        what: what is being chosen, e.g. ``"mitigation"``.
        options: each option's score, computed on ``split``; a tuple of scores compares
            them in order, the later ones breaking ties (e.g. specificity, then AUC).
        split: ``"validation"`` or ``"train"``; ``"test"`` raises :class:`EvidenceError`.
        higher_is_better: whether the largest score wins.

    Returns:
        The name of the chosen option.
    """
    if split not in ALLOWED_SPLITS:
        raise EvidenceError(
            f"choose({what!r}) on split {split!r}: choices are made on "
            f"{' or '.join(ALLOWED_SPLITS)}, never on the test split."
        )
    scores = {
        str(name): tuple(float(v) for v in value) if isinstance(value, tuple) else float(value)
        for name, value in options.items()
    }
    finite = {name: value for name, value in scores.items() if np.isfinite(value).all()}
    if not finite:
        raise EvidenceError(f"choose({what!r}) has no option with a finite score: {scores}.")
    pick = max if higher_is_better else min
    chosen = pick(finite, key=finite.get)
    CHOICES.append(Choice(what, chosen, split, scores))
    return chosen
