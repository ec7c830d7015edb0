"""Tests of the Colab setup (pneumo_helpers.colab) and of glue without myst-nb.

pip is replaced by a fake that records what it was asked and "installs" by editing the
fake list of installed versions, so every branch runs here in milliseconds. The real
thing runs in the Colab rehearsal (tests/rehearsal).
"""

from __future__ import annotations

import subprocess

import pytest
from packaging.requirements import Requirement

from pneumo_helpers import colab, notebook


def test_requirements_of_the_core_and_of_an_extra():
    core = {r.name for r in colab.requirements()}
    assert {"tensorflow", "numpy", "pandas", "ipython"} <= core
    assert "flwr" not in core and "fairlearn" not in core  # extras only
    federated = {r.name for r in colab.requirements("federated")}
    assert "flwr" in federated and "fairlearn" not in federated


def test_unknown_extra_is_refused_with_the_known_ones():
    with pytest.raises(colab.SetupError, match="unknown extra"):
        colab.requirements("federate")


def test_unmet_lists_missing_and_too_old_only():
    wanted = [Requirement("numpy>=1.26"), Requirement("fairlearn>=0.10,<1"), Requirement("a>=2")]
    assert colab.unmet(wanted, {"numpy": "2.1.3", "a": "1.0"}) == ["fairlearn<1,>=0.10", "a>=2"]


class FakePip:
    """Stands in for ``pip install``: fails while a held package would have to move."""

    def __init__(self, monkeypatch, installed, result, needs_move=None, offline=False):
        self.installed, self.result, self.calls = dict(installed), result, []
        self.needs_move, self.offline = needs_move or {}, offline
        monkeypatch.setattr(colab, "installed_versions", lambda: dict(self.installed))
        monkeypatch.setattr(colab, "_pip", self)

    def __call__(self, arguments, constraints):
        self.calls.append((list(arguments), dict(constraints)))
        if self.offline:
            return subprocess.CompletedProcess([], 1, "", "NewConnectionError: no route")
        for name, version in self.needs_move.items():
            if name in constraints and constraints[name] != version:
                return subprocess.CompletedProcess([], 1, "", "ERROR: ResolutionImpossible")
        self.installed.update(self.result)
        self.installed.update(self.needs_move)
        return subprocess.CompletedProcess([], 0, "", "")


BASE = {"pneumo-helpers": "0.2.0", "numpy": "2.1.3", "protobuf": "5.29.6", "typer": "0.27.1"}


@pytest.fixture
def wants_flower(monkeypatch):
    monkeypatch.setattr(
        colab, "requirements", lambda *extras: [Requirement("numpy>=1.26"), Requirement("flwr")]
    )


def test_nothing_to_do_installs_nothing(monkeypatch, capsys):
    monkeypatch.setattr(colab, "requirements", lambda *e: [Requirement("numpy>=1.26")])
    fake = FakePip(monkeypatch, BASE, {})
    line = colab.install()
    assert fake.calls == []
    assert (
        "everything else this chapter needs was installed" in line
        and capsys.readouterr().out.strip() == line
    )


def test_install_holds_every_installed_package_first(monkeypatch, wants_flower):
    fake = FakePip(monkeypatch, BASE, {"flwr": "1.42.0", "ray": "2.55.1"})
    line = colab.install("federated", quiet=True)
    ((arguments, held),) = fake.calls
    assert arguments == ["flwr"] and held == BASE
    assert "installed 2 packages it needs" in line and "moved" not in line


def test_a_forced_move_of_colabs_packages_is_said_in_the_line(monkeypatch, wants_flower):
    fake = FakePip(monkeypatch, BASE, {"flwr": "1.42.0"}, needs_move={"typer": "0.20.0"})
    line = colab.install("federated", quiet=True)
    assert len(fake.calls) == 2
    assert fake.calls[1][1] == {"numpy": "2.1.3", "protobuf": "5.29.6"}  # only TF's held
    assert "moved 1 of Colab's packages to fit: typer 0.27.1->0.20.0" in line
    assert line.count("\n") == 0


def test_a_move_of_tensorflows_pins_is_refused_and_nothing_forced(monkeypatch, wants_flower):
    fake = FakePip(monkeypatch, BASE, {"flwr": "1.42.0"}, needs_move={"protobuf": "6.33.6"})
    with pytest.raises(colab.SetupError, match="Colab's TensorFlow needs") as error:
        colab.install("federated")
    assert len(fake.calls) == 2 and fake.installed == BASE
    assert error.value._render_traceback_()[0].startswith("Setup failed:")


def test_offline_says_so_in_one_sentence(monkeypatch, wants_flower):
    FakePip(monkeypatch, BASE, {}, offline=True)
    with pytest.raises(colab.SetupError, match="offline") as error:
        colab.install("federated")
    assert "Traceback" not in str(error.value)


def test_glue_without_myst_nb_writes_myst_nbs_format(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: shown.append((a, k)))
    notebook._glue("auc", 0.5, display=False)
    (bundle,), options = shown[0]
    assert bundle == {"application/papermill.record/text/plain": "0.5"}
    assert options["metadata"]["scrapbook"] == {
        "name": "auc",
        "mime_prefix": notebook.GLUE_PREFIX,
    }
    assert options["raw"] is True


def test_glue_is_myst_nbs_when_it_is_installed():
    myst_nb = pytest.importorskip("myst_nb")
    assert notebook.glue is myst_nb.glue
