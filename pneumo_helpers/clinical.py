"""Simulated clinical records for PneumoniaMNIST's X-rays (chapter 9).

PneumoniaMNIST carries no clinical data, and paired public data (MIMIC-CXR with MIMIC-IV)
is adult and needs credentialed access. This module therefore **simulates** a record for
every X-ray of the splits: what a paediatrician would know about the child at the time
the film is read. It is a teaching device, not a model of any real cohort.

How a record is drawn (:func:`simulate_records`):

1. Each child has a latent illness *severity* in [0, 1], drawn given the label: children
   without radiographic pneumonia are children with another acute illness (the cohort's
   normal films come from children seen in routine care, so they are rarely
   symptom-free), usually mild; children with pneumonia are sicker on average.
2. Every variable is drawn given the label, the severity and the child's age, with
   effects chosen so that each sign discriminates only modestly, as the systematic
   reviews of clinical signs in childhood pneumonia report (no single sign rules
   pneumonia in or out) :cite:`shah2017childpneumonia` :cite:`rambaudalthaus2015clinical`.
3. Some values are missing: blood tests are drawn for some children only, more often in
   the emergency department and in children with fever or fast breathing; SpO₂ is not
   always measured in the outpatient clinic; auscultation and the symptom history are
   sometimes not documented. Missingness depends only on variables that are always
   recorded (setting, temperature, respiratory rate): *missing at random* given them.

The record is conditionally independent of the image given the label and the severity:
the generator never looks at the pixels. Real sicker children also have more visible
opacities, so real records overlap more with what the image shows; fusion gains found
on these records are an upper bound of what real records would add.

Where a parameter comes from is said beside it in :class:`RecordParameters`. Where the
literature gives a range rather than a number (the size of an effect), the value is a
choice within it, and it says so. The effects were scaled once so that a gradient-boosting
model on the record alone reaches a validation AUC near 0.78 (chosen on validation; the
test split played no part), within the 0.70-0.85 that real clinical-sign models reach.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: The record's columns in order, with their unit and when they are known relative to the
#: X-ray being read: the timing audit of chapter 9 reads this table.
VARIABLES: dict[str, dict[str, str]] = {
    "age_months": {"unit": "months", "recorded": "registration, before the X-ray"},
    "sex": {"unit": "female / male", "recorded": "registration, before the X-ray"},
    "setting": {"unit": "outpatient / emergency", "recorded": "registration, before the X-ray"},
    "temperature_c": {"unit": "°C", "recorded": "triage, before the X-ray"},
    "respiratory_rate": {"unit": "breaths/min", "recorded": "triage, before the X-ray"},
    "fast_breathing": {"unit": "WHO threshold for age", "recorded": "triage, before the X-ray"},
    "spo2": {"unit": "%", "recorded": "triage, before the X-ray"},
    "crp_mg_l": {"unit": "mg/L", "recorded": "blood test, with the X-ray"},
    "wbc_10e9_l": {"unit": "×10⁹/L", "recorded": "blood test, with the X-ray"},
    "symptom_days": {"unit": "days", "recorded": "history, before the X-ray"},
    "crackles": {"unit": "1 heard / 0 not heard", "recorded": "examination, before the X-ray"},
}

#: The leakage trap: recorded *after* the diagnosis that the label stands for.
LEAKAGE_VARIABLE = "antibiotics_started"
LEAKAGE_TIMING = {"unit": "1 yes / 0 no", "recorded": "treatment, AFTER the diagnosis"}

#: Columns a model reads (numeric; sex and setting coded 0/1). ``fast_breathing`` is left
#: out: it is a function of age and respiratory rate, which the model already has.
FEATURES = (
    "age_months",
    "male",
    "emergency",
    "temperature_c",
    "respiratory_rate",
    "spo2",
    "crp_mg_l",
    "wbc_10e9_l",
    "symptom_days",
    "crackles",
)

#: Physiologically possible ranges (inclusive) of the numeric columns; outside is an error.
PLAUSIBLE: dict[str, tuple[float, float]] = {
    "age_months": (0, 216),
    "temperature_c": (33.0, 43.0),
    "respiratory_rate": (5, 120),
    "spo2": (50, 100),
    "crp_mg_l": (0, 500),
    "wbc_10e9_l": (0.1, 100),
    "symptom_days": (0, 60),
}

#: The WHO IMCI fast-breathing thresholds (breaths/min) by age band in months
#: :cite:`who2014imci`: ≥60 under 2 months, ≥50 at 2-11 months, ≥40 at 12-59 months.
FAST_BREATHING = ((0, 2, 60), (2, 12, 50), (12, 60, 40))


class ClinicalDataError(ValueError):
    """A clinical record table is not what the course's models expect (the column is named)."""


