"""Rehearsals: run every chapter the way CI cannot see it directly.

* **Colab**: a Python 3.13 virtual environment holding Colab's own versions (read from
  ``../shared/colab/pip-freeze.gpu.txt``) of every package a chapter touches, with
  ``google.colab`` importable and imported when the kernel starts, as on Colab. Each
  notebook runs from a copy outside the checkout, so the course's package comes only from
  the notebook's setup cell, which installs it from a snapshot of this checkout (git's
  ``insteadOf`` points the cell's GitHub URL at the snapshot). After each chapter the
  environment is put back as it was, as a new Colab runtime would be.
* **Full profile**: every chapter with ``PNEUMO_PROFILE=full`` on a labelled 128 px
  stand-in made from the 28 px file (``pneumo_helpers.data.make_stand_in``).

Both set ``PNEUMO_REHEARSAL=1``: budgets shrink to a few steps (sizes and epochs only,
never which code runs) and the chapters' quality floors are not asserted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REHEARSAL_DIR = ROOT / "_build" / "rehearsal"
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))
RUNNER = Path(__file__).resolve().parent / "run_notebook.py"

#: Colab's package list (see ../shared/colab/README.md); PNEUMO_COLAB_FREEZE overrides it.
COLAB_FREEZE = Path(
    os.environ.get("PNEUMO_COLAB_FREEZE", ROOT.parent / "shared" / "colab" / "pip-freeze.gpu.txt")
)
#: The packages a chapter's kernel needs, besides the course's own requirements.
KERNEL_PACKAGES = ("ipykernel", "ipython", "jupyter-client", "nbclient", "nbformat")
#: Packages whose versions the setup cell must never move on Colab.
PROTECTED = ("tensorflow", "keras", "numpy", "protobuf", "ml-dtypes")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def colab_pins(freeze: Path = COLAB_FREEZE) -> dict[str, str]:
    """Return ``{name: version}`` for every plain ``name==version`` line of Colab's list."""
    if not freeze.is_file():
        raise FileNotFoundError(
            f"Colab's package list {freeze} is missing: the Colab rehearsal needs "
            "../shared/colab/pip-freeze.gpu.txt (or PNEUMO_COLAB_FREEZE)."
        )
    pins = {}
    for line in freeze.read_text().splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s+;]+)", line.strip())
        if match:
            pins[canonical(match.group(1))] = match.group(2)
    return pins


def course_requirements() -> tuple[list[str], dict[str, list[str]]]:
    """Return the core requirement names and ``{extra: names}`` from pyproject.toml."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def name(requirement: str) -> str:
        return canonical(re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0))

    core = [name(r) for r in project["dependencies"]]
    extras = {
        extra: [name(r) for r in requirements]
        for extra, requirements in project.get("optional-dependencies", {}).items()
    }
    return core, extras


def find_python313() -> str:
    """Return a Python 3.13 interpreter: PNEUMO_COLAB_PYTHON, python3.13 on PATH, or pyenv's."""
    candidates = [os.environ.get("PNEUMO_COLAB_PYTHON", ""), shutil.which("python3.13") or ""]
    candidates += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.13*/bin/python3.13"))
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 13))"],
            capture_output=True,
            text=True,
        )
        if probe.stdout.strip() == "True":
            return candidate
    raise RuntimeError(
        "The Colab rehearsal needs Python 3.13 (Colab's version) and found none: install it "
        "(e.g. `pyenv install 3.13`) or set PNEUMO_COLAB_PYTHON to its path."
    )


def _pip(python: Path, *arguments: str) -> None:
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *arguments],
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise RuntimeError(f"pip install {' '.join(arguments)} failed:\n{result.stderr[-3000:]}")


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def installed(python: Path) -> dict[str, str]:
    """Return ``{canonical name: version}`` of the distributions in ``python``'s environment."""
    script = (
        "import json, re; from importlib import metadata; "
        "print(json.dumps({re.sub(r'[-_.]+', '-', d.metadata['Name']).lower(): d.version "
        "for d in metadata.distributions() if d.metadata['Name']}))"
    )
    out = subprocess.run(
        [str(python), "-I", "-c", script], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def colab_packages() -> list[str]:
    """Return ``name==version`` for every package a chapter touches that Colab ships.

    That is the course's core requirements, the kernel, and every package that Colab ships
    among the dependencies of the extras (which the setup cells install themselves, so
    that the rehearsal sees them move Colab's packages, or not).
    """
    from pneumo_helpers import colab

    pins = colab_pins()
    core, extras = course_requirements()
    touched = set(core) | set(KERNEL_PACKAGES) | {"google-colab"}
    touched |= colab.dependency_closure([n for names in extras.values() for n in names])
    touched |= colab.dependency_closure(core)
    return sorted(f"{name}=={pins[name]}" for name in touched if name in pins)


def build_colab_venv(venv: Path = REHEARSAL_DIR / "colab-venv") -> Path:
    """Build (or reuse) the Colab-like 3.13 environment; return its Python."""
    packages = colab_packages()
    pins = colab_pins()
    key = hashlib.sha256("\n".join([*packages, COLAB_FREEZE.read_text()]).encode()).hexdigest()
    stamp = venv / ".rehearsal-stamp"
    python = venv_python(venv)
    if stamp.is_file() and stamp.read_text() == key and python.exists():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([find_python313(), "-m", "venv", str(venv)], check=True)
    constraints = venv / "colab-constraints.txt"
    constraints.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())))
    wanted = [p for p in packages if not p.startswith("google-colab==")]
    _pip(python, "--constraint", str(constraints), *wanted)
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    stub = site / "google" / "colab"
    stub.mkdir(parents=True, exist_ok=True)
    (stub / "__init__.py").write_text(
        '"""Stand-in for Colab\'s google.colab module (the course\'s Colab rehearsal)."""\n'
    )
    stamp.write_text(key)
    return python


