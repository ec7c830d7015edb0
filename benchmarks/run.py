"""Measure model quality and training time: mean and spread over several seeds.

Usage::

    python benchmarks/run.py --models baseline_cnn --seeds 3 --profile quick \
        --out benchmarks/results.json

Writes ``{model: {metric: {"mean", "std", "values"}}}`` for ``auc``, ``accuracy``,
``sensitivity``, ``specificity`` (test split, threshold chosen on validation by Youden's J),
``train_seconds`` and ``params``, and a Markdown table beside the JSON file. Each model's
row also carries the ``commit`` it was measured at and one run ``fingerprint`` per seed
(``pneumo_helpers.recipes.run_fingerprint``), so that the results page can tell a row
that no longer matches the code.

While each model trains, the script measures how much of the CPU other processes used
(``/proc/stat`` minus this process's own CPU time) and records it as the row's ``timing``:
"quiet: ..." when others used under 10 % of the cores, "shared CPU: ..." otherwise. The
results page ranks models by speed only among quiet rows.

Each model trains with its benchmark row of the budget table (``pneumo_helpers.budgets``:
the row named after the model, in the chosen profile), the row the chapters' recipes
default to.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pneumo_helpers import budgets, config, data, evaluation, recipes  # noqa: E402

METRICS = ("auc", "accuracy", "sensitivity", "specificity", "train_seconds", "params")
QUIET_SHARE = 0.10  # other processes' share of the cores below which a timing counts as quiet


def machine_busy_seconds() -> float | None:
    """Return the CPU seconds all processes have used since boot (Linux), or None elsewhere."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal: busy is everything but idle and iowait.
    busy = sum(fields[:8]) - fields[3] - (fields[4] if len(fields) > 4 else 0)
    return busy / os.sysconf("SC_CLK_TCK")


class CpuShare:
    """Measure, over a block, the share of the machine's cores used by other processes."""

    def __enter__(self) -> CpuShare:
        self.cores = os.cpu_count() or 1
        self.start = (machine_busy_seconds(), time.process_time(), time.perf_counter())
        self.share: float | None = None
        return self

    def __exit__(self, *exc) -> None:
        busy, own, wall = machine_busy_seconds(), time.process_time(), time.perf_counter()
        if busy is None or self.start[0] is None or wall <= self.start[2]:
            return
        others = (busy - self.start[0]) - (own - self.start[1])
        self.share = max(0.0, others / ((wall - self.start[2]) * self.cores))


def timing_reading(share: float | None, cores: int) -> str:
    """Say whether a model's seconds were measured on a quiet machine, from ``share``."""
    if share is None:
        return "not recorded whether the machine was quiet (no /proc/stat)"
    measured = f"other processes used {share:.0%} of the {cores} CPU cores while it trained"
    if share < QUIET_SHARE:
        return f"quiet: {measured}"
    return f"shared CPU: {measured}, so the seconds are inflated"


def summarise(values: list[float]) -> dict:
    """Return mean, sample standard deviation and the raw values."""
    import numpy as np

    array = np.asarray(values, dtype=float)
    std = float(array.std(ddof=1)) if len(array) > 1 else 0.0
    return {"mean": float(array.mean()), "std": std, "values": [float(v) for v in array]}


def run_model(name: str, dataset, profile, seeds: list[int], details: dict | None = None) -> dict:
    """Train and evaluate one model once per seed; return its summary.

    Every seed trains with the model's benchmark row of the budget table. When ``details``
    is a dict, the row and the starting weights of the runs (for transfer models:
    ImageNet, or random because the download failed) are recorded in it.
    """
    per_metric: dict[str, list[float]] = {m: [] for m in METRICS}
    weights: set[str] = set()
    fingerprints: list[str] = []
    budget = budgets.budget(profile, name)
    print(f"{name}: budget row {budget.describe()}", flush=True)
    if details is not None:
        details["budget"] = budget.training()
    with CpuShare() as cpu:
        for seed in seeds:
            measure_seed(name, dataset, profile, seed, budget, per_metric, weights, fingerprints)
    if details is not None:
        details["timing"] = timing_reading(cpu.share, cpu.cores)
    print(f"{name}: timing {timing_reading(cpu.share, cpu.cores)}", flush=True)
    if details is not None and weights:
        details["weights"] = " / ".join(sorted(weights))
    summary: dict = {metric: summarise(values) for metric, values in per_metric.items()}
    # What made the row: the results page marks it stale when the code no longer matches.
    summary["commit"] = current_commit()
    summary["fingerprints"] = fingerprints
    return summary


def measure_seed(name, dataset, profile, seed, budget, per_metric, weights, fingerprints) -> None:
    """Train and evaluate ``name`` once at ``seed``; append its numbers to the lists given."""
    trained = recipes.RECIPES[name](dataset, profile, seed=seed, budget=budget)
    result = trained.result
    if getattr(trained, "weights", None) is not None:
        weights.add(trained.weights.describe())
    started = recipes.started_from(name, getattr(trained, "weights", None))
    fingerprints.append(recipes.run_fingerprint(name, dataset, profile, seed, weights=started))
    scores = evaluation.evaluate_model(
        result.model,
        trained.val_data,
        trained.test_data,
        dataset.val.labels,
        dataset.test.labels,
    )
    for metric in ("auc", "accuracy", "sensitivity", "specificity"):
        per_metric[metric].append(scores[metric])
    per_metric["train_seconds"].append(result.seconds)
    per_metric["params"].append(result.model.count_params())
    print(
        f"{name} seed {seed}: AUC {scores['auc']:.3f}  acc {scores['accuracy']:.3f}  "
        f"sens {scores['sensitivity']:.3f}  spec {scores['specificity']:.3f}  "
        f"{result.seconds:.0f} s ({result.epochs_run} epochs)",
        flush=True,
    )