@dataclass(frozen=True)
class RecordParameters:
    """The generator's parameters, each with where it comes from.

    Effects are on the scale of the variable: ``*_pneumonia`` is added for a child with
    pneumonia, ``*_severity`` is multiplied by the latent severity (0-1).
    """

    # Age: the cohort is children aged one to five :cite:`kermany2018`; months 12-59. The
    # cohort's age distribution is not published: uniform, with pneumonia children a little
    # younger (incidence falls with age, :cite:`who2014revised`); a choice.
    age_min_months: int = 12
    age_max_months: int = 59
    age_beta_pneumonia: tuple[float, float] = (1.0, 1.15)
    age_beta_normal: tuple[float, float] = (1.0, 1.0)
    # Sex: no sex effect is simulated (a choice): P(male) is the same in both classes.
    male_probability: float = 0.53
    # Latent severity, Beta-distributed (a choice): mean 0.20 without, 0.40 with pneumonia.
    severity_beta_normal: tuple[float, float] = (1.2, 4.8)
    severity_beta_pneumonia: tuple[float, float] = (2.2, 3.3)
    # Setting: sicker children come to the emergency department (a choice).
    emergency_logit: float = -0.8
    emergency_severity: float = 2.5
    # Temperature (°C): fever is common in both groups and discriminates poorly
    # :cite:`shah2017childpneumonia`; mean about 37.6 °C without and 37.9 °C with pneumonia.
    temperature_base: float = 37.4
    temperature_pneumonia: float = 0.2
    temperature_severity: float = 0.8
    temperature_sd: float = 0.8
    # Respiratory rate (/min): the healthy median falls from about 35/min at one year to
    # about 25/min at five :cite:`fleming2011ranges`; fever adds about 2.5/min per °C
    # (a choice within reported values); pneumonia and severity raise it, so that fast
    # breathing by the WHO rule :cite:`who2014imci` has a positive likelihood ratio near 2,
    # within the range reviewed by :cite:`rambaudalthaus2015clinical`.
    rate_at_12_months: float = 35.0
    rate_at_60_months: float = 25.0
    rate_per_degree: float = 2.5
    rate_pneumonia: float = 2.0
    rate_severity: float = 6.5
    rate_log_sd: float = 0.16
    # SpO2 (%): healthy children 97-99 %; hypoxaemia (SpO2 <= 96 %) is the most useful single
    # sign, LR+ about 2.8 :cite:`shah2017childpneumonia`; below 90 % (the WHO threshold for
    # oxygen, :cite:`who2016oxygen`) in the severest.
    spo2_base: float = 98.0
    spo2_pneumonia: float = 0.5
    spo2_severity: float = 4.0
    spo2_sd: float = 1.3
    # CRP (mg/L), log-normal: raised in pneumonia, higher in bacterial disease, with wide
    # overlap between groups :cite:`flood2008crp` :cite:`virkki2002bacterialviral`; median
    # about 10 mg/L without and about 25 mg/L with pneumonia (a choice within those).
    crp_median: float = 7.0
    crp_log_pneumonia: float = 0.45
    crp_log_severity: float = 1.3
    crp_log_sd: float = 1.0
    # White-cell count (×10⁹/L): reference range about 5-15 at ages 1-5; modestly raised
    # in pneumonia, overlapping widely :cite:`virkki2002bacterialviral` (effects a choice).
    wbc_base: float = 9.0
    wbc_pneumonia: float = 1.2
    wbc_severity: float = 4.0
    wbc_sd: float = 3.2
    # Days of symptoms: a few days in both; a little longer in pneumonia (a choice).
    days_mean_normal: float = 2.5
    days_mean_pneumonia: float = 3.3
    days_dispersion: float = 4.0
    # Crackles on auscultation: LR+ below 2 in the reviews
    # :cite:`shah2017childpneumonia` :cite:`rambaudalthaus2015clinical`.
    crackles_logit: float = -1.6
    crackles_pneumonia: float = 0.6
    crackles_severity: float = 1.2
    # Missingness (MAR given setting, temperature and respiratory rate; choices):
    # blood drawn (CRP and white cells together), CRP not run on some samples,
    # SpO2 not measured in some outpatient visits, auscultation and history undocumented.
    blood_logit: float = -1.3
    blood_emergency: float = 1.9
    blood_fever: float = 0.8
    blood_fast_breathing: float = 0.6
    crp_not_run: float = 0.08
    spo2_missing_outpatient: float = 0.12
    crackles_missing: float = 0.08
    days_missing: float = 0.05
    # Leakage: antibiotics are started for most children diagnosed with pneumonia and for
    # some others (otitis, tonsillitis); choices.
    antibiotics_pneumonia: float = 0.88
    antibiotics_normal: float = 0.12


