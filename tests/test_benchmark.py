"""The benchmark script: its file format, merging, and its errors (no training here)."""

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_result(bench, auc):
    return {m: bench.summarise([auc, auc + 0.01]) for m in bench.METRICS}


def test_summarise_gives_mean_std_and_values(bench):
    summary = bench.summarise([1.0, 3.0])
    assert summary == {"mean": 2.0, "std": pytest.approx(2**0.5), "values": [1.0, 3.0]}
    assert bench.summarise([5.0])["std"] == 0.0


def test_write_results_merges_models_and_writes_the_table(bench, tmp_path):
    out = tmp_path / "results.json"
    run = {"profile": "quick", "seeds": [0, 1], "date": "2026-01-01", "machine": "test"}
    bench.write_results({"a": fake_result(bench, 0.9)}, run, out)
    bench.write_results({"b": fake_result(bench, 0.8)}, dict(run, date="2026-01-02"), out)
    data = json.loads(out.read_text())
    assert set(data) == {"a", "b"}
    assert set(data["a"]) == set(bench.METRICS)
    assert set(data["a"]["auc"]) == {"mean", "std", "values"}
    runs = json.loads((tmp_path / "results.runs.json").read_text())
    assert runs["a"]["date"] == "2026-01-01" and runs["b"]["date"] == "2026-01-02"
    table = (tmp_path / "results.md").read_text()
    assert "| a | 0.905 ± 0.007" in table and "| b |" in table


def test_unknown_model_and_bad_seed_count_are_refused(bench, capsys):
    with pytest.raises(SystemExit) as excinfo:
        bench.main(["--models", "no_such_model"])
    assert excinfo.value.code == 2
    assert "no_such_model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--models", "baseline_cnn", "--seeds", "0"])


def test_bad_profile_is_reported_without_a_traceback(bench, capsys):
    assert bench.main(["--models", "baseline_cnn", "--profile", "huge"]) == 2
    assert "huge" in capsys.readouterr().err


def test_starting_weights_are_recorded_beside_the_results(bench, tmp_path):
    out = tmp_path / "results.json"
    run = {"profile": "quick", "seeds": [0], "date": "2026-01-01", "machine": "test"}
    details = {"vgg16_transfer": {"weights": "VGG16: RANDOM initial weights"}}
    bench.write_results({"vgg16_transfer": fake_result(bench, 0.95)}, run, out, details)
    assert set(json.loads(out.read_text())["vgg16_transfer"]) == set(bench.METRICS)
    runs = json.loads((tmp_path / "results.runs.json").read_text())
    assert runs["vgg16_transfer"]["weights"] == "VGG16: RANDOM initial weights"
    assert "RANDOM initial weights" in (tmp_path / "results.md").read_text()


def test_the_transfer_models_are_benchmark_choices(bench):
    from pneumo_helpers import recipes

    for name in ("vgg16_transfer", "resnet50_hybrid", "cnn_transformer_hybrid"):
        assert name in recipes.RECIPES


@pytest.mark.parametrize("content", ["", "{not json", "[1, 2]"])
def test_a_bad_results_file_is_refused_before_training(bench, tmp_path, capsys, content):
    out = tmp_path / "results.json"
    out.write_text(content)
    assert bench.main(["--models", "baseline_cnn", "--seeds", "1", "--out", str(out)]) == 2
    message = capsys.readouterr().err
    assert str(out) in message and "--out" in message and "Traceback" not in message
    assert out.read_text() == content  # nothing overwritten


