"""A real, throwaway redis-server on 127.0.0.1 for tests and benchmarks.

The server listens on loopback only, on a free port picked at start, keeps no
data on disk (``--save '' --appendonly no``, a private temporary ``--dir``)
and is killed by :meth:`RedisServer.stop`. Readiness is checked with a raw
RESP ``PING`` so that starting a server needs neither redis-py nor pytest.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from meshsec.testing._errors import RedisServerFailed, RedisServerNotFound

if TYPE_CHECKING:
    from meshsec.stores import RedisStore

__all__ = ["SKIP_REASON", "RedisServer", "redis_binary", "redis_server"]

SKIP_REASON = (
    "redis-server binary not found on PATH; install it (apt-get install redis-server) "
    "to run the Redis store tests"
)
_HOST = "127.0.0.1"
_PORT_ATTEMPTS = 5  # another process may take the free port between probe and bind


def redis_binary() -> str | None:
    """The path of ``redis-server`` on PATH, or None."""
    return shutil.which("redis-server")


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        return int(sock.getsockname()[1])


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection((_HOST, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server process bound to 127.0.0.1 (start it with :meth:`start`).

    Raises RedisServerNotFound at construction when no binary is found.
    """

    def __init__(self, binary: str | None = None) -> None:
        found = binary if binary is not None else redis_binary()
        if found is None:
            raise RedisServerNotFound(SKIP_REASON)
        self._binary = found
        self._dir = tempfile.TemporaryDirectory(prefix="meshsec-redis-")
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://{_HOST}:{self.port}/0"

    def start(self, timeout: float = 10.0, *, same_port: bool = False) -> None:
        """Start (or restart, with ``same_port=True`` on the previous port) the server.

        Raises RedisServerFailed when it does not answer PING within ``timeout``.
        """
        for _ in range(_PORT_ATTEMPTS):
            if not (same_port and self.port):
                self.port = free_port()
            self._proc = subprocess.Popen(  # noqa: S603  redis-server from PATH; every argument is ours
                [
                    self._binary,
                    "--port", str(self.port),
                    "--bind", _HOST,
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
        raise RedisServerFailed("redis-server did not answer PING on 127.0.0.1")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                return False
            if _answers_ping(self.port):
                return True
            time.sleep(0.02)
        return False

    def client(self) -> Any:
        """A raw redis-py client for this server (close it, or use it in a with block)."""
        import redis

        return redis.Redis(host=_HOST, port=self.port, socket_timeout=2)

    def store(self, prefix: str | None = None) -> RedisStore:
        """A RedisStore on this server; a unique prefix unless one is given. Close it."""
        from meshsec.stores import RedisStore

        return RedisStore(url=self.url, prefix=prefix or f"meshsec-test-{uuid.uuid4().hex}:")

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def stop(self) -> None:
        """Kill the process; :meth:`start` may run it again."""
        self._kill()

    def close(self) -> None:
        """Kill the process and remove its directory. Idempotent."""
        self._kill()
        self._dir.cleanup()

    def __repr__(self) -> str:
        state = "running" if self._proc is not None else "stopped"
        return f"RedisServer(url={self.url!r}, {state})"


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A started redis-server on 127.0.0.1, killed on exit.

    Raises RedisServerNotFound when the binary is absent (the pytest fixture
    turns that into a skip) and RedisServerFailed when it does not start.
    """
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.close()
