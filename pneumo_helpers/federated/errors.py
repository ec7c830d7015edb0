"""The one exception of the federated helpers."""

from __future__ import annotations


class FederatedError(ValueError):
    """A federated-learning helper received an argument it cannot use."""
