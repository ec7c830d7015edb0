"""A reading day, simulated: studies arrive at random, one radiologist reads them in an order.

Studies arrive as a Poisson process (exponential gaps at ``arrivals_per_hour``); one reader
takes each in turn (non-pre-emptive), with exponential reading times of mean
``minutes_per_study``. The worklist's order is the policy (:data:`POLICIES`):

* ``"fifo"``: first come, first read;
* ``"prioritised"``: the waiting study with the highest AI score first (ties: first come);
* ``"rule_out"``: studies scored below the rule-out threshold are taken off the reader's
  list (reported as normal by the AI at once); the rest are read first come, first read.

:func:`simulate_worklist` returns every study's time to report; :func:`summarise` turns it
into the median and 90th percentile for pneumonia and normal cases, and the pneumonias
that a rule-out sent home unread; :func:`simulate_day` runs the three policies on the same
arrivals and reading times and returns one summary row each, and :func:`simulate_days` does
so for several days, each drawn from its own independent random stream. Everything here is
simulated, with the parameters given.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from .errors import ServiceError

POLICIES = ("fifo", "prioritised", "rule_out")


@dataclass(frozen=True)
class Worklist:
    """One simulated day.

    Attributes:
        policy: the worklist's order.
        arrival: minutes after opening at which each study arrived.
        report: minutes after opening at which each was reported (the AI's rule-out: at once).
        ruled_out: True for studies the AI took off the reader's list.
    """

    policy: str
    arrival: np.ndarray
    report: np.ndarray
    ruled_out: np.ndarray

    @property
    def time_to_report(self) -> np.ndarray:
        """Minutes from arrival to report, per study."""
        return self.report - self.arrival


def arrivals(
    n: int, arrivals_per_hour: float, seed: int | np.random.SeedSequence = 0
) -> np.ndarray:
    """Return the arrival minutes of ``n`` studies of a Poisson process (exponential gaps)."""
    if n < 1 or arrivals_per_hour <= 0:
        raise ServiceError("n must be at least 1 and arrivals_per_hour above 0.")
    gaps = np.random.default_rng(seed).exponential(60.0 / arrivals_per_hour, size=n)
    return np.cumsum(gaps)


def simulate_worklist(
    arrival: np.ndarray,
    scores: np.ndarray,
    policy: str,
    reading_minutes: np.ndarray,
    rule_out_threshold: float | None = None,
) -> Worklist:
    """Read a day's studies in the policy's order; return when each was reported.

    Args:
        arrival: increasing arrival minutes (:func:`arrivals`).
        scores: the AI's score per study.
        policy: one of :data:`POLICIES`.
        reading_minutes: how long the reader takes for each study (drawn once, shared by
            the policies, so that they differ only in their order).
        rule_out_threshold: for ``"rule_out"``, scores below it leave the reader's list.

    Raises:
        ServiceError: an unknown policy, arrays of different lengths, unsorted arrivals, or
            a rule-out without its threshold.
    """
    arrival, scores = np.asarray(arrival, float), np.asarray(scores, float)
    reading_minutes = np.asarray(reading_minutes, float)
    if policy not in POLICIES:
        raise ServiceError(f"unknown policy {policy!r}: choose from {POLICIES}.")
    if not len(arrival) == len(scores) == len(reading_minutes) or np.any(np.diff(arrival) < 0):
        raise ServiceError("arrival, scores and reading_minutes need one sorted entry a study.")
    if policy == "rule_out" and rule_out_threshold is None:
        raise ServiceError("the rule-out policy needs rule_out_threshold (chosen on validation).")
    ruled_out = scores < rule_out_threshold if policy == "rule_out" else np.zeros(len(scores), bool)
    report = np.where(ruled_out, arrival, np.nan)
    todo = np.flatnonzero(~ruled_out)
    waiting: list[tuple[float, int]] = []
    clock, next_index = 0.0, 0
    while next_index < len(todo) or waiting:
        if not waiting:  # idle: jump to the next arrival
            clock = max(clock, arrival[todo[next_index]])
        while next_index < len(todo) and arrival[todo[next_index]] <= clock:
            study = todo[next_index]
            key = -scores[study] if policy == "prioritised" else arrival[study]
            heapq.heappush(waiting, (key, study))
            next_index += 1
        _, study = heapq.heappop(waiting)
        clock += reading_minutes[study]
        report[study] = clock
    return Worklist(policy, arrival, report, ruled_out)


def summarise(worklist: Worklist, labels: np.ndarray) -> dict:
    """Return the day's times to report (minutes): median and p90 for pneumonia and normals.

    ``missed pneumonia`` counts the pneumonias that a rule-out reported as normal.
    """
    labels = np.asarray(labels).astype(bool)
    times = worklist.time_to_report
    read = ~worklist.ruled_out
    pneumonia, normal = times[labels & read], times[~labels]
    return {
        "pneumonia median": float(np.median(pneumonia)),
        "pneumonia p90": float(np.percentile(pneumonia, 90)),
        "normal median": float(np.median(normal)),
        "normal p90": float(np.percentile(normal, 90)),
        "ruled out": int(worklist.ruled_out.sum()),
        "missed pneumonia": int((labels & worklist.ruled_out).sum()),
    }


def simulate_day(
    scores: np.ndarray,
    labels: np.ndarray,
    *,
    arrivals_per_hour: float,
    minutes_per_study: float,
    rule_out_threshold: float,
    seed: int = 0,
) -> list[dict]:
    """Run every policy of :data:`POLICIES` on one simulated day; one summary row a policy.

    The studies are ``scores`` and ``labels`` (e.g. the test split's) in an order shuffled by
    ``seed``; their arrival times (Poisson, :func:`arrivals`) and reading times (exponential,
    mean ``minutes_per_study``) are drawn once and shared by the policies. The seed is split
    into independent streams (:class:`numpy.random.SeedSequence`), so consecutive seeds give
    independent days.

    Raises:
        ServiceError: scores and labels of different lengths, or a reading time not above 0.
    """
    scores, labels = np.asarray(scores, float), np.asarray(labels).astype(int)
    if len(scores) != len(labels) or minutes_per_study <= 0:
        raise ServiceError("scores and labels need one entry a study; minutes_per_study > 0.")
    # Two independent child streams of the day's seed: one for the order and the reading
    # times, one for the arrivals. No two seeds' days share random numbers.
    day_stream, arrival_stream = np.random.SeedSequence(int(seed)).spawn(2)
    rng = np.random.default_rng(day_stream)
    order = rng.permutation(len(scores))
    reading = rng.exponential(minutes_per_study, size=len(scores))
    arrival = arrivals(len(scores), arrivals_per_hour, seed=arrival_stream)
    rows = []
    for policy in POLICIES:
        day = simulate_worklist(
            arrival, scores[order], policy, reading, rule_out_threshold=rule_out_threshold
        )
        rows.append({"policy": policy, **summarise(day, labels[order])})
    return rows


def simulate_days(
    scores: np.ndarray,
    labels: np.ndarray,
    *,
    seeds: range | list[int] | tuple[int, ...],
    arrivals_per_hour: float,
    minutes_per_study: float,
    rule_out_threshold: float,
) -> list[dict]:
    """Run :func:`simulate_day` once per seed; its rows, each with its ``"seed"``.

    One day's queue is noisy (a few long readings build a backlog), so a comparison of the
    policies rests on many days, each policy on the same days.

    Raises:
        ServiceError: no seed, or any error of :func:`simulate_day`.
    """
    seeds = [int(seed) for seed in seeds]
    if not seeds:
        raise ServiceError("seeds is empty: give at least one seed, one simulated day each.")
    return [
        {"seed": seed, **row}
        for seed in seeds
        for row in simulate_day(
            scores,
            labels,
            arrivals_per_hour=arrivals_per_hour,
            minutes_per_study=minutes_per_study,
            rule_out_threshold=rule_out_threshold,
            seed=seed,
        )
    ]