DEFAULT_PARAMETERS = RecordParameters()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def fast_breathing_threshold(age_months) -> np.ndarray:
    """Return the WHO IMCI fast-breathing threshold (breaths/min) for each age in months.

    ≥60/min under 2 months, ≥50/min at 2-11 months, ≥40/min at 12-59 months
    :cite:`who2014imci`; NaN from 60 months on (outside IMCI's age range).
    """
    age = np.asarray(age_months, dtype=float)
    threshold = np.full(age.shape, np.nan)
    for low, high, rate in FAST_BREATHING:
        threshold[(age >= low) & (age < high)] = rate
    return threshold


def fast_breathing(age_months, respiratory_rate) -> np.ndarray:
    """Return True where the respiratory rate reaches the WHO threshold for the child's age."""
    rate = np.asarray(respiratory_rate, dtype=float)
    return rate >= fast_breathing_threshold(age_months)


def simulate_records(
    labels,
    *,
    seed: int = 0,
    parameters: RecordParameters = DEFAULT_PARAMETERS,
    include_leakage: bool = False,
) -> pd.DataFrame:
    """Simulate one clinical record per label (0 normal, 1 pneumonia), in the same order.

    Args:
        labels: ``(N,)`` 0/1 labels of the X-rays.
        seed: the generator's seed; the same seed and labels give the same records.
        parameters: the generator's parameters (:class:`RecordParameters`).
        include_leakage: add :data:`LEAKAGE_VARIABLE`, recorded after the diagnosis.

    Returns:
        A DataFrame with the columns of :data:`VARIABLES` (NaN where not recorded).
    """
    y = np.asarray(labels).reshape(-1)
    if y.size and not np.isin(y, (0, 1)).all():
        raise ClinicalDataError(f"labels must be 0/1, got values {sorted(set(y.tolist()))[:5]}.")
    y = y.astype(int)
    p, n = parameters, y.size
    rng = np.random.default_rng(seed)
    sick = y == 1

    def by_label(normal, pneumonia):
        return np.where(sick, pneumonia, normal)

    severity = np.where(
        sick, rng.beta(*p.severity_beta_pneumonia, n), rng.beta(*p.severity_beta_normal, n)
    )
    span = p.age_max_months - p.age_min_months + 1
    age_fraction = np.where(
        sick, rng.beta(*p.age_beta_pneumonia, n), rng.beta(*p.age_beta_normal, n)
    )
    age = p.age_min_months + np.minimum(np.floor(age_fraction * span), span - 1)
    male = rng.random(n) < p.male_probability
    emergency = rng.random(n) < _sigmoid(p.emergency_logit + p.emergency_severity * severity)

    temperature = (
        p.temperature_base
        + p.temperature_pneumonia * y
        + p.temperature_severity * severity
        + rng.normal(0, p.temperature_sd, n)
    )
    temperature = np.round(np.clip(temperature, 35.5, 41.5), 1)
    slope = (p.rate_at_60_months - p.rate_at_12_months) / 48.0
    healthy_rate = p.rate_at_12_months + slope * (age - 12)
    rate_median = (
        healthy_rate
        + p.rate_per_degree * np.maximum(temperature - 37.0, 0)
        + p.rate_pneumonia * y
        + p.rate_severity * severity
    )
    rate = np.round(np.clip(rate_median * np.exp(rng.normal(0, p.rate_log_sd, n)), 12, 90))
    spo2 = p.spo2_base - p.spo2_pneumonia * y - p.spo2_severity * severity
    spo2 = np.round(np.clip(spo2 + rng.normal(0, p.spo2_sd, n), 75, 100))
    log_crp = (
        np.log(p.crp_median)
        + p.crp_log_pneumonia * y
        + p.crp_log_severity * severity
        + rng.normal(0, p.crp_log_sd, n)
    )
    crp = np.round(np.clip(np.exp(log_crp), 0.5, 400), 1)
    wbc = p.wbc_base + p.wbc_pneumonia * y + p.wbc_severity * severity
    wbc = np.round(np.clip(wbc + rng.normal(0, p.wbc_sd, n), 2.0, 45.0), 1)
    days_mean = by_label(p.days_mean_normal, p.days_mean_pneumonia)
    days = rng.negative_binomial(
        p.days_dispersion, p.days_dispersion / (p.days_dispersion + days_mean)
    )
    days = np.clip(days + 1, 1, 21).astype(float)  # a child is seen on day 1 at the earliest
    crackles_p = _sigmoid(
        p.crackles_logit + p.crackles_pneumonia * y + p.crackles_severity * severity
    )
    crackles = (rng.random(n) < crackles_p).astype(float)

    # Missingness, MAR given the always-recorded setting, temperature and respiratory rate.
    fast = fast_breathing(age, rate)
    blood_p = _sigmoid(
        p.blood_logit
        + p.blood_emergency * emergency
        + p.blood_fever * (temperature >= 38.5)
        + p.blood_fast_breathing * fast
    )
    drawn = rng.random(n) < blood_p
    wbc[~drawn] = np.nan
    crp[~drawn | (rng.random(n) < p.crp_not_run)] = np.nan
    spo2[~emergency & (rng.random(n) < p.spo2_missing_outpatient)] = np.nan
    crackles[rng.random(n) < p.crackles_missing] = np.nan
    days[rng.random(n) < p.days_missing] = np.nan

    record = pd.DataFrame(
        {
            "age_months": age.astype(int),
            "sex": pd.Categorical(np.where(male, "male", "female"), categories=["female", "male"]),
            "setting": pd.Categorical(
                np.where(emergency, "emergency", "outpatient"),
                categories=["outpatient", "emergency"],
            ),
            "temperature_c": temperature,
            "respiratory_rate": rate,
            "fast_breathing": fast,
            "spo2": spo2,
            "crp_mg_l": crp,
            "wbc_10e9_l": wbc,
            "symptom_days": days,
            "crackles": crackles,
        }
    )
    if include_leakage:
        given = rng.random(n) < by_label(p.antibiotics_normal, p.antibiotics_pneumonia)
        record[LEAKAGE_VARIABLE] = given.astype(int)
    return record


