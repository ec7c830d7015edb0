"""Run the service as a real server: uvicorn in a subprocess on 127.0.0.1, stopped cleanly.

:func:`running_server` is a context manager: it picks a free port (:func:`free_port`),
starts ``python -m pneumo_helpers.service`` with uvicorn, waits until ``GET /health``
answers, yields the base URL, and at the end stops the process (SIGTERM, then SIGKILL
after a grace period) and waits for it, so that no process is left behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .app import ModelInfo
from .errors import ServiceError

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """Return a TCP port that is free on ``host`` now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def server_command(model_path, info_path, port: int, batching: bool = False) -> list[str]:
    """Return the command line that serves a model file with uvicorn on 127.0.0.1."""
    command = [sys.executable, "-m", "pneumo_helpers.service", "--model", str(model_path)]
    command += ["--info", str(info_path), "--host", HOST, "--port", str(port)]
    return command + (["--batching"] if batching else [])


def wait_until_healthy(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    """Poll ``url/health`` until it answers 200; raise if the process dies or time runs out."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(
                f"the server exited with status {process.returncode} before answering: "
                f"{_tail(process)}"
            )
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise ServiceError(f"the server did not answer {url}/health within {timeout:.0f} s.")


def _tail(process: subprocess.Popen) -> str:
    if process.stderr is None:
        return ""
    try:
        text = process.stderr.read().decode(errors="replace")
    except (OSError, ValueError):
        return ""
    return " | ".join(text.strip().splitlines()[-3:])


def stop(process: subprocess.Popen, grace: float = 10.0) -> int:
    """Stop a server process and its group: SIGTERM, then SIGKILL after ``grace`` s; reap it."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(grace)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    return int(process.returncode)


@contextlib.contextmanager
def running_server(model_path, info: ModelInfo, *, batching: bool = False, timeout: float = 90):
    """Serve a model file at ``http://127.0.0.1:<free port>`` for the ``with`` block.

    Yields:
        (url, process): the base URL and the ``subprocess.Popen`` (stopped on exit).

    Raises:
        ServiceError: the server did not start (its last log lines are in the message).
    """
    with tempfile.TemporaryDirectory(prefix="pneumo-service-") as folder:
        info_path = Path(folder) / "info.json"
        info_path.write_text(json.dumps(dataclasses.asdict(info)))
        port = free_port()
        environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            server_command(model_path, info_path, port, batching),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=environment,
            start_new_session=True,  # its own process group: stop() ends every child
        )
        url = f"http://{HOST}:{port}"
        try:
            wait_until_healthy(url, process, timeout)
            yield url, process
        finally:
            stop(process)
