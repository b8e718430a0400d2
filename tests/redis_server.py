"""Start a real, throwaway redis-server on 127.0.0.1 for tests and benchmarks.

The server listens on loopback only, on a free port picked at start, keeps no
data on disk (``--save '' --appendonly no``) and is killed by ``stop()``.
Tests skip with a clear reason when the ``redis-server`` binary is absent.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

SKIP_REASON = (
    "redis-server binary not found on PATH; install it (apt-get install redis-server) "
    "to run the Redis store tests"
)


def redis_binary() -> str | None:
    return shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One redis-server process bound to 127.0.0.1."""

    def __init__(self, binary: str) -> None:
        self._binary = binary
        self._dir = tempfile.TemporaryDirectory(prefix="meshsec-redis-")
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        for _ in range(5):  # another process may grab the free port first
            self.port = _free_port()
            self._proc = subprocess.Popen(
                [
                    self._binary,
                    "--port", str(self.port),
                    "--bind", "127.0.0.1",
                    "--save", "",
                    "--appendonly", "no",
                    "--dir", self._dir.name,
                    "--protected-mode", "yes",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            if self._wait_ready(timeout):
                return
            self._kill()
        raise RuntimeError("redis-server did not start")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                return False
            with self.client() as client:
                try:
                    if client.ping():
                        return True
                except redis.exceptions.ConnectionError:
                    pass
            time.sleep(0.02)
        return False

    def client(self) -> redis.Redis:
        """A raw redis-py client for this server (close it, or use it in a with block)."""
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def stop(self) -> None:
        self._kill()

    def close(self) -> None:
        self._kill()
        self._dir.cleanup()


@contextmanager
def running_redis() -> Iterator[RedisServer]:
    """A started server, killed on exit; skips the test when the binary is absent."""
    binary = redis_binary()
    if binary is None:
        pytest.skip(SKIP_REASON)
    server = RedisServer(binary)
    try:
        server.start()
        yield server
    finally:
        server.close()