def simulate_clinical_records(
    dataset,
    *,
    seed: int = 0,
    parameters: RecordParameters = DEFAULT_PARAMETERS,
    include_leakage: bool = False,
) -> dict[str, pd.DataFrame]:
    """Simulate a record for every X-ray of each split of ``dataset`` (train, val, test).

    Each split gets its own stream of random numbers derived from ``seed``, so a split's
    records do not change when another split changes size.

    Args:
        dataset: a :class:`pneumo_helpers.data.PneumoniaMNIST` (or anything with
            ``.splits()`` returning ``{name: (images, labels)}``).
        seed, parameters, include_leakage: as for :func:`simulate_records`.

    Returns:
        ``{split name: DataFrame}``, each row the record of the X-ray with the same index.
    """
    splits = dataset.splits() if hasattr(dataset, "splits") else dict(dataset)
    records = {}
    for index, (name, split) in enumerate(splits.items()):
        labels = split.labels if hasattr(split, "labels") else split[1]
        stream = int(np.random.SeedSequence([seed, index]).generate_state(1)[0])
        records[name] = simulate_records(
            labels, seed=stream, parameters=parameters, include_leakage=include_leakage
        )
    return records


def feature_matrix(record: pd.DataFrame, *, leakage: bool = False) -> pd.DataFrame:
    """Return the numeric columns a model reads (:data:`FEATURES`), NaN where missing.

    Sex becomes ``male`` (1 boy, 0 girl) and the setting ``emergency`` (1 emergency
    department); with ``leakage=True`` the leakage variable is appended.
    """
    validate_record(record, len(record), leakage=leakage)
    features = record.drop(columns=["sex", "setting", "fast_breathing"]).copy()
    features.insert(1, "male", (record["sex"] == "male").astype(float))
    features.insert(2, "emergency", (record["setting"] == "emergency").astype(float))
    columns = [*FEATURES, LEAKAGE_VARIABLE] if leakage else list(FEATURES)
    return features[columns].astype(float)


