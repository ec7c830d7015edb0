"""Federated learning from first principles: hospitals, partitions, FedAvg, FedProx, DP-style noise.

Hospitals cannot pool their patients' X-rays. In *federated averaging* (FedAvg, McMahan et
al. 2017) a server sends the current model to every hospital, each hospital trains it on
its own images for a few epochs, and the server replaces the model by the average of the
returned weights, each hospital weighted by its number of images. Only weights travel.

The road::

    parts = partition_non_iid(labels, n_clients=5, alpha=0.5, seed=0)    # 5 "hospitals"
    clients = [(images[p], labels[p]) for p in parts]
    result = run_fedavg(build_federated_cnn, clients, rounds=10, local_epochs=1,
                        eval_data={"test": (test_images, test_labels)})
    result.table()                                                      # AUC per round

The same local training (:class:`LocalTrainer`) serves the from-scratch loop, centralised
training, each hospital alone, and the Flower app (:mod:`pneumo_helpers.flower_app`), so
that all of them are compared on equal terms.

The package holds one idea per module:

* :mod:`.partitions`: who holds which X-rays (IID, Dirichlet label skew, quantity skew) and
  a table of each hospital's case mix;
* :mod:`.aggregation`: FedAvg's size-weighted mean and the bytes a model costs on the wire;
* :mod:`.privacy`: update norms and clipping, the sensitivity client-level DP noise is
  scaled to, and secure aggregation's pairwise-cancelling masks;
* :mod:`.local_training`: the federated CNN (no BatchNorm), :class:`LocalTrainer` (one
  client's training, with FedProx's proximal term), balanced sample weights and
  :func:`score_summary`;
* :mod:`.rounds`: the round loop :func:`run_fedavg`, pooled or single-hospital training
  :func:`train_centralised`, and the :class:`FederatedResult` they return;
* :mod:`.errors`: :class:`FederatedError`, raised by all of them.

Every public name is importable from here: ``from pneumo_helpers import federated``.
"""

from .aggregation import fedavg, model_bytes
from .errors import FederatedError
from .local_training import (
    LocalTrainer,
    balanced_sample_weights,
    build_federated_cnn,
    prepare_images,
    score_summary,
)
from .partitions import (
    partition_iid,
    partition_non_iid,
    partition_quantity_skew,
    partition_summary,
)
from .privacy import clip_update, dp_sensitivity, secure_aggregation_masks, update_norm
from .rounds import ClientData, FederatedResult, run_fedavg, train_centralised

__all__ = [
    "ClientData",
    "FederatedError",
    "FederatedResult",
    "LocalTrainer",
    "balanced_sample_weights",
    "build_federated_cnn",
    "clip_update",
    "dp_sensitivity",
    "fedavg",
    "model_bytes",
    "partition_iid",
    "partition_non_iid",
    "partition_quantity_skew",
    "partition_summary",
    "prepare_images",
    "run_fedavg",
    "score_summary",
    "secure_aggregation_masks",
    "train_centralised",
    "update_norm",
]
