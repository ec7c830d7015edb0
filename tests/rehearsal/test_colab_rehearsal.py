"""Every chapter runs top to bottom on a rebuilt Colab runtime (Python 3.13, Colab's pins).

See rehearsal.py for how the runtime is built. Each notebook runs from a copy outside the
checkout; its setup cell installs the course from a snapshot of this checkout. Budgets are
shrunk (PNEUMO_REHEARSAL=1): the quick-profile nbval run stays the quality gate.
"""

from __future__ import annotations

import json
import re

import pytest
import rehearsal

pytestmark = pytest.mark.rehearsal


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    python = rehearsal.build_colab_venv()
    snapshot = rehearsal.snapshot_checkout(tmp_path_factory.mktemp("snapshot") / "course")
    base = rehearsal.installed(python)
    assert "pneumo-helpers" not in base, "the Colab runtime must not hold the course yet"
    return python, snapshot, base


def test_the_runtime_holds_colabs_versions(colab):
    python, _, base = colab
    pins = rehearsal.colab_pins()
    for name in (*rehearsal.PROTECTED, "ipykernel", "ipython", "pandas", "scikit-learn"):
        assert base.get(name) == pins[name], f"{name}: {base.get(name)} vs Colab's {pins[name]}"
    version = rehearsal.subprocess.run(
        [str(python), "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert version == "(3, 13)", version


@pytest.mark.parametrize("notebook", rehearsal.NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_runs_on_colab(colab, notebook, tmp_path_factory):
    python, snapshot, base = colab
    work = tmp_path_factory.mktemp(f"colab-{notebook.stem}")
    env = rehearsal.colab_env(snapshot, work / "home", work / "results")
    try:
        outcome = rehearsal.run_notebook(notebook, python, work / "run", env)
        after = rehearsal.installed(python)
    finally:
        rehearsal.restore(python, base)
    assert outcome.ok, f"On Colab's runtime, {outcome.describe()}"
    assert "pneumo-helpers" in after, "the setup cell did not install the course"
    record_installs(notebook, base, after)
    moved = {
        name: (base.get(name), after.get(name))
        for name in rehearsal.PROTECTED
        if base.get(name) != after.get(name)
    }
    assert not moved, f"{notebook.name}: the setup cell moved Colab's TensorFlow stack: {moved}"
    lines = outcome.setup_output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Colab setup:"), outcome.setup_output
    if re.match(r"\d\d_", notebook.name):
        assert outcome.first_output.startswith("Profile 'quick' ("), outcome.first_output[:300]


def record_installs(notebook, base, after):
    """Write what the chapter's setup cell added to Colab's runtime, at which versions.

    ``_build/rehearsal/colab-installs/<chapter>.json``: the versions pip chose on the
    rehearsed runtime for what Colab lacks (e.g. chapter 10's onnx), for the record.
    """
    folder = rehearsal.REHEARSAL_DIR / "colab-installs"
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "added": {name: after[name] for name in sorted(set(after) - set(base))},
        "moved": {
            name: [base[name], after[name]]
            for name in sorted(base)
            if name in after and after[name] != base[name]
        },
    }
    (folder / f"{notebook.stem}.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def _setup_cell_only(notebook, folder):
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    nb.cells = [next(c for c in nb.cells if c.cell_type == "code")]
    path = folder / notebook.name
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def _offline(env):
    """No package index and no GitHub: pip's own config ignored, the index a closed port."""
    env = {k: v for k, v in env.items() if not k.startswith("GIT_CONFIG")}
    env.update({"PIP_CONFIG_FILE": "/dev/null", "PIP_INDEX_URL": "http://127.0.0.1:9/simple"})
    return env


def test_offline_setup_cell_says_what_to_do_in_one_sentence(colab, tmp_path):
    python, snapshot, base = colab
    chapter = _setup_cell_only(
        rehearsal.ROOT / "chapters" / "08_federated_learning.ipynb", tmp_path
    )
    env = _offline(rehearsal.colab_env(snapshot, tmp_path / "home", tmp_path / "results"))
    try:
        # 1. The course itself cannot be fetched.
        outcome = rehearsal.run_notebook(chapter, python, tmp_path / "a", env)
        assert not outcome.ok and outcome.error.startswith(
            "SystemExit: Could not install the course"
        )
        assert "is the runtime online?" in outcome.error
        # 2. The course is there, but the chapter's extra (Flower) cannot be fetched.
        rehearsal.subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--no-deps", str(snapshot)], check=True
        )
        outcome = rehearsal.run_notebook(chapter, python, tmp_path / "b", env)
        assert not outcome.ok and outcome.error.startswith("SetupError:")
        assert "offline" in outcome.error and "Traceback" not in outcome.outputs, outcome.outputs
    finally:
        rehearsal.restore(python, base)
