"""Selective prediction and deferral: which X-rays the model hands to a radiologist.

* :func:`risk_coverage` traces how the error rate of the cases the model keeps falls as it
  defers more of its most uncertain ones (Geifman and El-Yaniv 2017).
* :class:`SimulatedReader` is a *simulated* radiologist with a stated sensitivity and
  specificity whose errors are more likely on the cases the model finds hard.
* :func:`team_decisions` combines model and reader in the three designs of the chapter:
  the model alone, the model deferring its uncertain cases, and the model ruling out
  confident normals with the reader reading the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import evidence
from . import checks
from .errors import OversightError


def risk_coverage(y_true, scores, threshold: float, uncertainty) -> pd.DataFrame:
    """Return the risk-coverage curve: the error rate of the kept cases at each coverage.

    The cases are kept from the least to the most uncertain; at coverage ``c`` the model
    decides the ``c`` share it is surest of and defers the rest.

    Returns:
        Columns ``coverage`` (share kept), ``risk`` (share of kept decisions that are wrong),
        ``missed_pneumonia`` (kept pneumonia cases called normal, as a share of all
        pneumonia cases).
    """
    scores = checks.probabilities(scores)
    y = checks.labels(y_true, scores.size, "y_true")
    uncertainty = np.asarray(uncertainty, dtype=float).reshape(-1)
    if uncertainty.size != y.size:
        raise OversightError(f"uncertainty has {uncertainty.size} values for {y.size} cases.")
    order = np.argsort(uncertainty, kind="stable")  # surest first
    decision = (scores[order] >= threshold).astype(int)
    wrong = np.cumsum(decision != y[order])
    missed = np.cumsum((decision == 0) & (y[order] == 1))
    kept = np.arange(1, y.size + 1)
    return pd.DataFrame(
        {
            "coverage": kept / y.size,
            "risk": wrong / kept,
            "missed_pneumonia": missed / max(int(y.sum()), 1),
        }
    )


def deferral_cutoff(val_uncertainty, budget: float, y_val=None) -> float:
    """Return the uncertainty above which a case is deferred, so that ``budget`` of validation is.

    Chosen on validation (pass ``y_val`` so that the test split is refused); apply the same
    cutoff to new cases, whose deferred share then varies around the budget.
    """
    if y_val is not None:
        evidence.refuse_test("deferral_cutoff", y_val)
    budget = checks.share(budget, "budget")
    return float(np.quantile(np.asarray(val_uncertainty, dtype=float), 1.0 - budget))


@dataclass(frozen=True)
class SimulatedReader:
    """A *simulated* radiologist: stated sensitivity and specificity, errors tied to difficulty.

    For a child of class ``y`` with difficulty ``d`` (the model's own doubt about the true
    class, see :func:`case_difficulty`), the reader errs with probability
    ``sigmoid(a_y + coupling * z)``, where ``z`` is ``d`` standardised within the class and
    ``a_y`` is solved so that the mean error over the class equals ``1 - sensitivity``
    (pneumonia) or ``1 - specificity`` (normal). ``coupling = 0`` makes the reader's errors
    independent of the model's; larger values put them on the same hard cases.

    Attributes:
        sensitivity: share of pneumonia cases the reader calls pneumonia, on average.
        specificity: share of normal cases the reader calls normal, on average.
        coupling: how strongly the reader's errors follow the model's difficulty (log-odds
            per standard deviation of difficulty).
    """

    sensitivity: float
    specificity: float
    coupling: float = 1.0

    def __post_init__(self) -> None:
        for name in ("sensitivity", "specificity"):
            checks.share(getattr(self, name), name)
        if not np.isfinite(self.coupling) or self.coupling < 0:
            raise OversightError(f"coupling must be a number >= 0, got {self.coupling!r}.")

    def error_probabilities(self, y_true, difficulty) -> np.ndarray:
        """Return each case's probability that the reader gets it wrong."""
        y = checks.labels(y_true)
        d = np.asarray(difficulty, dtype=float).reshape(-1)
        if d.size != y.size or not np.all(np.isfinite(d)):
            raise OversightError(f"difficulty needs one finite value per case ({y.size}).")
        p = np.empty(y.size)
        for label, mean_error in ((1, 1 - self.sensitivity), (0, 1 - self.specificity)):
            members = y == label
            if members.any():
                p[members] = _error_curve(d[members], mean_error, self.coupling)
        return p

    def read(self, y_true, difficulty, seed: int = 0) -> np.ndarray:
        """Return the reader's 0/1 calls for every case (seeded)."""
        y = checks.labels(y_true)
        errs = np.random.default_rng(seed).random(y.size) < self.error_probabilities(y, difficulty)
        return np.where(errs, 1 - y, y)


def _error_curve(difficulty, mean_error: float, coupling: float) -> np.ndarray:
    """Error probabilities ``sigmoid(a + coupling * z)`` whose mean is ``mean_error``."""
    from scipy.optimize import brentq
    from scipy.special import expit

    spread = difficulty.std()
    z = (difficulty - difficulty.mean()) / spread if spread > 0 else np.zeros_like(difficulty)
    a = brentq(lambda a: expit(a + coupling * z).mean() - mean_error, -50.0, 50.0)
    return expit(a + coupling * z)


def case_difficulty(y_true, scores) -> np.ndarray:
    """Return how hard each case is for the model: the log-odds it gives the wrong class.

    Large when the model leans the wrong way, very negative when it is confidently right.
    It uses the labels, so it serves the *simulation* of a reader, never a decision.
    """
    scores = np.clip(checks.probabilities(scores), 1e-6, 1 - 1e-6)
    y = checks.labels(y_true, scores.size, "y_true")
    wrong_class = np.where(y == 1, 1 - scores, scores)
    return np.log(wrong_class) - np.log1p(-wrong_class)


def team_decisions(
    scores,
    reader_calls,
    *,
    threshold: float,
    uncertainty=None,
    defer_above: float | None = None,
    rule_out_below: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the team's final 0/1 decisions and which cases the reader read.

    Exactly one design: with neither ``defer_above`` nor ``rule_out_below``, the model
    alone decides every case; with ``defer_above``, cases whose ``uncertainty`` exceeds it
    go to the reader; with ``rule_out_below``, the model calls the cases scored below it
    normal and the reader reads every other case.
    """
    scores = checks.probabilities(scores)
    calls = checks.labels(reader_calls, scores.size, "reader_calls")
    if defer_above is not None and rule_out_below is not None:
        raise OversightError("give defer_above or rule_out_below, not both: one design a call.")
    model = (scores >= threshold).astype(int)
    if defer_above is not None:
        if uncertainty is None:
            raise OversightError("defer_above needs the uncertainty of every case.")
        read = np.asarray(uncertainty, dtype=float).reshape(-1) > defer_above
    elif rule_out_below is not None:
        read = scores >= rule_out_below
    else:
        read = np.zeros(scores.size, dtype=bool)
    return np.where(read, calls, model), read


def missed_pneumonia(y_true, decisions) -> float:
    """Return the number of children with pneumonia whom the decisions call normal."""
    return float(np.sum((np.asarray(y_true) == 1) & (np.asarray(decisions) < 0.5)))


def false_alarms(y_true, decisions) -> float:
    """Return the number of normal children whom the decisions call pneumonia."""
    return float(np.sum((np.asarray(y_true) == 0) & (np.asarray(decisions) >= 0.5)))
