"""Human oversight: uncertainty, conformal sets, deferral, drift monitoring, an audit log.

Chapter 12's helpers, one idea per module:

* :mod:`.uncertainty`: a deep ensemble's mean score and its total and epistemic uncertainty
  (:func:`ensemble_uncertainty`), and whether an uncertainty ranks the model's errors
  (:func:`error_detection_auc`). Temperature scaling is the statistics engine's
  (:func:`pneumo_helpers.evaluation.fit_temperature`);
* :mod:`.conformal`: split conformal prediction sets, marginal or per class (Mondrian)
  (:func:`calibrate_conformal`, :func:`set_coverage`), checked against MAPIE
  (:func:`mapie_sets`);
* :mod:`.deferral`: risk-coverage curves, the deferral cutoff chosen on validation, a
  *simulated* radiologist whose errors follow the model's difficulty, and the three team
  designs (:func:`risk_coverage`, :class:`SimulatedReader`, :func:`team_decisions`);
* :mod:`.drift`: label-free two-sample tests of a stream against validation (:func:`ks_test`,
  :func:`mmd_test`, :func:`monitor_windows`);
* :mod:`.audit_log`: the append-only, hash-chained log of every decision
  (:class:`AuditLog`, :func:`verify_log`);
* :mod:`.errors`: :class:`OversightError` and :class:`AuditLogError`; :mod:`.checks`, the
  argument checks the modules share.

Every public name is importable from here: ``from pneumo_helpers import oversight``.
"""

from .audit_log import (
    FIELDS,
    GENESIS,
    AuditLog,
    Verification,
    chain_problems,
    entry_hash,
    input_hash,
    model_fingerprint,
    read_entries,
    verify_log,
)
from .conformal import (
    SET_CLASSES,
    ConformalClassifier,
    calibrate_conformal,
    class_probabilities,
    conformal_quantile,
    conformal_thresholds,
    mapie_sets,
    set_coverage,
)
from .deferral import (
    SimulatedReader,
    case_difficulty,
    deferral_cutoff,
    false_alarms,
    missed_pneumonia,
    risk_coverage,
    team_decisions,
)
from .drift import group_weights, ks_test, mmd_statistic, mmd_test, monitor_windows
from .errors import AuditLogError, OversightError
from .uncertainty import (
    EnsembleUncertainty,
    binary_entropy,
    ensemble_uncertainty,
    error_detection_auc,
)

__all__ = [
    "FIELDS",
    "GENESIS",
    "SET_CLASSES",
    "AuditLog",
    "AuditLogError",
    "ConformalClassifier",
    "EnsembleUncertainty",
    "OversightError",
    "SimulatedReader",
    "Verification",
    "binary_entropy",
    "calibrate_conformal",
    "case_difficulty",
    "chain_problems",
    "class_probabilities",
    "conformal_quantile",
    "conformal_thresholds",
    "deferral_cutoff",
    "ensemble_uncertainty",
    "entry_hash",
    "error_detection_auc",
    "false_alarms",
    "group_weights",
    "input_hash",
    "ks_test",
    "mapie_sets",
    "missed_pneumonia",
    "mmd_statistic",
    "mmd_test",
    "model_fingerprint",
    "monitor_windows",
    "read_entries",
    "risk_coverage",
    "set_coverage",
    "team_decisions",
    "verify_log",
]
