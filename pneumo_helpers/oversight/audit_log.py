"""An append-only, hash-chained audit log of every decision: who decided what, with which model.

Each entry is one line of JSON holding the model's fingerprint, the SHA-256 of the input
image, the score, the threshold, whether the case was deferred, the human's decision (or
none), the final decision and the time. It also holds the hash of the entry before it, and
its own hash over all of that: changing, deleting, reordering or inserting an entry breaks
the chain at that entry, which :func:`verify_log` names (the idea of Haber and Stornetta
1991). A chain cannot show that its *last* entries were cut off: keep the head hash
(:attr:`AuditLog.head`) somewhere else too, and pass it to :func:`verify_log`.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .errors import AuditLogError

#: The hash the first entry points back to.
GENESIS = "0" * 64
#: The fields of an entry, in the order they are written.
FIELDS = (
    "index",
    "time",
    "model_fingerprint",
    "input_sha256",
    "score",
    "threshold",
    "deferred",
    "human_decision",
    "final_decision",
    "previous_hash",
    "entry_hash",
)


def input_hash(image) -> str:
    """Return the SHA-256 of an image array: its dtype, shape and bytes."""
    array = np.ascontiguousarray(image)
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def model_fingerprint(model) -> str:
    """Return the first 16 hex digits of the SHA-256 of a Keras model's weights and layout."""
    digest = hashlib.sha256(json.dumps(model.to_json(), sort_keys=True).encode())
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()[:16]


def entry_hash(entry: dict) -> str:
    """Return the SHA-256 of an entry's fields (all but its own hash), canonically serialised."""
    body = {key: entry[key] for key in FIELDS if key != "entry_hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _check_decision(value, name: str, *, allow_none: bool) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool | np.bool_) or value not in (0, 1):
        allowed = "0, 1 or None" if allow_none else "0 or 1"
        raise AuditLogError(f"{name} must be {allowed}, got {value!r}.")
    return int(value)


def _check_probability(value, name: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError) as error:
        raise AuditLogError(f"{name} must be a number in [0, 1], got {value!r}.") from error
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise AuditLogError(f"{name} must be a number in [0, 1], got {value!r}.")
    return value


def _check_hex(value, name: str) -> str:
    if not isinstance(value, str) or not value or any(c not in "0123456789abcdef" for c in value):
        raise AuditLogError(f"{name} must be a lower-case hexadecimal digest, got {value!r}.")
    return value


@dataclass(frozen=True)
class Verification:
    """What :func:`verify_log` found.

    Attributes:
        ok: every entry is intact and in place.
        entries: how many entries the file holds.
        first_bad: the line number (0-based) of the first entry that breaks the chain, or None.
        reason: what is wrong there, in words ("" when ``ok``).
    """

    ok: bool
    entries: int
    first_bad: int | None
    reason: str

    def describe(self) -> str:
        """Say the result in one sentence."""
        if self.ok:
            return f"all {self.entries} entries intact and in order"
        return f"entry {self.first_bad} of {self.entries} is bad: {self.reason}"


class AuditLog:
    """An append-only audit log in a JSON Lines file; every entry points to the one before.

    Opening an existing file verifies it first (:class:`AuditLogError` if it is broken);
    :meth:`record` appends one decision and returns the entry written.
    """

    def __init__(self, path) -> None:
        self.path = Path(path)
        self.head, self.count = GENESIS, 0
        if self.path.exists():
            result = verify_log(self.path)
            if not result.ok:
                raise AuditLogError(f"{self.path.name}: {result.describe()}; do not append to it.")
            entries = read_entries(self.path)
            self.count = len(entries)
            self.head = entries[-1]["entry_hash"] if entries else GENESIS

    def record(
        self,
        *,
        model_fingerprint: str,
        input_sha256: str,
        score: float,
        threshold: float,
        deferred: bool,
        human_decision: int | None,
        time: str | None = None,
    ) -> dict:
        """Append one decision: the model's, or the human's where the case was deferred.

        Raises:
            AuditLogError: a field has a value the log cannot hold (a score outside [0, 1],
                a decision other than 0/1, a deferred case without a human decision, ...).
        """
        if not isinstance(deferred, bool | np.bool_):
            raise AuditLogError(f"deferred must be True or False, got {deferred!r}.")
        human = _check_decision(human_decision, "human_decision", allow_none=True)
        if deferred and human is None:
            raise AuditLogError("a deferred case needs the human's decision (0 or 1).")
        score = _check_probability(score, "score")
        threshold = _check_probability(threshold, "threshold")
        entry = {
            "index": self.count,
            "time": time or datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "model_fingerprint": _check_hex(model_fingerprint, "model_fingerprint"),
            "input_sha256": _check_hex(input_sha256, "input_sha256"),
            "score": score,
            "threshold": threshold,
            "deferred": bool(deferred),
            "human_decision": human,
            "final_decision": human if human is not None else int(score >= threshold),
            "previous_hash": self.head,
        }
        entry["entry_hash"] = entry_hash(entry)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(entry, sort_keys=True) + "\n")
        self.head, self.count = entry["entry_hash"], self.count + 1
        return entry


def read_entries(path) -> list[dict]:
    """Return the entries of a log file, in file order.

    Raises:
        AuditLogError: the file is missing, or a line is not a JSON object.
    """
    path = Path(path)
    if not path.is_file():
        raise AuditLogError(f"{path} is not a file: pass the path of an audit log.")
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as error:
            raise AuditLogError(f"{path.name}, line {number}: not JSON ({error.msg}).") from error
        if not isinstance(entry, dict):
            raise AuditLogError(f"{path.name}, line {number}: not a JSON object.")
        entries.append(entry)
    return entries


def verify_log(path, *, expected_head: str | None = None) -> Verification:
    """Check every entry of a log: its fields, its own hash, its place and its link.

    Args:
        path: the log file.
        expected_head: the last entry's hash as kept elsewhere; with it, entries cut off the
            end are found too.

    Returns:
        The :class:`Verification`, naming the first bad entry.
    """
    try:
        entries = read_entries(path)
    except AuditLogError as error:
        line = str(error).split("line ")[-1].split(":")[0]
        first = int(line) if line.isdigit() else 0
        return Verification(False, 0, first, str(error))
    return chain_problems(entries, expected_head)


def chain_problems(entries: list[dict], expected_head: str | None = None) -> Verification:
    """Walk the chain: each entry's fields, hash, index and link to the one before."""
    previous = GENESIS
    for position, entry in enumerate(entries):
        if set(entry) != set(FIELDS):
            reason = f"fields {sorted(set(entry) ^ set(FIELDS))} missing or unexpected"
        elif entry["entry_hash"] != entry_hash(entry):
            reason = "its content does not match its hash (altered)"
        elif entry["previous_hash"] != previous:
            reason = "it does not follow the entry before it (deleted, reordered or inserted)"
        elif entry["index"] != position:
            reason = f"its index is {entry['index']}, its place {position}"
        else:
            previous = entry["entry_hash"]
            continue
        return Verification(False, len(entries), position, reason)
    if expected_head is not None and previous != expected_head:
        reason = "the last entry is not the head kept elsewhere (entries cut off the end)"
        return Verification(False, len(entries), len(entries), reason)
    return Verification(True, len(entries), None, "")
