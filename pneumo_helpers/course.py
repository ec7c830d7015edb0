"""Course maintenance commands for instructors: ``python -m pneumo_helpers.course ...``.

``set-repo URL``
    Point a fork of the course at its own repository. The URL is written to the one
    source of truth, ``repository.url`` in ``_config.yml``, and copied to the places that
    must agree with it: ``pneumo_helpers.REPOSITORY_URL``, the Colab setup cell of every
    chapter, and the Colab links in ``README.md``.
``check-repo``
    Report every place that disagrees with ``_config.yml`` (exit status 1 if any).
``chapter-times``
    Record how long each chapter took to execute, read from the book's execution cache
    (filled by ``make test``), in ``benchmarks/chapter_times.json`` for the instructor guide.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Where an installed (not editable) package keeps the course files (see setup.py).
PACKAGED_FILES = Path(__file__).resolve().parent / "_course"

GITHUB_URL = re.compile(
    r"^https://github\.com/(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+)$"
)
CONFIG_URL = re.compile(r"(?m)^(repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+url:[ \t]*)(\S+)[ \t]*$")
PACKAGE_URL = re.compile(r'(?m)^(REPOSITORY_URL = ")([^"]*)(")')
SETUP_CELL_URL = re.compile(r'(REPOSITORY_URL = ")([^"]*)(")')
COLAB_LINK = re.compile(r"(https://colab\.research\.google\.com/github/)([^/\s]+/[^/\s]+)(/blob/)")


class CourseError(ValueError):
    """A course maintenance command was given something it cannot use."""


def normalise_repository_url(url: str) -> str:
    """Return ``https://github.com/OWNER/NAME`` for a GitHub repository URL, or raise.

    A trailing slash or ``.git`` is dropped; anything that is not a GitHub repository
    address raises :class:`CourseError` saying what is expected.
    """
    cleaned = url.strip().rstrip("/")
    cleaned = cleaned.removesuffix(".git")
    if cleaned.startswith("http://github.com/"):
        cleaned = "https://" + cleaned[len("http://") :]
    if not GITHUB_URL.match(cleaned):
        raise CourseError(
            f"{url!r} is not a GitHub repository URL. Give the address of your fork as "
            "https://github.com/OWNER/NAME (Colab opens notebooks from GitHub)."
        )
    return cleaned


def configured_url(root: Path = ROOT) -> str:
    """Return ``repository.url`` from ``_config.yml`` (the single source of truth)."""
    path = root / "_config.yml"
    match = CONFIG_URL.search(path.read_text(encoding="utf-8"))
    if not match:
        raise CourseError(f"{path} has no repository.url entry: add one under 'repository:'.")
    return match.group(2)


def notebooks(root: Path = ROOT) -> list[Path]:
    """Return the chapter notebooks."""
    return sorted((root / "chapters").glob("*.ipynb"))


@dataclass
class RepoReport:
    """Where the repository URL appears and what each place says."""

    expected: str
    places: dict[str, list[str]] = field(default_factory=dict)

    @property
    def mismatches(self) -> dict[str, list[str]]:
        """Places whose URL differs from the expected one (or that have none)."""
        return {
            place: urls
            for place, urls in self.places.items()
            if not urls or any(url != self.expected for url in urls)
        }


def _colab_repo(url: str) -> str:
    match = GITHUB_URL.match(url)
    return f"{match['owner']}/{match['name']}" if match else url


def check_repo(root: Path = ROOT) -> RepoReport:
    """Collect the repository URL from every place that must agree with ``_config.yml``."""
    import nbformat

    expected = configured_url(root)
    report = RepoReport(expected)
    package = root / "pneumo_helpers" / "__init__.py"
    report.places[str(package.relative_to(root))] = [
        m.group(2) for m in PACKAGE_URL.finditer(package.read_text(encoding="utf-8"))
    ]
    for path in notebooks(root):
        cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        first = cells[0].source if cells else ""
        found = [m.group(2) for m in SETUP_CELL_URL.finditer(first)]
        report.places[str(path.relative_to(root))] = found
    readme = root / "README.md"
    if readme.exists():
        repos = [m.group(2) for m in COLAB_LINK.finditer(readme.read_text(encoding="utf-8"))]
        prefix = "https://github.com/"
        report.places["README.md"] = [prefix + repo for repo in repos]
    return report


def set_repo(url: str, root: Path = ROOT) -> list[Path]:
    """Point the course at repository ``url``; return the files that changed.

    Raises:
        CourseError: ``url`` is not a GitHub repository URL, or a file lacks the place
            where the URL belongs (so nothing would silently stay behind).
    """
    import nbformat

    url = normalise_repository_url(url)
    changed: list[Path] = []

    def rewrite(path: Path, pattern: re.Pattern, replacement: str, what: str) -> None:
        text = path.read_text(encoding="utf-8")
        new, count = pattern.subn(replacement, text)
        if count == 0:
            raise CourseError(f"{path}: found no {what} to update; restore it from the course.")
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)

    rewrite(root / "_config.yml", CONFIG_URL, rf"\g<1>{url}", "repository.url")
    rewrite(
        root / "pneumo_helpers" / "__init__.py", PACKAGE_URL, rf"\g<1>{url}\g<3>", "REPOSITORY_URL"
    )
    for path in notebooks(root):
        nb = nbformat.read(path, as_version=4)
        cells = [c for c in nb.cells if c.cell_type == "code"]
        if not cells or not SETUP_CELL_URL.search(cells[0].source):
            raise CourseError(
                f"{path}: the first code cell is not the Colab setup cell with a "
                "REPOSITORY_URL line; copy it from another chapter."
            )
        new = SETUP_CELL_URL.sub(rf"\g<1>{url}\g<3>", cells[0].source)
        if new != cells[0].source:
            cells[0].source = new
            nbformat.write(nb, path)
            changed.append(path)
    readme = root / "README.md"
    if readme.exists() and COLAB_LINK.search(readme.read_text(encoding="utf-8")):
        rewrite(readme, COLAB_LINK, rf"\g<1>{_colab_repo(url)}\g<3>", "Colab link")
    return changed


def chapter_times(
    profile: str, root: Path = ROOT, out: Path | None = None, machine: str | None = None
) -> dict:
    """Record each chapter's execution seconds from the book's execution cache.

    ``make test`` and ``make times`` put every chapter they executed into
    ``_build/.jupyter_cache`` with its execution time; this copies each chapter's newest
    time into ``benchmarks/chapter_times.json`` under ``profile``, next to the times already
    recorded for other profiles. ``make times`` runs the chapters one at a time, as a timing
    needs; ``make test`` runs two at once, so its times are those of a shared CPU.

    Raises:
        CourseError: the cache is missing or holds no executed chapter.
    """
    try:
        from jupyter_cache import get_cache
    except ImportError as error:
        raise CourseError(
            "chapter-times reads the book's execution cache and needs jupyter-cache, which "
            "the course's requirements install: run `make install` first."
        ) from error

    cache_dir = root / "_build" / ".jupyter_cache"
    if not cache_dir.exists():
        raise CourseError(f"{cache_dir} does not exist: run `make test` first to execute chapters.")
    cache = get_cache(str(cache_dir))
    seconds: dict[str, float] = {}
    # The cache keeps one record per version of a chapter's code: take each chapter's newest.
    for record in sorted(cache.list_cache_records(), key=lambda record: record.created):
        path = Path(record.uri)
        value = (record.data or {}).get("execution_seconds")
        if path.suffix == ".ipynb" and value is not None:
            seconds[path.stem] = round(float(value), 1)
    if not seconds:
        raise CourseError(f"{cache_dir} holds no executed chapter: run `make test` first.")
    out = out or root / "benchmarks" / "chapter_times.json"
    table = json.loads(out.read_text()) if out.exists() else {}
    table[profile] = {
        "machine": machine or "2-core CPU, no GPU (the course's CI machine)",
        "seconds": dict(sorted(seconds.items())),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(table, indent=2) + "\n")
    return table


def repository_file(relative: str, root: Path = ROOT) -> str:
    """Return the text of a file of the course, e.g. ``benchmarks/results.json``.

    Read from the checkout when the course runs from one; otherwise from the copy that
    the installed package carries (``pneumo_helpers/_course``, written by ``setup.py`` when
    the package is built, e.g. by a chapter's Colab setup cell), so that no page needs the
    network or a published repository.

    Raises:
        CourseError: the file is neither in the checkout nor in the installed package.
    """
    for folder in (root, PACKAGED_FILES):
        path = folder / relative
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise CourseError(
        f"{relative} is neither in a checkout of the course nor in the installed package "
        f"({PACKAGED_FILES}). Install the course with its chapter's first cell (which builds "
        "the package with these files), or run from a clone of the repository."
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m pneumo_helpers.course", description="Course maintenance for instructors."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    setter = commands.add_parser("set-repo", help="point the course at your fork")
    setter.add_argument("url", help="https://github.com/OWNER/NAME")
    commands.add_parser("check-repo", help="list places that disagree with _config.yml")
    timer = commands.add_parser("chapter-times", help="record chapter execution times")
    timer.add_argument("--profile", default=None, help="profile the chapters ran with")
    timer.add_argument("--machine", default=None, help="describe the machine")
    args = parser.parse_args(argv)
    try:
        if args.command == "set-repo":
            changed = set_repo(args.url)
            url = configured_url()
            for path in changed:
                print(f"updated {path.relative_to(ROOT)}")
            print(f"The course now points at {url} ({len(changed)} files changed).")
            return 0
        if args.command == "check-repo":
            report = check_repo()
            for place, urls in report.mismatches.items():
                print(f"{place}: {urls or 'no URL'} (expected {report.expected})")
            print("All places agree." if not report.mismatches else "Run set-repo to fix them.")
            return 1 if report.mismatches else 0
        if args.command == "chapter-times":
            from . import config

            profile = args.profile or config.profile().name
            table = chapter_times(profile, machine=args.machine)
            for name, value in table[profile]["seconds"].items():
                print(f"{name}: {value:.0f} s")
            return 0
    except CourseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
