"""Colab setup: install what a chapter needs, and leave Colab's TensorFlow as it is.

Every chapter's first cell installs this package on Colab (without its dependencies)
and then calls :func:`install` with the chapter's *extras*, e.g. ``install("federated")``.
:func:`install` reads the requirements this package declares (``pyproject.toml``: the
core ones, plus those of the extras asked for), installs only those that the runtime does
not already satisfy, and keeps every package Colab ships at its version where pip can
(a constraints file). Where a requirement forces one of Colab's packages to move, it
says so in its one line of output; it never moves the packages Colab's TensorFlow is
built against (:data:`PROTECTED`): if that were the only way, it stops with a sentence
saying why, instead of breaking TensorFlow silently.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "pneumo-helpers"

#: Packages that Colab's TensorFlow is built against: the setup never moves them.
PROTECTED = (
    "tensorflow",
    "keras",
    "tensorboard",
    "numpy",
    "protobuf",
    "ml-dtypes",
    "jax",
    "jaxlib",
)

#: What each extra is for (``pyproject.toml`` lists their requirements).
EXTRAS = {
    "fairness": "chapter 7 (fairlearn's MetricFrame)",
    "federated": "chapter 8 (Flower and its Ray simulation engine)",
    "privacy": "chapter 11 (pydicom, dicognito and dp-accounting)",
    "vit": "chapter 5's pretrained ViT (KerasHub)",
    "edge": "chapter 10 (the LiteRT interpreter, ONNX export and ONNX Runtime)",
    "oversight": "chapter 12 (MAPIE, the cross-check of the conformal prediction sets)",
    "service": "chapter 14 (FastAPI, uvicorn, httpx, multipart, fhir.resources, pydicom, Ray)",
}

#: Requirements installed without their own dependencies, and why. Each one's declared pins
#: are stale and would move Colab's packages; what it imports at run time is declared beside
#: it in its extra, at versions Colab has (tests/test_privacy.py runs it with them).
WITHOUT_DEPENDENCIES = {
    "dp-accounting": "its pin attrs<24 would move Colab's attrs 26.1.0; its accountants "
    "import only attrs, absl-py, numpy and scipy, and work with attrs 26",
}

_OFFLINE = re.compile(
    r"NewConnectionError|Failed to establish a new connection|Temporary failure in name "
    r"resolution|Name or service not known|Network is unreachable|ConnectTimeout|"
    r"Could not resolve host|Connection refused|ProxyError",
    re.IGNORECASE,
)


class SetupError(RuntimeError):
    """The setup cell could not install what the chapter needs; the message says what to do."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"Setup failed: {self}"]


