"""Every chapter runs top to bottom on the full profile's code path, on stand-in data.

The full profile (128 px, the branches only it takes: pretrained ViT, larger models) needs
a GPU and the 128 px file, neither of which this machine has. Each chapter runs here with
PNEUMO_PROFILE=full on a clearly labelled 128 px stand-in resized from the 28 px images,
with budgets shrunk to a few steps (PNEUMO_REHEARSAL=1): the structure is asserted, the
quality floors are not.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import rehearsal

pytestmark = pytest.mark.rehearsal


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    return rehearsal.full_profile_data(tmp_path_factory.mktemp("full-profile-data"))


@pytest.mark.parametrize("notebook", rehearsal.NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_runs_on_the_full_profile(notebook, stand_in, tmp_path):
    env = {
        "PNEUMO_PROFILE": "full",
        "PNEUMO_REHEARSAL": "1",
        "PNEUMO_DATA_DIR": str(stand_in),
        "PNEUMO_RESULTS_DIR": str(tmp_path / "results"),
        "MPLBACKEND": "agg",
    }
    python = Path(sys.executable)
    outcome = rehearsal.run_notebook(notebook, python, tmp_path / "run", env)
    assert outcome.ok, f"On the full profile, {outcome.describe()}"
    if re.match(r"\d\d_", notebook.name):
        assert "Profile 'full' (PNEUMO_PROFILE=full): 128 px" in outcome.first_output, (
            f"{notebook.name}: the first output must say which profile runs and why; "
            f"it was {outcome.first_output[:300]!r}"
        )
