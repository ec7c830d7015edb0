"""Tests of pneumo_helpers.clinical: the simulated records, their checks and their realism."""

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from pneumo_helpers import clinical, data

RNG = np.random.default_rng(7)
LABELS = (RNG.random(4000) < 0.6).astype(int)


@pytest.fixture(scope="module")
def record() -> pd.DataFrame:
    return clinical.simulate_records(LABELS, seed=3, include_leakage=True)


def test_same_seed_same_records_other_seed_other_records():
    a = clinical.simulate_records(LABELS[:300], seed=11)
    b = clinical.simulate_records(LABELS[:300], seed=11)
    c = clinical.simulate_records(LABELS[:300], seed=12)
    pd.testing.assert_frame_equal(a, b)
    assert not a["temperature_c"].equals(c["temperature_c"])


def test_columns_and_ranges(record):
    assert list(record.columns) == [*clinical.VARIABLES, clinical.LEAKAGE_VARIABLE]
    assert record["age_months"].between(12, 59).all()  # the cohort's one to five years
    assert set(record["sex"].astype(str)) == {"female", "male"}
    assert record["temperature_c"].between(35.5, 41.5).all()
    assert record["spo2"].dropna().between(75, 100).all()
    assert (record["crp_mg_l"].dropna() > 0).all() and (record["wbc_10e9_l"].dropna() > 0).all()
    assert set(record["crackles"].dropna()) == {0.0, 1.0}
    clinical.validate_record(record, len(LABELS), leakage=True)  # its own output is valid


def test_who_fast_breathing_thresholds():
    ages = np.array([1, 2, 11, 12, 59, 60])
    np.testing.assert_array_equal(clinical.fast_breathing_threshold(ages)[:5], [60, 50, 50, 40, 40])
    assert np.isnan(clinical.fast_breathing_threshold(ages)[5])  # outside IMCI's range
    assert clinical.fast_breathing([6, 6, 24, 24], [50, 49, 40, 39]).tolist() == [
        True,
        False,
        True,
        False,
    ]


def test_fast_breathing_column_follows_the_rule(record):
    expected = record["respiratory_rate"] >= np.where(record["age_months"] < 12, 50, 40)
    assert (record["fast_breathing"] == expected).all()


def test_signs_point_the_clinical_way_with_modest_likelihood_ratios(record):
    sick = LABELS == 1

    def lr_positive(finding):
        return finding[sick].mean() / finding[~sick].mean()

    hypoxaemia = (record["spo2"] <= 96).to_numpy()
    # Shah et al. 2017: SpO2 <= 96 % has LR+ about 2.8; fast breathing and crackles below 3.
    assert 1.5 < lr_positive(hypoxaemia) < 4
    assert 1.3 < lr_positive(record["fast_breathing"].to_numpy()) < 4
    assert 1.2 < lr_positive((record["crackles"] == 1).to_numpy()) < 3
    medians = record.groupby(LABELS).median(numeric_only=True)
    assert medians.loc[1, "crp_mg_l"] > medians.loc[0, "crp_mg_l"]
    assert medians.loc[1, "temperature_c"] > medians.loc[0, "temperature_c"]


def test_missingness_shares_and_that_they_depend_on_what_is_recorded(record):
    missing = record.isna().mean()
    assert 0.3 < missing["wbc_10e9_l"] < 0.65  # blood drawn for some children only
    assert missing["crp_mg_l"] > missing["wbc_10e9_l"]  # CRP also not run on some samples
    assert 0.03 < missing["crackles"] < 0.15 and 0.02 < missing["symptom_days"] < 0.1
    for column in ("age_months", "sex", "setting", "temperature_c", "respiratory_rate"):
        assert missing[column] == 0, column  # always recorded: missingness depends on them
    no_blood = record["wbc_10e9_l"].isna()
    emergency = record["setting"] == "emergency"
    assert no_blood[emergency].mean() < no_blood[~emergency].mean() - 0.2
    fever = record["temperature_c"] >= 38.5
    assert no_blood[fever].mean() < no_blood[~fever].mean()
    assert record.loc[emergency, "spo2"].notna().all()  # SpO2 is missed only in clinics