def snapshot_checkout(destination: Path) -> Path:
    """Commit the working tree (tracked and untracked, not ignored) into a fresh git repo."""
    shutil.rmtree(destination, ignore_errors=True)
    destination.mkdir(parents=True)
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard", "-z"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    for relative in filter(None, listed.split("\0")):
        source = ROOT / relative
        if source.is_file():
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git = [
        "git",
        "-C",
        str(destination),
        "-c",
        "user.name=rehearsal",
        "-c",
        "user.email=r@localhost",
    ]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "rehearsal snapshot"], check=True)
    return destination


def repository_url() -> str:
    import yaml

    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


def data_dir() -> Path:
    configured = os.environ.get("PNEUMO_DATA_DIR", "").strip()
    return Path(configured).resolve() if configured else ROOT / "data"


@dataclass
class Outcome:
    """What happened to one notebook: ok, or the cell that failed and why."""

    notebook: str
    ok: bool
    seconds: float
    cell: int | None = None
    source: str = ""
    error: str = ""
    outputs: str = ""
    setup_output: str = ""
    first_output: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"{self.notebook}: every cell ran ({self.seconds:.0f} s)"
        return (
            f"{self.notebook}: code cell {self.cell} failed ({self.error})\n"
            f"--- the cell begins:\n{self.source}\n--- its output ends:\n{self.outputs}"
        )


def run_notebook(
    notebook: Path, python: Path, workdir: Path, env: dict[str, str], timeout: int = 1800
) -> Outcome:
    """Execute a copy of ``notebook`` in ``workdir`` with ``python``'s kernel."""
    workdir.mkdir(parents=True, exist_ok=True)
    copy = workdir / notebook.name
    shutil.copyfile(notebook, copy)
    report = workdir / f"{notebook.stem}.outcome.json"
    full_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    full_env.update(env)
    full_env["PATH"] = f"{python.parent}{os.pathsep}{full_env.get('PATH', '')}"
    subprocess.run(
        [str(python), str(RUNNER), str(copy), str(report), str(timeout)],
        cwd=workdir,
        env=full_env,
        timeout=timeout + 120,
        check=False,
    )
    if not report.is_file():
        return Outcome(notebook.name, False, 0.0, error="the runner wrote no report")
    return Outcome(**{**json.loads(report.read_text()), "notebook": notebook.name})


def restore(python: Path, base: dict[str, str]) -> list[str]:
    """Put ``python``'s environment back to ``base``: remove what was added, undo moves."""
    now = installed(python)
    added = sorted(set(now) - set(base))
    moved = sorted(name for name in base if name in now and now[name] != base[name])
    if added:
        subprocess.run(
            [str(python), "-m", "pip", "uninstall", "-y", "-q", *added],
            capture_output=True,
            check=True,
        )
    if moved:
        _pip(python, "--no-deps", *(f"{name}=={base[name]}" for name in moved))
    return added + moved


def colab_env(snapshot: Path, home: Path, results: Path) -> dict[str, str]:
    """Return the environment of a rehearsed Colab kernel."""
    ipython_dir = home / "ipython"
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-colab.py").write_text("import google.colab  # as Colab's kernel does\n")
    return {
        "HOME": str(home),
        "IPYTHONDIR": str(ipython_dir),
        "PNEUMO_REHEARSAL": "1",
        "PNEUMO_PROFILE": "quick",
        "PNEUMO_DATA_DIR": str(data_dir()),
        "PNEUMO_RESULTS_DIR": str(results),
        "PIP_CACHE_DIR": str(Path.home() / ".cache" / "pip"),
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.file://{snapshot}.insteadOf",
        "GIT_CONFIG_VALUE_0": repository_url(),
        "MPLBACKEND": "agg",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }


def full_profile_data(folder: Path) -> Path:
    """Return a data folder with the 28 px file and a labelled 128 px stand-in beside it."""
    source = data_dir() / "pneumoniamnist.npz"
    target = folder / "pneumoniamnist.npz"
    folder.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        target.symlink_to(source)
    stand_in = folder / "pneumoniamnist_128.npz"
    if not stand_in.exists():
        from pneumo_helpers import data

        data.make_stand_in(128, source, folder)
    return folder


if __name__ == "__main__":  # pragma: no cover - a manual entry point
    print(build_colab_venv())
    sys.exit(0)