def timing_audit(columns) -> pd.DataFrame:
    """Return, for each column, when it is recorded relative to the X-ray's diagnosis.

    A column recorded after the diagnosis (``after_diagnosis``) cannot be a model input:
    it would not exist at the time the model is used, and it encodes the answer.
    """
    known = {**VARIABLES, "male": VARIABLES["sex"], "emergency": VARIABLES["setting"]}
    known[LEAKAGE_VARIABLE] = LEAKAGE_TIMING
    rows = {}
    for column in columns:
        if column not in known:
            raise ClinicalDataError(
                f"column {column!r} has no recorded timing: add it to clinical.VARIABLES "
                "with when it is recorded before auditing a model that reads it."
            )
        recorded = known[column]["recorded"]
        rows[column] = {"recorded": recorded, "after_diagnosis": "AFTER" in recorded}
    return pd.DataFrame.from_dict(rows, orient="index")


_NUMERIC = ("age_months", "temperature_c", "respiratory_rate", "spo2", "crp_mg_l",
            "wbc_10e9_l", "symptom_days", "crackles")  # fmt: skip
_CATEGORIES: Mapping[str, set[str]] = {
    "sex": {"female", "male"},
    "setting": {"outpatient", "emergency"},
}


def validate_record(record: pd.DataFrame, n_rows: int, *, leakage: bool = False) -> None:
    """Check a clinical record table before a model reads it; raise naming the column.

    Args:
        record: one row per X-ray, the columns of :data:`VARIABLES`.
        n_rows: the number of X-rays the table must describe (e.g. the split's size).
        leakage: whether the table must also hold :data:`LEAKAGE_VARIABLE`.

    Raises:
        ClinicalDataError: the row count differs, a column is missing, a value is not a
            number where one is expected, a temperature looks like °F, a value is
            physiologically impossible, or a category is unknown.
    """
    if not isinstance(record, pd.DataFrame):
        raise ClinicalDataError(
            f"the record must be a pandas DataFrame, got {type(record).__name__}."
        )
    if len(record) != n_rows:
        raise ClinicalDataError(
            f"the record has {len(record)} rows but there are {n_rows} X-rays: one row per "
            "X-ray, in the split's order (simulate_clinical_records makes them)."
        )
    required = [*VARIABLES, *([LEAKAGE_VARIABLE] if leakage else [])]
    missing = [column for column in required if column not in record.columns]
    if missing:
        raise ClinicalDataError(
            f"column {missing[0]!r} is missing from the record (missing: {missing}); "
            f"the record needs {required}."
        )
    for column in (*_NUMERIC, *([LEAKAGE_VARIABLE] if leakage else [])):
        if not pd.api.types.is_numeric_dtype(record[column]):
            raise ClinicalDataError(
                f"column {column!r} holds {record[column].dtype} values: it must be numeric "
                "(NaN where not recorded)."
            )
    temperature = record["temperature_c"].dropna()
    if len(temperature) and temperature.median() > 90:
        raise ClinicalDataError(
            f"column 'temperature_c' looks like degrees Fahrenheit (median "
            f"{temperature.median():.1f}): convert with (F - 32) * 5 / 9."
        )
    for column, (low, high) in PLAUSIBLE.items():
        values = record[column].dropna()
        bad = values[(values < low) | (values > high)]
        if len(bad):
            raise ClinicalDataError(
                f"column {column!r} has {len(bad)} impossible values (e.g. {bad.iloc[0]!r} in "
                f"row {bad.index[0]!r}); possible values lie in [{low}, {high}] "
                f"{VARIABLES[column]['unit']}."
            )
    for column in ("crackles", *([LEAKAGE_VARIABLE] if leakage else [])):
        values = record[column].dropna()
        if not values.isin((0, 1)).all():
            raise ClinicalDataError(
                f"column {column!r} must hold 0 or 1 (NaN where not recorded), got "
                f"{sorted(set(values.tolist()) - {0, 1})[:3]}."
            )
    for column, allowed in _CATEGORIES.items():
        values = set(record[column].dropna().astype(str))
        if record[column].isna().any() or not values <= allowed:
            raise ClinicalDataError(
                f"column {column!r} must be one of {sorted(allowed)} in every row, got "
                f"{sorted(values - allowed)[:3] or 'missing values'}."
            )
