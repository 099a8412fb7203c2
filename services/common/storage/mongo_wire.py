"""Starting the MongoDB-wire server nx-27017 as a subprocess: the all-in-one mode's database,
and the tests'. One launcher, so both run it the same way."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from services.common.settings import SettingsError

logger = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nx-27017 exited with status {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nx-27017 did not listen on port {port} within {timeout:.0f}s")


def nx_executable() -> str:
    beside = Path(sys.executable).parent / "nx-27017"
    if beside.exists():
        return str(beside)
    found = shutil.which("nx-27017")
    if found is None:
        raise SettingsError(
            "nx-27017 is not installed (pip install nx-27017), and MONGO_URL is not set"
        )
    return found


class MongoWireServer:
    """An nx-27017 subprocess holding its files in ``data_dir``."""

    def __init__(self, data_dir: Path, port: int = 0) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                nx_executable(),
                "--data-dir",
                str(self.data_dir),
                "-p",
                str(self.port),
                "--log-file",
                str(self.data_dir / "server.log"),
                "--pid-file",
                str(self.data_dir / "server.pid"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own process group: Ctrl-C reaches us, and we stop it in order.
            start_new_session=True,
        )
        try:
            _wait_for_port(self.port, self.process)
        except RuntimeError:
            self.stop()
            raise
        logger.info("MongoDB-wire server on port %d (files in %s)", self.port, self.data_dir)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_S)