def test_rows_carry_the_commit_and_one_fingerprint_per_seed(bench, tmp_path, monkeypatch):
    """The results page compares these with today's fingerprints to mark stale rows."""

    import numpy as np

    from pneumo_helpers import data, recipes

    def split(n):
        labels = np.arange(n) % 2
        return data.Split(
            (labels[:, None, None] * 200 + 20).astype(np.uint8).repeat(8, 1).repeat(8, 2), labels
        )

    dataset = data.PneumoniaMNIST(split(32), split(16), split(16), size=8, path=tmp_path)
    monkeypatch.setitem(recipes.RECIPES, "baseline_cnn", _tiny_recipe)  # its budget row
    summary = bench.run_model("baseline_cnn", dataset, config_quick(), [0, 1])
    assert summary["fingerprints"] == [
        recipes.run_fingerprint("baseline_cnn", dataset, config_quick(), seed) for seed in (0, 1)
    ]
    assert all(
        recipes.is_current("baseline_cnn", dataset, config_quick(), s, f)
        for s, f in zip((0, 1), summary["fingerprints"], strict=True)
    )
    assert not recipes.is_current(
        "baseline_cnn", dataset, config_quick(), 1, summary["fingerprints"][0]
    )
    assert not recipes.is_current("baseline_cnn", dataset, config_quick(), 0, None)
    head = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    if head.returncode == 0:
        assert summary["commit"].startswith(head.stdout.strip())
    assert bench.current_commit(tmp_path) is None  # not a checkout
    out = tmp_path / "results.json"
    run = {"profile": "quick", "seeds": [0, 1], "date": "2026-01-01", "machine": "test"}
    bench.write_results({"baseline_cnn": summary}, run, out)
    assert json.loads(out.read_text())["baseline_cnn"]["fingerprints"] == summary["fingerprints"]


def config_quick():
    from pneumo_helpers import config

    return config.profile("quick")


def _tiny_recipe(dataset, profile, seed=0, verbose=0, budget=None):
    from pneumo_helpers import models, recipes, training

    train, val, test = recipes.standard_datasets(dataset, profile, seed, augment=False)
    model = models.build_baseline_cnn((dataset.size, dataset.size, 1), filters=(4,))
    result = training.fit(
        model, train, val, epochs=1, patience=1, train_labels=dataset.train.labels
    )
    return recipes.Trained(result, val, test)


def test_the_timing_says_quiet_only_when_other_processes_left_the_cpu_alone(bench):
    quiet = bench.timing_reading(0.03, 2)
    assert quiet.startswith("quiet") and "3%" in quiet and "2 CPU cores" in quiet
    shared = bench.timing_reading(0.45, 2)
    assert shared.startswith("shared CPU") and "45%" in shared and "inflated" in shared
    assert bench.timing_reading(bench.QUIET_SHARE, 2).startswith("shared")
    assert bench.timing_reading(None, 2).startswith("not recorded")


def test_the_cpu_share_of_other_processes_is_measured(bench):
    """Busy work in this process is its own, so the others' share stays near zero."""
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc/stat, which only Linux has")
    assert bench.machine_busy_seconds() > 0
    with bench.CpuShare() as cpu:
        total = 0
        for i in range(3_000_000):
            total += i
    assert cpu.cores >= 1 and cpu.share is not None and 0.0 <= cpu.share <= 1.0


def test_each_row_records_its_timing_beside_the_results(bench, tmp_path, monkeypatch):
    import numpy as np

    from pneumo_helpers import data, recipes

    labels = np.arange(16) % 2
    images = (labels[:, None, None] * 200 + 20).astype(np.uint8).repeat(8, 1).repeat(8, 2)
    split = data.Split(images, labels)
    dataset = data.PneumoniaMNIST(split, split, split, size=8, path=tmp_path)
    monkeypatch.setitem(recipes.RECIPES, "baseline_cnn", _tiny_recipe)
    details: dict = {}
    bench.run_model("baseline_cnn", dataset, config_quick(), [0], details)
    assert details["timing"].startswith(("quiet: ", "shared CPU: ")), details
    out = tmp_path / "results.json"
    run = {"profile": "quick", "seeds": [0], "date": "2026-01-01", "machine": "test"}
    summary = {m: bench.summarise([0.9]) for m in bench.METRICS}
    bench.write_results({"baseline_cnn": summary}, run, out, {"baseline_cnn": details})
    runs = json.loads((tmp_path / "results.runs.json").read_text())
    assert runs["baseline_cnn"]["timing"] == details["timing"]


def test_the_commit_ignores_the_benchmarks_own_outputs_but_not_other_changes(bench, tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "results.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "start")
    clean = bench.current_commit(tmp_path)
    assert clean and not clean.endswith("+changes")
    (tmp_path / "benchmarks" / "results.json").write_text('{"baseline_cnn": {}}')
    assert bench.current_commit(tmp_path) == clean  # rewritten by the run itself
    (tmp_path / "code.py").write_text("x = 2\n")
    assert bench.current_commit(tmp_path) == clean + "+changes"
