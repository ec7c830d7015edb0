"""Pytest plugin of the course: share one notebook execution between nbval and the book.

``make test`` runs every chapter under ``pytest --nbval-lax``. When every cell of a
notebook has passed, this plugin writes the notebook, with the outputs nbval received,
into Jupyter Book's execution cache (``_build/.jupyter_cache``). The book build that
follows (``execute_notebooks: cache``) then finds each chapter already executed and
renders those outputs, including the glued numbers, instead of running it again.
A notebook with a failed or skipped cell is not cached, so the build would execute it
itself (and fail loudly with ``raise_on_error``).
"""

from __future__ import annotations

import fcntl
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
CACHE_DIR = ROOT / "_build" / ".jupyter_cache"

_started: dict[str, float] = {}
_failed: set[str] = set()


def _is_nbval_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "test_outputs")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if not _is_nbval_cell(item):
        return
    report = outcome.get_result()
    key = str(item.parent.path)
    _started.setdefault(key, time.perf_counter())
    if report.failed or report.skipped:
        _failed.add(key)
    if call.when == "call" and report.passed:
        item.cell.outputs = list(item.test_outputs or [])
        item.cell.execution_count = item.cell_num + 1
        for output in item.cell.outputs:
            if output.get("output_type") == "execute_result":
                output["execution_count"] = item.cell_num + 1


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    yield
    if not _is_nbval_cell(item):
        return
    if nextitem is not None and nextitem.parent is item.parent:
        return
    key = str(item.parent.path)
    if key in _failed or item.config.getoption("nbval_lax", False) is False:
        return
    _cache_executed_notebook(item.parent, time.perf_counter() - _started.get(key, 0.0))


def _cache_executed_notebook(notebook_file, seconds: float) -> None:
    """Store the executed notebook in the book's jupyter-cache (serialised by a lock)."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR.parent / ".jupyter_cache.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cache = get_cache(str(CACHE_DIR))
        cache.cache_notebook_bundle(
            CacheBundleIn(
                notebook_file.nb,
                str(notebook_file.path),
                data={"execution_seconds": seconds},
            ),
            check_validity=True,
            overwrite=True,
        )
