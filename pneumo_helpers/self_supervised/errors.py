"""The error every self-supervision helper raises."""

from __future__ import annotations


class SelfSupervisedError(ValueError):
    """A self-supervision helper received an argument it cannot use."""
