"""The one exception of the oversight helpers."""

from __future__ import annotations


class OversightError(ValueError):
    """An oversight helper received an argument it cannot use; the message says what to do."""


class AuditLogError(OversightError):
    """An audit-log entry or file cannot be written or read; the message says what to do."""
