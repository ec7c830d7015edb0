"""The instructor commands: pointing a fork at its repository, recording chapter times."""

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from pneumo_helpers import course

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fork(tmp_path):
    """A copy of the files set-repo touches, as in a fresh fork."""
    for name in ("_config.yml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "pneumo_helpers").mkdir()
    shutil.copy(ROOT / "pneumo_helpers" / "__init__.py", tmp_path / "pneumo_helpers")
    shutil.copytree(ROOT / "chapters", tmp_path / "chapters", ignore=shutil.ignore_patterns("*.md"))
    return tmp_path


def test_the_repository_agrees_with_its_config():
    report = course.check_repo(ROOT)
    assert report.expected.startswith("https://github.com/")
    assert len(report.places) >= 3
    assert report.mismatches == {}


def test_set_repo_updates_every_place(fork):
    changed = course.set_repo("https://github.com/teacher/pneumo-fork.git/", fork)
    url = "https://github.com/teacher/pneumo-fork"
    assert course.configured_url(fork) == url
    report = course.check_repo(fork)
    assert report.expected == url and report.mismatches == {}
    names = {path.name for path in changed}
    assert {"_config.yml", "__init__.py", "README.md"} <= names
    assert {p.name for p in (fork / "chapters").glob("*.ipynb")} <= names
    readme = (fork / "README.md").read_text()
    assert "colab.research.google.com/github/teacher/pneumo-fork/blob/" in readme
    # Nothing else in the notebooks changed: same cells, same sources but the URL line.
    for path in (fork / "chapters").glob("*.ipynb"):
        before = nbformat.read(ROOT / "chapters" / path.name, as_version=4)
        after = nbformat.read(path, as_version=4)
        assert len(before.cells) == len(after.cells)
        differing = [
            i for i, (a, b) in enumerate(zip(before.cells, after.cells, strict=True)) if a != b
        ]
        assert len(differing) <= 1


def test_set_repo_twice_changes_nothing_the_second_time(fork):
    course.set_repo("https://github.com/teacher/pneumo-fork", fork)
    assert course.set_repo("https://github.com/teacher/pneumo-fork", fork) == []


def test_check_repo_finds_a_notebook_left_behind(fork):
    course.set_repo("https://github.com/teacher/pneumo-fork", fork)
    path = sorted((fork / "chapters").glob("*.ipynb"))[0]
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    first.source = first.source.replace("teacher/pneumo-fork", "someone/else")
    nbformat.write(nb, path)
    mismatches = course.check_repo(fork).mismatches
    assert list(mismatches) == [f"chapters/{path.name}"]


@pytest.mark.parametrize(
    "url", ["github.com/me/fork", "https://gitlab.com/me/fork", "https://github.com/me", ""]
)
def test_set_repo_rejects_what_is_not_a_github_repository(fork, url):
    before = (fork / "_config.yml").read_text()
    with pytest.raises(course.CourseError, match="https://github.com/OWNER/NAME"):
        course.set_repo(url, fork)
    assert (fork / "_config.yml").read_text() == before


def test_set_repo_refuses_a_notebook_without_the_setup_cell(fork):
    path = sorted((fork / "chapters").glob("*.ipynb"))[0]
    nb = nbformat.read(path, as_version=4)
    next(c for c in nb.cells if c.cell_type == "code").source = "print('no setup')"
    nbformat.write(nb, path)
    with pytest.raises(course.CourseError, match="setup cell"):
        course.set_repo("https://github.com/teacher/pneumo-fork", fork)


def test_command_line_reports_a_bad_url_without_a_traceback(capsys):
    assert course.main(["set-repo", "not a url"]) == 2
    assert "is not a GitHub repository URL" in capsys.readouterr().err


def test_chapter_times_come_from_the_execution_cache(tmp_path):
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    nb.cells[0].outputs = []
    nb.cells[0].execution_count = 1
    chapter = tmp_path / "chapters" / "09_example.ipynb"
    chapter.parent.mkdir()
    nbformat.write(nb, chapter)
    cache = get_cache(str(tmp_path / "_build" / ".jupyter_cache"))
    cache.cache_notebook_bundle(
        CacheBundleIn(nb, str(chapter), data={"execution_seconds": 12.34}), check_validity=False
    )
    out = tmp_path / "times.json"
    out.write_text(json.dumps({"full": {"machine": "GPU", "seconds": {"09_example": 3.0}}}))
    table = course.chapter_times("quick", root=tmp_path, out=out)
    assert table["quick"]["seconds"] == {"09_example": 12.3}
    assert json.loads(out.read_text())["full"]["seconds"] == {"09_example": 3.0}


def test_chapter_times_take_each_chapters_newest_execution(tmp_path):
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    chapter = tmp_path / "chapters" / "09_example.ipynb"
    chapter.parent.mkdir()
    cache = get_cache(str(tmp_path / "_build" / ".jupyter_cache"))
    for code, seconds in (("1 + 1", 99.0), ("2 + 2", 41.0)):  # an edit, then a new run
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        nb.cells[0].outputs, nb.cells[0].execution_count = [], 1
        nbformat.write(nb, chapter)
        cache.cache_notebook_bundle(
            CacheBundleIn(nb, str(chapter), data={"execution_seconds": seconds}),
            check_validity=False,
        )
    assert len(cache.list_cache_records()) == 2  # the cache keeps both versions
    table = course.chapter_times("quick", root=tmp_path, out=tmp_path / "times.json")
    assert table["quick"]["seconds"] == {"09_example": 41.0}


def test_chapter_times_without_a_cache_says_what_to_do(tmp_path):
    with pytest.raises(course.CourseError, match="make test"):
        course.chapter_times("quick", root=tmp_path)


def test_repository_file_reads_the_checkout_first():
    text = course.repository_file("benchmarks/results.json")
    assert "auc" in json.loads(text)[next(iter(json.loads(text)))]


def test_repository_file_that_cannot_be_found_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(course, "PACKAGED_FILES", tmp_path / "packaged")
    with pytest.raises(course.CourseError, match="first cell"):
        course.repository_file("benchmarks/nothing.json", root=tmp_path)


def test_repository_file_falls_back_to_the_packaged_copy(tmp_path, monkeypatch):
    packaged = tmp_path / "packaged"
    (packaged / "benchmarks").mkdir(parents=True)
    (packaged / "benchmarks" / "results.json").write_text('{"m": {"auc": 1}}')
    monkeypatch.setattr(course, "PACKAGED_FILES", packaged)
    assert course.repository_file("benchmarks/results.json", root=tmp_path / "no-checkout")
