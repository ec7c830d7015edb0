"""Download a file atomically and verify its md5: nothing half-downloaded is ever kept."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from .. import config
from .layout import DataError


def md5sum(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Return the md5 hex digest of a file."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_file(
    url: str,
    destination: str | os.PathLike,
    md5: str | None = None,
    *,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``destination`` atomically and verify its md5.

    The bytes go to a temporary file beside the destination, which is renamed into place
    only when the download is complete (the length the server announced) and its md5
    matches. An interrupted or failed download therefore never leaves a file behind.

    Raises:
        DataError: the server cannot be reached, the download stops early, or the md5
            differs. The message says what to do instead.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    manual = (
        f"Download it yourself from {url} into {destination.parent} "
        f"(or set {config.DATA_DIR_ENV} to a folder that has it) and run again."
    )
    fd, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", dir=destination.parent)
    tmp = Path(tmp_name)
    digest = hashlib.md5()
    received = 0
    try:
        try:
            response = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DataError(
                f"Could not download {destination.name} from {url}: {reason}. "
                f"Are you offline? {manual}"
            ) from exc
        with response, os.fdopen(fd, "wb") as out:
            fd = -1
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = _progress_bar(total, destination.name, progress)
            try:
                while True:
                    try:
                        chunk = response.read(1 << 16)
                    except (OSError, ValueError) as exc:  # IncompleteRead, reset, timeout
                        raise DataError(
                            f"The download of {destination.name} from {url} was interrupted "
                            f"after {received} bytes ({exc}). Nothing was saved. {manual}"
                        ) from exc
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            finally:
                bar.close()
        if total is not None and received != total:
            raise DataError(
                f"The download of {destination.name} from {url} stopped after {received} of "
                f"{total} bytes. Nothing was saved. {manual}"
            )
        if md5 is not None and digest.hexdigest() != md5:
            raise DataError(
                f"The file downloaded from {url} has md5 {digest.hexdigest()}, expected {md5}: "
                f"it is corrupt or not the official file. Nothing was saved. {manual}"
            )
        os.replace(tmp, destination)
    finally:
        if fd != -1:
            os.close(fd)
        tmp.unlink(missing_ok=True)
    return destination


class _NoProgress:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int | None, name: str, enabled: bool):
    if not enabled:
        return _NoProgress()
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, desc=f"Downloading {name}")
