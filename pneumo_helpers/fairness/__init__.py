"""Fairness: a simulated cohort, subgroup audits with intervals, mitigations, model cards.

PneumoniaMNIST carries no demographics and no acquisition details, so the bias-audit
chapter works on a *simulated* cohort. The package holds one idea per module:

* :mod:`.cohort`: simulated sex, age band and site, and the shifted site's acquisition;
* :mod:`.audit`: metrics by group with intervals from the course's one statistics engine
  (:mod:`pneumo_helpers.evaluation`), gaps between groups, Wilson intervals and
  calibration by group;
* :mod:`.mitigation`: resampling, acquisition-style augmentation and group thresholds;
* :mod:`.reporting`: the audit's plots and the model card;
* :mod:`.groups`: the checks they share on labels, scores and group labels.

The road of the bias-audit chapter::

    cohort = simulate_cohort(dataset, seed=0)            # images + metadata per split
    table = audit(y_test, scores, cohort.metadata["test"]["site"], threshold=t)
    gaps = gap_summary(y_test, scores, cohort.metadata["test"]["site"], threshold=t)
    plot_underdiagnosis({"site": table})
    print(model_card({"site": table}, model_name="baseline CNN", ...))

Every public name is importable from here: ``from pneumo_helpers import fairness``.
"""

from .audit import (
    HIGHER_IS_BETTER,
    METRIC_LABELS,
    OVERALL,
    RATE_METRICS,
    audit,
    calibration_by_group,
    gap_summary,
    newcombe_interval,
    wilson_intervals,
)
from .cohort import (
    AGE_BAND_PROBABILITIES,
    AGE_BANDS,
    DEFAULT_SHIFTED_PREVALENCE,
    DEFAULT_SHIFTED_SHARES,
    HOSPITAL_A_SHARE,
    MALE_PROBABILITY,
    SEXES,
    SHIFTED_SITE,
    SITES,
    AcquisitionShift,
    SimulatedCohort,
    acquisition_statistics,
    apply_acquisition_shift,
    simulate_cohort,
    simulate_metadata,
)
from .groups import FairnessInputError, UndefinedGroupMetricWarning
from .mitigation import acquisition_augment, group_thresholds, resample_indices
from .reporting import model_card, plot_calibration_by_group, plot_underdiagnosis

__all__ = [
    "AGE_BANDS",
    "AGE_BAND_PROBABILITIES",
    "DEFAULT_SHIFTED_PREVALENCE",
    "DEFAULT_SHIFTED_SHARES",
    "HIGHER_IS_BETTER",
    "HOSPITAL_A_SHARE",
    "MALE_PROBABILITY",
    "METRIC_LABELS",
    "OVERALL",
    "RATE_METRICS",
    "SEXES",
    "SHIFTED_SITE",
    "SITES",
    "AcquisitionShift",
    "FairnessInputError",
    "SimulatedCohort",
    "UndefinedGroupMetricWarning",
    "acquisition_augment",
    "acquisition_statistics",
    "apply_acquisition_shift",
    "audit",
    "calibration_by_group",
    "gap_summary",
    "group_thresholds",
    "model_card",
    "newcombe_interval",
    "plot_calibration_by_group",
    "plot_underdiagnosis",
    "resample_indices",
    "simulate_cohort",
    "simulate_metadata",
    "wilson_intervals",
]