def current_commit(root: Path | None = None) -> str | None:
    """Return the checkout's commit (``+changes`` when tracked files differ), or None.

    The benchmark's own outputs (``benchmarks/results*``) do not count as changes: the
    script rewrites them after each model, so they differ from the commit during a run.

    Args:
        root: the checkout; default the one this script is in.
    """
    import subprocess

    root = root or Path(__file__).resolve().parents[1]

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "--short=12", "HEAD")
    if commit is None:
        return None
    changed = git(
        "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)benchmarks/results*"
    )
    return commit + ("+changes" if changed else "")


def markdown_table(results: dict, runs: dict) -> str:
    """Render the results as a Markdown table, one row per model, with how each was run."""
    lines = [
        "# Benchmark results",
        "",
        "Mean ± standard deviation over seeds; test split, threshold chosen on validation "
        "(Youden's J). Written by `benchmarks/run.py`.",
        "",
        "| model | AUC | accuracy | sensitivity | specificity | train seconds | params | run |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, metrics in results.items():
        cells = [f"{metrics[m]['mean']:.3f} ± {metrics[m]['std']:.3f}" for m in METRICS[:4]]
        seconds = metrics["train_seconds"]
        cells.append(f"{seconds['mean']:.0f} ± {seconds['std']:.0f}")
        cells.append(f"{metrics['params']['mean']:,.0f}")
        run = runs.get(name, {})
        how = (
            f"{run.get('profile', '?')} profile, seeds {run.get('seeds', '?')}, "
            f"{run.get('date', '?')}, {run.get('machine', '?')}"
        )
        if metrics.get("commit"):
            how += f", commit {metrics['commit']}"
        if run.get("weights"):
            how += f"; {run['weights']}"
        cells.append(how)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


class ResultsFileError(ValueError):
    """An existing results file cannot be read, so merging into it would lose its content."""


def read_results_file(path: Path) -> dict:
    """Return the JSON object in ``path`` ({} when it does not exist), or raise a clear error."""
    if not path.exists():
        return {}
    text = path.read_text()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        problem = (
            "is empty" if not text.strip() else f"is not valid JSON ({exc.msg}, line {exc.lineno})"
        )
        raise ResultsFileError(
            f"{path} {problem}. The benchmark merges its results into it: restore it from git "
            "(git checkout -- benchmarks/), delete it to start afresh, or pass another --out."
        ) from exc
    if not isinstance(value, dict):
        raise ResultsFileError(
            f"{path} holds a JSON {type(value).__name__}, not an object of models: restore it "
            "from git, delete it, or pass another --out."
        )
    return value


def runs_file(out: Path) -> Path:
    """Return the file beside ``out`` that says how each model was run."""
    return out.with_name(out.stem + ".runs.json")


def write_results(results: dict, run: dict, out: Path, details: dict | None = None) -> str:
    """Merge ``results`` into ``out`` (JSON) and rewrite the Markdown table beside it.

    ``out`` holds ``{model: {metric: {"mean", "std", "values"}}}``; how each model was run
    (profile, seeds, date, machine, and any per-model ``details`` such as the starting
    weights) goes to ``<out>.runs.json``.
    """
    runs_path = runs_file(out)
    existing = read_results_file(out)
    runs = read_results_file(runs_path)
    existing.update(results)
    runs.update({name: {**run, **(details or {}).get(name, {})} for name in results})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(existing, indent=2) + "\n")
    runs_path.write_text(json.dumps(runs, indent=2) + "\n")
    table = markdown_table(existing, runs)
    out.with_suffix(".md").write_text(table)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        nargs="+",
        default=list(recipes.RECIPES),
        help=f"models to run: {', '.join(recipes.RECIPES)}",
    )
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (0, 1, ...)")
    parser.add_argument("--profile", default=None, help="quick or full (default: as configured)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results.json"))
    args = parser.parse_args(argv)

    unknown = [m for m in args.models if m not in recipes.RECIPES]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {sorted(recipes.RECIPES)}")
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    try:
        # Checked before any training, so that a bad file loses no measurement.
        read_results_file(args.out)
        read_results_file(runs_file(args.out))
        profile = config.profile(args.profile)
        dataset = data.load_pneumoniamnist(size=profile.image_size)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    seeds = list(range(args.seeds))
    run = {
        "profile": profile.name,
        "seeds": seeds,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
    }
    table = ""
    for name in args.models:
        # Written after each model, so a long run that is stopped keeps what it measured.
        details = {name: {}}
        results = {name: run_model(name, dataset, profile, seeds, details[name])}
        table = write_results(results, run, args.out, details)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
