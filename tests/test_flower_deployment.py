"""The course's Flower app on Flower's deployment engine: a SuperLink, two SuperNodes, one run.

Everything runs on loopback with a temporary FLWR_HOME and a tiny generated data set, the
same commands as chapter 8 documents. Every process the test starts (each in its own
process group, so with the SuperExec and app processes it spawns) is stopped at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
APP_DIR = ROOT / "flower-app"
BIN_DIR = Path(sys.executable).parent


def _tool(name: str) -> str:
    """Return the path of a Flower command, preferably from this interpreter's environment."""
    path = BIN_DIR / name
    if path.is_file():
        return str(path)
    found = shutil.which(name)
    assert found, f"{name} not found in {BIN_DIR} or on PATH: pip install 'flwr[simulation]'"
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fake_pneumoniamnist(folder: Path) -> None:
    """Write a small PneumoniaMNIST-layout file: pneumonia X-rays are brighter."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 240), ("val", 40), ("test", 80)):
        labels = (np.arange(n) % 4 != 0).astype(np.uint8)  # 3/4 pneumonia, like the real data
        images = rng.integers(0, 120, size=(n, 28, 28)).astype(np.uint8)
        images[labels == 1] += 100
        arrays[f"{split}_images"] = images
        arrays[f"{split}_labels"] = labels[:, None]
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / "pneumoniamnist.npz", **arrays)


def _environment(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    python_path = [str(ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env.update(
        {
            # flower-superlink/-supernode start flower-superexec, flwr-serverapp and
            # flwr-clientapp by name: the venv's bin directory must come first.
            "PATH": os.pathsep.join([str(BIN_DIR), env.get("PATH", "")]),
            "PYTHONPATH": os.pathsep.join(python_path),  # pneumo_helpers without pip install
            "FLWR_HOME": str(tmp_path / "flwr_home"),
            "PNEUMO_DATA_DIR": str(tmp_path / "data"),
            "PNEUMO_PROFILE": "quick",
            "FLWR_TELEMETRY_ENABLED": "0",
            "FLWR_DISABLE_UPDATE_CHECK": "1",
            "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",
            "RAY_USAGE_STATS_ENABLED": "0",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "CUDA_VISIBLE_DEVICES": "",
        }
    )
    return env


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    handle = open(log, "w")  # noqa: SIM115 - closed when the process is stopped
    process = subprocess.Popen(
        command,
        env=env,
        cwd=log.parent,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopping it stops its children
    )
    process.log_handle = handle
    return process


def _stop(process: subprocess.Popen) -> None:
    """Stop a started process and everything in its process group, by its id."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
            # The group may outlive its leader: make sure the children are gone too.
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            break
        except subprocess.TimeoutExpired:
            continue
        break
    process.log_handle.close()


def _wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def _logs(folder: Path) -> str:
    return "\n".join(
        f"--- {path.name} ---\n{path.read_text()[-3000:]}" for path in sorted(folder.glob("*.log"))
    )


def test_deployment_engine_runs_the_course_app_to_completion(tmp_path):
    start = time.monotonic()
    env = _environment(tmp_path)
    _fake_pneumoniamnist(tmp_path / "data")
    logs = tmp_path / "logs"
    logs.mkdir()
    link_port = _free_port()
    flwr_home = Path(env["FLWR_HOME"])
    flwr_home.mkdir()
    (flwr_home / "config.toml").write_text(
        '[superlink]\ndefault = "course"\n\n'
        f'[superlink.course]\naddress = "127.0.0.1:{link_port}"\ninsecure = true\n'
    )
    result_path = tmp_path / "result.json"
    processes: list[subprocess.Popen] = []
    try:
        processes.append(
            _start(
                [
                    _tool("flower-superlink"),
                    "--insecure",
                    "--disable-runtime-dependency-installation",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(link_port),
                ],
                env,
                logs / "superlink.log",
            )
        )
        _wait_for_port(link_port)
        for partition in range(2):
            processes.append(
                _start(
                    [
                        _tool("flower-supernode"),
                        "--insecure",
                        "--superlink",
                        f"127.0.0.1:{link_port}",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(_free_port()),
                        "--node-config",
                        f"partition-id={partition} num-partitions=2",
                    ],
                    env,
                    logs / f"supernode{partition}.log",
                )
            )
        run = subprocess.run(
            [
                _tool("flwr"),
                "run",
                str(APP_DIR),
                "course",
                "--stream",
                "--run-config",
                f'num-server-rounds=2 partition="iid" result-path="{result_path}"',
            ],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=150,
        )
        # `flwr run --stream` exits 0 even when the run failed: check the run's status
        # and the file the ServerApp writes at the end.
        listing = subprocess.run(
            [_tool("flwr"), "ls", "course", "--format", "json"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        context = f"flwr run:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}\n{_logs(logs)}"
        assert run.returncode == 0, context
        runs = json.loads(listing.stdout)["runs"]
        assert [r["status"] for r in runs] == ["finished:completed"], (listing.stdout, context)
        assert result_path.is_file(), context
        summary = json.loads(result_path.read_text())
        assert summary["completed"] and summary["rounds"] == [0, 1, 2]
        assert summary["num-clients"] == 2
        assert all(np.isfinite(summary["test_loss"]))
    finally:
        for process in reversed(processes):
            _stop(process)
    for process in processes:
        assert process.poll() is not None, f"process {process.args[0]} still runs"
    assert time.monotonic() - start < 180, "the deployment-engine test must take under 3 min"
