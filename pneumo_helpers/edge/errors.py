"""The exceptions of the edge helpers: one base, one for files, one for inputs."""

from __future__ import annotations


class EdgeError(ValueError):
    """A model file or an input cannot be used on the device; the message says what to do."""


class EdgeModelError(EdgeError):
    """A model file is missing, corrupt, or not a model this module can run."""


class EdgeInputError(EdgeError):
    """Images of the wrong shape, dtype or value range were given to a predictor."""
