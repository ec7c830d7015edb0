"""Tests of pneumo_helpers.config: profiles, the data folder and seeding."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from pneumo_helpers import config

# --------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------


@pytest.fixture
def no_gpu_probe(monkeypatch):
    """Fail loudly if a test reaches gpu_available() when it should not."""

    def _boom() -> bool:
        raise AssertionError("gpu_available() should not be called here")

    monkeypatch.setattr(config, "gpu_available", _boom)


def test_profiles_quick_and_full_exist_and_quick_is_the_smaller():
    assert set(config.PROFILES) == {"quick", "full"}
    quick, full = config.PROFILES["quick"], config.PROFILES["full"]
    assert quick.name == "quick" and full.name == "full"
    assert quick.image_size == 28  # the CPU profile reads the 28 px file
    assert full.image_size in (64, 128, 224)  # sizes MedMNIST+ publishes
    assert quick.epochs <= full.epochs and quick.n_bootstrap <= full.n_bootstrap
    for profile in (quick, full):
        assert set(profile.as_dict()) == {
            "name",
            "image_size",
            "epochs",
            "batch_size",
            "patience",
            "n_bootstrap",
        }
        assert profile.batch_size > 0 and 0 < profile.patience <= profile.epochs


def test_profile_is_frozen():
    with pytest.raises(AttributeError):
        config.PROFILES["quick"].epochs = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("quick", "quick"), ("full", "full"), ("QUICK", "quick"), (" Full ", "full")],
)
def test_profile_env_var_chooses_profile(monkeypatch, no_gpu_probe, value, expected):
    monkeypatch.setenv(config.PROFILE_ENV, value)
    assert config.profile() is config.PROFILES[expected]


def test_profile_argument_wins_over_env_var(monkeypatch, no_gpu_probe):
    monkeypatch.setenv(config.PROFILE_ENV, "full")
    assert config.profile("quick").name == "quick"


def test_profile_invalid_env_var_raises_config_error(monkeypatch, no_gpu_probe):
    monkeypatch.setenv(config.PROFILE_ENV, "turbo")
    with pytest.raises(config.ConfigError) as excinfo:
        config.profile()
    assert isinstance(excinfo.value, ValueError)
    message = str(excinfo.value)
    assert "PNEUMO_PROFILE" in message
    assert "turbo" in message
    assert "quick" in message and "full" in message


def test_profile_invalid_argument_raises_config_error(no_gpu_probe):
    with pytest.raises(config.ConfigError, match="quick"):
        config.profile("medium")


def test_config_error_is_value_error():
    assert issubclass(config.ConfigError, ValueError)


@pytest.mark.parametrize(("has_gpu", "expected"), [(True, "full"), (False, "quick")])
def test_profile_unset_chooses_by_gpu(monkeypatch, has_gpu, expected):
    monkeypatch.delenv(config.PROFILE_ENV, raising=False)
    monkeypatch.setattr(config, "gpu_available", lambda: has_gpu)
    assert config.profile().name == expected


@pytest.mark.parametrize("blank", ["", "   "])
def test_profile_blank_env_var_counts_as_unset(monkeypatch, blank):
    monkeypatch.setenv(config.PROFILE_ENV, blank)
    monkeypatch.setattr(config, "gpu_available", lambda: False)
    assert config.profile().name == "quick"


# --------------------------------------------------------------------------------------
# Data folder
# --------------------------------------------------------------------------------------


def test_data_dir_env_var_wins_and_is_absolute(monkeypatch, tmp_path):
    target = tmp_path / "my data"
    monkeypatch.setenv(config.DATA_DIR_ENV, str(target))
    assert config.data_dir() == target.resolve()
    assert not target.exists(), "data_dir() must create nothing"


def test_data_dir_relative_env_var_is_resolved_from_cwd(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(config.DATA_DIR_ENV, "relative/folder")
    result = config.data_dir()
    assert result.is_absolute()
    assert result == (tmp_path / "relative" / "folder").resolve()


def test_data_dir_expands_user(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv(config.DATA_DIR_ENV, "~/pneumo")
    assert config.data_dir() == (tmp_path / "pneumo").resolve()


def test_data_dir_env_var_pointing_at_file_raises(monkeypatch, tmp_path):
    a_file = tmp_path / "pneumoniamnist.npz"
    a_file.write_bytes(b"not a folder")
    monkeypatch.setenv(config.DATA_DIR_ENV, str(a_file))
    with pytest.raises(config.ConfigError, match="PNEUMO_DATA_DIR") as excinfo:
        config.data_dir()
    assert "not a directory" in str(excinfo.value)


def test_data_dir_unset_in_checkout_is_repo_data_folder(monkeypatch):
    monkeypatch.delenv(config.DATA_DIR_ENV, raising=False)
    repo = Path(config.__file__).resolve().parent.parent
    assert config.in_checkout()
    assert config.repo_root() == repo
    assert config.data_dir() == repo / "data"


def test_data_dir_unset_outside_checkout_is_user_cache(monkeypatch):
    from platformdirs import user_cache_dir

    monkeypatch.delenv(config.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(config, "in_checkout", lambda: False)
    assert config.repo_root() is None
    assert config.data_dir() == Path(user_cache_dir("pneumo-course"))


# --------------------------------------------------------------------------------------
# Seeds
# --------------------------------------------------------------------------------------


@pytest.fixture
def restore_hashseed(monkeypatch):
    """set_seed writes PYTHONHASHSEED; restore it after the test."""
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)


def _draw():
    import keras

    return (
        random.random(),
        np.random.rand(4),  # noqa: NPY002 - the global RNG is what set_seed seeds
        np.asarray(keras.random.uniform((4,))),
        np.asarray(keras.random.normal((2, 2))),
    )


def test_set_seed_same_seed_gives_same_numbers(restore_hashseed):
    config.set_seed(123)
    first = _draw()
    config.set_seed(123)
    second = _draw()
    assert first[0] == second[0]
    for a, b in zip(first[1:], second[1:], strict=True):
        np.testing.assert_array_equal(a, b)


def test_set_seed_different_seeds_give_different_numbers(restore_hashseed):
    config.set_seed(1)
    first = _draw()
    config.set_seed(2)
    second = _draw()
    assert not np.array_equal(first[1], second[1])
    assert not np.array_equal(first[2], second[2])


def test_set_seed_sets_pythonhashseed(restore_hashseed):
    import os

    config.set_seed(7)
    assert os.environ["PYTHONHASHSEED"] == "7"
    config.set_seed(0)
    assert os.environ["PYTHONHASHSEED"] == "0"


def test_set_seed_accepts_numpy_integer(restore_hashseed):
    import os

    config.set_seed(np.int64(7))
    assert os.environ["PYTHONHASHSEED"] == "7"
    assert np.random.rand() == pytest.approx(np.random.RandomState(7).rand())  # noqa: NPY002


@pytest.mark.parametrize("bad", [-1, True, False, 1.5, 3.0, "42", None])
def test_set_seed_rejects_invalid_seed(restore_hashseed, bad):
    with pytest.raises(config.ConfigError, match="seed"):
        config.set_seed(bad)


# --------------------------------------------------------------------------------------
# Rehearsals and the profile line
# --------------------------------------------------------------------------------------


def test_rehearsal_shrinks_budgets_not_sizes(monkeypatch):
    monkeypatch.setenv(config.PROFILE_ENV, "full")
    assert not config.rehearsal() and config.budget(20) == 20
    monkeypatch.setenv(config.REHEARSAL_ENV, "1")
    assert config.rehearsal()
    rehearsed = config.profile()
    assert rehearsed.image_size == config.PROFILES["full"].image_size  # the code path stays
    assert rehearsed.epochs == config.REHEARSAL_EPOCHS
    assert rehearsed.n_bootstrap == config.REHEARSAL_BOOTSTRAP
    assert config.budget(20) == config.REHEARSAL_EPOCHS
    assert config.budget(10, config.REHEARSAL_ROUNDS) == config.REHEARSAL_ROUNDS


def test_seeds_are_consecutive_and_a_rehearsal_keeps_two(monkeypatch):
    monkeypatch.delenv(config.REHEARSAL_ENV, raising=False)
    assert config.seeds(42, 3) == (42, 43, 44)
    assert config.seeds(7, 1) == (7,)
    monkeypatch.setenv(config.REHEARSAL_ENV, "1")
    assert config.seeds(42, 3) == (42, 43) and config.REHEARSAL_SEEDS == 2
    assert config.seeds(42, 1) == (42,)  # never more than were asked for


@pytest.mark.parametrize("bad", [0, -2])
def test_seeds_rejects_a_count_below_one(bad):
    with pytest.raises(config.ConfigError, match="at least one seed"):
        config.seeds(42, bad)


def test_rehearsal_variable_with_a_bad_value_says_what_to_use(monkeypatch):
    monkeypatch.setenv(config.REHEARSAL_ENV, "maybe")
    with pytest.raises(config.ConfigError, match="use 1 for a rehearsal"):
        config.rehearsal()


def test_profile_summary_says_which_profile_and_why(monkeypatch):
    monkeypatch.setenv(config.PROFILE_ENV, "quick")
    assert config.profile_summary() == "Profile 'quick' (PNEUMO_PROFILE=quick): 28 px images."
    monkeypatch.delenv(config.PROFILE_ENV)
    monkeypatch.setattr(config, "gpu_available", lambda: True)
    assert "(TensorFlow sees a GPU)" in config.profile_summary()
    monkeypatch.setattr(config, "gpu_available", lambda: False)
    assert "no GPU seen" in config.profile_summary()
    monkeypatch.setenv(config.REHEARSAL_ENV, "1")
    assert "Rehearsal" in config.profile_summary()


def test_data_dir_description_names_the_setting_not_a_path(monkeypatch):
    monkeypatch.setenv(config.DATA_DIR_ENV, "/somewhere/private")
    assert config.data_dir_description() == f"the folder named by {config.DATA_DIR_ENV}"
    monkeypatch.delenv(config.DATA_DIR_ENV)
    assert config.data_dir_description() == "data/ in this clone of the course"  # tests run in one
