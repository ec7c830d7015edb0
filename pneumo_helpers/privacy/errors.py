"""The one exception of the privacy helpers (the DICOM reader raises ``data.DataError``)."""

from __future__ import annotations


class PrivacyError(ValueError):
    """A privacy helper received an argument it cannot use; the message says what to do."""
