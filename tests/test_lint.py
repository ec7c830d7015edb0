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
