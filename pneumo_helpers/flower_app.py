"""The chapter's federation as a Flower app: the same model, partition and local training.

Two objects make a Flower app (flwr >= 1.20, message API):

* ``client_app`` (a :class:`flwr.clientapp.ClientApp`): runs at each hospital. It receives
  the global weights and a configuration, trains on *its own* partition with
  :class:`pneumo_helpers.federated.LocalTrainer`, and replies with its new weights and
  its number of examples.
* ``server_app`` (a :class:`flwr.serverapp.ServerApp`): runs Flower's ``FedAvg`` strategy
  for ``num-server-rounds`` rounds and evaluates every new global model on the test split
  (centralised evaluation). With ``result-path`` set it writes the per-round metrics to a
  JSON file.

Both run unchanged in Flower's simulation engine (one process, virtual SuperNodes; see
:func:`run_simulation`) and in its deployment engine (a SuperLink and one SuperNode per
hospital, each a separate process or machine; the Flower project in ``flower_app/`` of
the repository points at these two objects).

Each hospital finds its partition from its node configuration (``partition-id`` and
``num-partitions``, set by the simulation engine or by ``flower-supernode --node-config``)
and the partition settings the server sends it; in this course every node reads the
same PneumoniaMNIST file and keeps its own share, a stand-in for a hospital's own archive.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from . import federated

#: The run configuration and its defaults (``[tool.flwr.app.config]`` of the Flower project;
#: ``flwr run ... --run-config "num-server-rounds=5"`` overrides them).
DEFAULTS: dict[str, int | float | str] = {
    "num-server-rounds": 3,
    "num-clients": 2,
    "local-epochs": 1,
    "batch-size": 32,
    "learning-rate": 1e-3,
    "proximal-mu": 0.0,
    "partition": "non-iid",
    "alpha": 0.5,
    "min-size": 1,
    "seed": 42,
    "image-size": 28,
    "filters": "8,16,32",
    "result-path": "",
}

#: The settings the server forwards to every hospital with each training message.
CLIENT_KEYS = (
    "local-epochs",
    "batch-size",
    "learning-rate",
    "proximal-mu",
    "partition",
    "alpha",
    "min-size",
    "seed",
    "image-size",
    "filters",
)


def _filters(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in str(text).split(",") if part.strip())


def partition_indices(
    labels: np.ndarray, num_partitions: int, kind: str, alpha: float, min_size: int, seed: int
) -> list[np.ndarray]:
    """Return the partition the chapter uses: ``"iid"``, ``"non-iid"`` or ``"quantity"``."""
    if kind == "iid":
        return federated.partition_iid(labels, num_partitions, seed)
    if kind == "non-iid":
        return federated.partition_non_iid(labels, num_partitions, alpha, seed, min_size)
    if kind == "quantity":
        return federated.partition_quantity_skew(labels, num_partitions, alpha, seed, min_size)
    raise federated.FederatedError(
        f"partition must be 'iid', 'non-iid' or 'quantity', got {kind!r}."
    )


@lru_cache(maxsize=4)
def _dataset(image_size: int):
    from . import data

    return data.load_pneumoniamnist(size=image_size, progress=False)


@lru_cache(maxsize=16)
def _client_data(
    partition_id: int,
    num_partitions: int,
    kind: str,
    alpha: float,
    min_size: int,
    seed: int,
    image_size: int,
):
    images, labels = _dataset(image_size).train
    parts = partition_indices(labels, num_partitions, kind, alpha, min_size, seed)
    if not 0 <= partition_id < num_partitions:
        raise federated.FederatedError(
            f"partition-id {partition_id} is outside 0..{num_partitions - 1}: give each "
            "SuperNode --node-config 'partition-id=i num-partitions=n' with 0 <= i < n."
        )
    chosen = parts[partition_id]
    return images[chosen], labels[chosen]


@lru_cache(maxsize=4)
def _trainer(image_size: int, filters: tuple[int, ...], learning_rate: float):
    model = federated.build_federated_cnn((image_size, image_size, 1), filters=filters)
    return federated.LocalTrainer(model, learning_rate)


def _config_value(config, key: str):
    return config[key] if key in config else DEFAULTS[key]


client_app = ClientApp()


@client_app.train()
def train(msg: Message, context: Context) -> Message:
    """Train the received global model on this hospital's partition; reply with the weights."""
    config = msg.content["config"]
    partition_id = int(context.node_config["partition-id"])
    num_partitions = int(context.node_config["num-partitions"])
    seed = int(_config_value(config, "seed"))
    image_size = int(_config_value(config, "image-size"))
    images, labels = _client_data(
        partition_id,
        num_partitions,
        str(_config_value(config, "partition")),
        float(_config_value(config, "alpha")),
        int(_config_value(config, "min-size")),
        seed,
        image_size,
    )
    trainer = _trainer(
        image_size,
        _filters(_config_value(config, "filters")),
        float(_config_value(config, "learning-rate")),
    )
    trainer.set_weights(msg.content["arrays"].to_numpy_ndarrays())
    loss = trainer.train(
        images,
        labels,
        epochs=int(_config_value(config, "local-epochs")),
        batch_size=int(_config_value(config, "batch-size")),
        seed=[seed, int(config["server-round"]), partition_id],
        proximal_mu=float(_config_value(config, "proximal-mu")),
    )
    reply = RecordDict(
        {
            "arrays": ArrayRecord(trainer.get_weights()),
            "metrics": MetricRecord({"train-loss": loss, "num-examples": len(labels)}),
        }
    )
    return Message(content=reply, reply_to=msg)


