"""Every chapter runs top to bottom on a rebuilt Colab runtime (Python 3.13, Colab's pins).

See rehearsal.py for how the runtime is built. Each notebook runs from a copy outside the
checkout; its setup cell installs the course from a snapshot of this checkout. Budgets are
shrunk (PNEUMO_REHEARSAL=1): the quick-profile nbval run stays the quality gate.
"""

from __future__ import annotations

import json
import re
import subprocess

import nbformat
import pytest
import rehearsal
from browser_tools import BROWSER_ARGS, figures_on, find_browser, move_slider

#: The chapters whose outputs hold interactive figures, and how many.
INTERACTIVE = {"02_baseline_cnn": 2, "08_federated_learning": 1, "10_edge_deployment": 1}

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
    if notebook.stem in INTERACTIVE:
        check_interactive_outputs(python, work / "run" / notebook.name, INTERACTIVE[notebook.stem])


def check_interactive_outputs(python, executed, expected: int) -> None:
    """The chapter's interactive figures, as Colab's output frame would draw them.

    Each figure's output must carry the HTML snippet, Plotly's JSON (JupyterLab) and the
    static PNG. Colab's frame has no Plotly loaded, so the snippet fetches plotly.js from
    Plotly's CDN; here the CDN address is answered with the script of the plotly version
    on the rehearsed runtime (Colab's), and every slider step must draw its readout.
    """
    nb = nbformat.read(executed, as_version=4)
    bundles = [
        output["data"]
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "pneumo-interactive" in str(output.get("data", {}).get("text/html", ""))
    ]
    assert len(bundles) == expected, f"{executed.name}: {len(bundles)} interactive figures"
    for bundle in bundles:
        assert {"text/html", "application/vnd.plotly.v1+json", "image/png"} <= set(bundle)
    script = subprocess.run(
        [
            str(python),
            "-c",
            "import plotly, pathlib; print(pathlib.Path(plotly.__file__).parent"
            " / 'package_data' / 'plotly.min.js')",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    version = subprocess.run(
        [str(python), "-c", "from plotly.offline import get_plotlyjs_version as v; print(v())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    cdn = f"https://cdn.plot.ly/plotly-{version}.min.js"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_browser(), args=BROWSER_ARGS)
        try:
            for i, bundle in enumerate(bundles):
                html = bundle["text/html"]
                html = html if isinstance(html, str) else "".join(html)
                assert cdn in html, f"{executed.name}: the snippet does not load {cdn}"
                frame = executed.parent / f"output-{i}.html"
                frame.write_text(f"<html><head></head><body>{html}</body></html>")
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                errors = []
                page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
                page.route(cdn, lambda r: r.fulfill(path=script, content_type="text/javascript"))
                page.goto(frame.as_uri())
                (slug,) = figures_on(page)
                slider = bundle["application/vnd.plotly.v1+json"]["layout"]["sliders"][0]
                for step in [*slider["steps"][1:], slider["steps"][0]]:
                    expected_text = step["args"][1]["annotations[0].text"]
                    assert move_slider(page, slug, step["label"]) == expected_text, step["label"]
                assert errors == [], errors
                page.close()
        finally:
            browser.close()


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
