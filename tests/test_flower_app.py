"""Tests of the Flower app's configuration and partition plumbing (the runs are tested in
test_flower_deployment.py and by chapter 8's simulation)."""

from pathlib import Path

import numpy as np
import pytest

from pneumo_helpers import federated, flower_app

ROOT = Path(__file__).resolve().parents[1]


def test_run_config_layers_defaults_context_and_overrides():
    class Context:
        run_config = {"num-server-rounds": 5, "alpha": 0.1}

    settings = flower_app.run_config(Context(), {"alpha": 2.0})
    assert settings["num-server-rounds"] == 5
    assert settings["alpha"] == 2.0
    assert settings["local-epochs"] == flower_app.DEFAULTS["local-epochs"]
    with pytest.raises(federated.FederatedError, match="unknown run-config"):
        flower_app.run_config(None, {"rounds": 3})


def test_every_client_setting_is_a_known_key():
    assert set(flower_app.CLIENT_KEYS) <= set(flower_app.DEFAULTS)


@pytest.mark.parametrize("kind", ["iid", "non-iid", "quantity"])
def test_partition_indices_match_the_federated_helpers(kind):
    labels = (np.arange(200) % 4 != 0).astype(int)
    parts = flower_app.partition_indices(labels, 4, kind, alpha=0.5, min_size=5, seed=3)
    assert sorted(np.concatenate(parts).tolist()) == list(range(200))
    if kind == "non-iid":
        expected = federated.partition_non_iid(labels, 4, 0.5, seed=3, min_size=5)
        assert all(np.array_equal(a, b) for a, b in zip(parts, expected, strict=True))
    with pytest.raises(federated.FederatedError, match="partition must be"):
        flower_app.partition_indices(labels, 4, "by-hospital", 0.5, 1, 0)


def test_the_flower_project_names_the_app_objects_and_known_settings():
    import tomli  # a dependency of flwr; tomllib from Python 3.11
    from flwr.clientapp import ClientApp
    from flwr.serverapp import ServerApp

    project = tomli.loads((ROOT / "flower-app" / "pyproject.toml").read_text())
    app = project["tool"]["flwr"]["app"]
    assert app["components"] == {
        "serverapp": "pneumo_helpers.flower_app:server_app",
        "clientapp": "pneumo_helpers.flower_app:client_app",
    }
    assert isinstance(flower_app.client_app, ClientApp)
    assert isinstance(flower_app.server_app, ServerApp)
    assert set(app["config"]) <= set(flower_app.DEFAULTS)