def run_config(context: Context | None = None, overrides: dict | None = None) -> dict:
    """Return the run configuration: defaults, then the context's run config, then overrides."""
    merged = dict(DEFAULTS)
    if context is not None:
        merged.update(dict(context.run_config))
    merged.update(overrides or {})
    unknown = sorted(set(merged) - set(DEFAULTS))
    if unknown:
        raise federated.FederatedError(
            f"unknown run-config key(s) {unknown}; the app knows {sorted(DEFAULTS)}."
        )
    return merged


def make_server_app(overrides: dict | None = None) -> ServerApp:
    """Return a ServerApp whose settings are the run config with ``overrides`` on top.

    The notebook passes its settings this way to the simulation engine; the deployment
    engine uses the module-level ``server_app`` and ``--run-config``.
    """
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        settings = run_config(context, overrides)
        seed = int(settings["seed"])
        image_size = int(settings["image-size"])
        filters = _filters(settings["filters"])
        n_clients = int(settings["num-clients"])

        # The starting model, seeded as in run_fedavg.
        from . import config

        config.set_seed(seed)
        model = federated.build_federated_cnn((image_size, image_size, 1), filters=filters)
        evaluator = federated.LocalTrainer(model, float(settings["learning-rate"]))
        test_images, test_labels = _dataset(image_size).test

        def central_evaluation(server_round: int, arrays: ArrayRecord) -> MetricRecord:
            evaluator.set_weights(arrays.to_numpy_ndarrays())
            scores = evaluator.predict(test_images)
            metrics = federated.score_summary(test_labels, scores)
            return MetricRecord({f"test-{key}": value for key, value in metrics.items()})

        strategy = FedAvg(
            fraction_evaluate=0.0,  # the server evaluates on the test split itself
            min_train_nodes=n_clients,
            min_available_nodes=n_clients,
        )
        train_config = ConfigRecord({key: settings[key] for key in CLIENT_KEYS})
        result = strategy.start(
            grid=grid,
            initial_arrays=ArrayRecord(model.get_weights()),
            num_rounds=int(settings["num-server-rounds"]),
            train_config=train_config,
            evaluate_fn=central_evaluation,
        )
        rounds = sorted(result.evaluate_metrics_serverapp)
        summary = {
            "completed": True,
            "num-clients": n_clients,
            "rounds": rounds,
            "test_auc": [float(result.evaluate_metrics_serverapp[r]["test-auc"]) for r in rounds],
            "test_loss": [float(result.evaluate_metrics_serverapp[r]["test-loss"]) for r in rounds],
            "settings": {key: settings[key] for key in sorted(settings)},
        }
        if settings["result-path"]:
            path = Path(str(settings["result-path"]))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(summary, indent=1))

    return app


server_app = make_server_app()


def run_simulation(
    num_clients: int, result_path: str | Path, overrides: dict | None = None, verbose=False
) -> dict:
    """Run the app in Flower's simulation engine and return the server's summary.

    Args:
        num_clients: virtual SuperNodes (hospitals); each gets ``partition-id`` 0..n-1.
        result_path: where the ServerApp writes its JSON summary.
        overrides: run-config values, e.g. ``{"num-server-rounds": 5, "alpha": 0.5}``.
        verbose: show Flower's DEBUG logs.

    Returns:
        The summary: ``rounds``, ``test_auc`` and ``test_loss`` per round (round 0 is the
        starting model), ``settings``.
    """
    import os

    from flwr.simulation import run_simulation as flower_run_simulation

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    result_path = Path(result_path)
    result_path.unlink(missing_ok=True)
    settings = {**(overrides or {}), "num-clients": num_clients, "result-path": str(result_path)}
    from . import config

    rounds = settings.get("num-server-rounds", DEFAULTS["num-server-rounds"])
    settings["num-server-rounds"] = config.budget(int(rounds), config.REHEARSAL_ROUNDS)

    # With a GPU (full profile), the simulated hospitals train on it, one at a time; the
    # notebook should set TF_FORCE_GPU_ALLOW_GROWTH=true before importing TensorFlow, so
    # that its own process does not hold all of the GPU's memory.
    gpus = 1 if config.gpu_available() else 0
    flower_logger = logging.getLogger("flwr")
    level = flower_logger.level
    if not verbose:
        flower_logger.setLevel(logging.WARNING)
    try:
        flower_run_simulation(
            server_app=make_server_app(settings),
            client_app=client_app,
            num_supernodes=num_clients,
            backend_config={
                # One simulated hospital at a time: on a small CPU, parallel clients only
                # compete for the same cores.
                "client_resources": {"num_cpus": 1, "num_gpus": float(gpus)},
                "init_args": {
                    "num_cpus": 1,
                    "num_gpus": gpus,
                    "include_dashboard": False,
                    "log_to_driver": verbose,
                    "logging_level": "DEBUG" if verbose else "ERROR",
                },
            },
            verbose_logging=verbose,
        )
    finally:
        flower_logger.setLevel(level)
    if not result_path.is_file():
        raise RuntimeError(
            f"The Flower simulation ended without writing {result_path}: the ServerApp "
            "failed. Run again with verbose=True to see Flower's logs."
        )
    return json.loads(result_path.read_text())