def canonical(name: str) -> str:
    """Return a distribution name in its canonical form (``ML_Dtypes`` -> ``ml-dtypes``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_versions() -> dict[str, str]:
    """Return ``{canonical name: version}`` of every distribution this Python can import."""
    versions: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            versions.setdefault(canonical(name), dist.version)
    return versions


def requirements(*extras: str) -> list:
    """Return this package's requirements (``packaging`` objects) for the given extras.

    Raises:
        SetupError: an extra is unknown, or the package's metadata cannot be read.
    """
    from packaging.requirements import Requirement

    unknown = sorted(set(extras) - set(EXTRAS))
    if unknown:
        raise SetupError(f"unknown extra(s) {unknown}: the course has {sorted(EXTRAS)}.")
    try:
        declared = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError as error:
        raise SetupError(
            f"{DISTRIBUTION} is not installed, so its requirements cannot be read. Run the "
            "chapter's first cell, which installs it."
        ) from error
    chosen = []
    for line in declared:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": extra}) for extra in ("", *extras)):
            chosen.append(requirement)
    return chosen


def dependency_closure(requirement_list) -> set[str]:
    """Return the canonical names of the requirements and all they depend on, as installed.

    Args:
        requirement_list: ``packaging`` requirements, or plain names; extras are followed
            (``flwr[simulation]`` brings Ray).
    """
    from packaging.requirements import Requirement

    todo = [r if isinstance(r, Requirement) else Requirement(str(r)) for r in requirement_list]
    todo_keys = [(canonical(r.name), tuple(sorted(r.extras))) for r in todo]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while todo_keys:
        name, extras = todo_keys.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            declared = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for line in declared:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": e}) for e in ("", *extras)):
                todo_keys.append((canonical(requirement.name), tuple(sorted(requirement.extras))))
    return {name for name, _ in seen}


def unmet(requirement_list, versions: dict[str, str] | None = None) -> list[str]:
    """Return the requirements (as strings) that the installed versions do not satisfy."""
    versions = installed_versions() if versions is None else versions
    missing = []
    for requirement in requirement_list:
        version = versions.get(canonical(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            missing.append(str(requirement).split(";")[0].strip())
    return missing


def _pip(arguments: list[str], constraints: dict[str, str]) -> subprocess.CompletedProcess:
    from packaging.version import InvalidVersion, Version

    def pin(name: str, version: str) -> str:
        try:
            Version(version)
        except InvalidVersion:
            return ""
        return f"{name}=={version}\n"

    with tempfile.TemporaryDirectory() as folder:
        pins = Path(folder) / "keep.txt"
        pins.write_text("".join(pin(name, version) for name, version in constraints.items()))
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--retries", "2"]
        return subprocess.run(
            [*command, "--constraint", str(pins), *arguments], capture_output=True, text=True
        )


def _last_error(result: subprocess.CompletedProcess) -> str:
    lines = [line.strip() for line in (result.stderr or result.stdout).splitlines()]
    errors = [line for line in lines if line.startswith("ERROR")] or [
        line for line in lines if line
    ]
    return errors[-1] if errors else f"pip exited with status {result.returncode}"


def _check(result: subprocess.CompletedProcess, what: str) -> None:
    if result.returncode == 0:
        return
    output = f"{result.stdout}\n{result.stderr}"
    if _OFFLINE.search(output):
        raise SetupError(
            f"could not reach the Python package index to install {what}: this runtime seems "
            "to be offline. Connect it to the internet (on Colab: Runtime > Disconnect and "
            "delete runtime, then run the cell again), or install the course locally with "
            "`make lab`."
        )
    raise SetupError(f"pip could not install {what}: {_last_error(result)}")


def _moves(before: dict[str, str], after: dict[str, str]) -> dict[str, tuple[str, str]]:
    return {
        name: (before[name], after[name])
        for name in before
        if name in after and after[name] != before[name]
    }


def install(*extras: str, quiet: bool = False) -> str:
    """Install this chapter's unmet requirements; print and return one line saying what it did.

    First every installed package is held at its version; if pip cannot satisfy the
    requirements that way, only :data:`PROTECTED` are held and the line names the packages
    that moved. If even that fails, nothing is forced. A requirement named in
    :data:`WITHOUT_DEPENDENCIES` is installed alone (``pip --no-deps``), after the others.

    Args:
        extras: the chapter's extras, e.g. ``"federated"`` (see :data:`EXTRAS`).
        quiet: return the line without printing it.

    Raises:
        SetupError: offline, an unknown extra, or requirements that would move a protected
            package; the message says what to do.
    """
    extras = tuple(extra for extra in extras if extra)
    wanted = requirements(*extras)
    before = installed_versions()
    todo = unmet(wanted, before)
    loose = [r for r in todo if canonical(re.split(r"[<>=!~;\[ ]", r)[0]) in WITHOUT_DEPENDENCIES]
    todo = [r for r in todo if r not in loose]
    label = f"{DISTRIBUTION} {before.get(DISTRIBUTION, '?')}" + (
        f" [{','.join(extras)}]" if extras else ""
    )
    if not todo and not loose:
        line = f"Colab setup: {label} ready; everything else this chapter needs was installed."
    else:
        held = "every installed package held at its version"
        if todo:
            result = _pip(todo, before)
            if result.returncode != 0 and not _OFFLINE.search(result.stdout + result.stderr):
                protected = {name: before[name] for name in PROTECTED if name in before}
                result = _pip(todo, protected)
                held = "TensorFlow's " + ", ".join(sorted(protected)) + " held"
                if result.returncode != 0 and not _OFFLINE.search(result.stdout + result.stderr):
                    raise SetupError(
                        f"{', '.join(todo)} cannot be installed without moving "
                        f"{', '.join(sorted(protected))}, which Colab's TensorFlow needs as "
                        f"they are; nothing was changed. pip said: {_last_error(result)}"
                    )
            _check(result, ", ".join(todo))
        if loose:  # stale pins: the package alone (WITHOUT_DEPENDENCIES says why)
            _check(_pip(["--no-deps", *loose], before), ", ".join(loose))
            held += f"; {', '.join(loose)} without its own pins"
        after = installed_versions()
        added = sorted(set(after) - set(before))
        moved = _moves(before, after)
        count = f"{len(added)} package{'s' if len(added) != 1 else ''}"
        line = f"Colab setup: {label} ready; installed {count} it needs ({held})"
        if moved:
            shifts = ", ".join(f"{name} {old}->{new}" for name, (old, new) in sorted(moved.items()))
            line += f"; moved {len(moved)} of Colab's packages to fit: {shifts}"
        line += "."
    if not quiet:
        print(line)
    return line
