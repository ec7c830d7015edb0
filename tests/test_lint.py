"""ruff lints and format-checks the whole repository (package, tests, benchmarks, chapters)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True
    )


def test_ruff_check_passes():
    result = run_ruff("check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean():
    result = run_ruff("format", "--check", ".")
    assert result.returncode == 0, "run `make format`:\n" + result.stdout + result.stderr


def test_docstrings_use_one_style():
    """Google style (``Args:``, ``Returns:``, ``Raises:``), as most of the package: no NumPy
    sections underlined with dashes."""
    import re

    underlined = re.compile(
        r"^\s*(Parameters|Returns|Raises|Attributes|Yields)\n\s*-{3,}\s*$", re.M
    )
    offenders = [
        path.relative_to(ROOT).as_posix()
        for path in sorted((ROOT / "pneumo_helpers").rglob("*.py"))
        if underlined.search(path.read_text())
    ]
    assert not offenders, f"NumPy-style docstring sections in {offenders}: use Args:/Returns:"


def test_every_subpackage_is_in_the_distribution():
    """Colab installs with pip from git: a sub-package missing from pyproject is missing there."""
    import ast
    import re

    # pyproject's one-line packages list (tomllib is not in Python 3.10's standard library).
    line = re.search(r"^packages\s*=\s*(\[.*\])$", (ROOT / "pyproject.toml").read_text(), re.M)
    listed = set(ast.literal_eval(line.group(1)))
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "pneumo_helpers").rglob("__init__.py")
    }
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages"