def test_leakage_variable_is_on_request_and_recorded_after_diagnosis(record):
    assert clinical.LEAKAGE_VARIABLE not in clinical.simulate_records(LABELS[:50], seed=1)
    assert roc_auc_score(LABELS, record[clinical.LEAKAGE_VARIABLE]) > 0.8
    audit = clinical.timing_audit([*clinical.FEATURES, clinical.LEAKAGE_VARIABLE])
    assert audit["after_diagnosis"].tolist() == [False] * len(clinical.FEATURES) + [True]
    with pytest.raises(clinical.ClinicalDataError, match="'discharge_code'"):
        clinical.timing_audit(["discharge_code"])


def test_feature_matrix_is_numeric_with_nan_for_missing(record):
    features = clinical.feature_matrix(record)
    assert list(features.columns) == list(clinical.FEATURES)
    assert all(pd.api.types.is_float_dtype(dtype) for dtype in features.dtypes)
    assert features["crp_mg_l"].isna().sum() == record["crp_mg_l"].isna().sum()
    assert set(features["male"]) == {0.0, 1.0}


@pytest.mark.parametrize(
    ("change", "column", "message"),
    [
        (lambda r: r.drop(columns="spo2"), "spo2", "missing"),
        (
            lambda r: r.assign(temperature_c=r["temperature_c"] * 9 / 5 + 32),
            "temperature_c",
            "Fahrenheit",
        ),
        (lambda r: r.assign(spo2=r["spo2"].where(r.index != 3, 140.0)), "spo2", "impossible"),
        (
            lambda r: r.assign(respiratory_rate=-r["respiratory_rate"]),
            "respiratory_rate",
            "impossible",
        ),
        (lambda r: r.assign(crp_mg_l=r["crp_mg_l"].astype(str)), "crp_mg_l", "numeric"),
        (lambda r: r.assign(crackles=r["crackles"] * 2), "crackles", "0 or 1"),
        (lambda r: r.assign(sex="boy"), "sex", "one of"),
    ],
)
def test_validate_record_names_the_column(change, column, message):
    record = clinical.simulate_records(LABELS[:200], seed=5)
    with pytest.raises(
        clinical.ClinicalDataError, match=f"'{column}'.*{message}|{message}.*'{column}'"
    ):
        clinical.validate_record(change(record), 200)


def test_validate_record_checks_the_row_count_and_the_leakage_column():
    record = clinical.simulate_records(LABELS[:200], seed=5)
    with pytest.raises(clinical.ClinicalDataError, match="199 rows but there are 200 X-rays"):
        clinical.validate_record(record.iloc[:199], 200)
    with pytest.raises(clinical.ClinicalDataError, match=f"'{clinical.LEAKAGE_VARIABLE}'"):
        clinical.validate_record(record, 200, leakage=True)
    assert issubclass(clinical.ClinicalDataError, ValueError)


def test_records_for_the_splits_have_their_own_streams():
    dataset = {"train": (None, LABELS[:500]), "val": (None, LABELS[500:600])}
    records = clinical.simulate_clinical_records(dataset, seed=0)
    assert {name: len(r) for name, r in records.items()} == {"train": 500, "val": 100}
    shorter = clinical.simulate_clinical_records(
        {"train": (None, LABELS[:400]), "val": (None, LABELS[500:600])}, seed=0
    )
    pd.testing.assert_frame_equal(records["val"], shorter["val"])


def test_clinical_only_auc_on_the_real_validation_split_is_realistic():
    """The generator's tuning target: a record-only model is useful but far from the image."""
    dataset = data.load_pneumoniamnist(28, progress=False)
    records = clinical.simulate_clinical_records(dataset, seed=0)
    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=0)
    with threadpool_limits(limits=1, user_api="openmp"):  # far faster on a busy 2-core CPU
        model.fit(clinical.feature_matrix(records["train"]), dataset.train.labels)
    scores = model.predict_proba(clinical.feature_matrix(records["val"]))[:, 1]
    assert 0.70 <= roc_auc_score(dataset.val.labels, scores) <= 0.85
