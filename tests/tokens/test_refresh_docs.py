"""docs/stores.md and examples/refresh_tokens.py run as written, on memory and on Redis."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.redis_server import running_redis

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = re.findall(r"^```python\n(.*?)^```", (ROOT / "docs/stores.md").read_text(), re.S | re.M)


def test_docs_have_examples() -> None:
    assert BLOCKS


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_docs_example_runs(index: int) -> None:
    exec(compile(BLOCKS[index], f"docs/stores.md[{index}]", "exec"), {"__name__": "docs"})


def _run_example(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples/refresh_tokens.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "replay refused: token.refresh_reused" in done.stdout
    assert "family revoked: token.refresh_revoked" in done.stdout
    assert "msr1_" not in done.stdout
    return done.stdout


def test_example_runs_on_memory() -> None:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    assert "MemoryStore" in _run_example(env)


def test_example_runs_on_redis() -> None:
    with running_redis() as server:
        assert "RedisStore" in _run_example({**os.environ, "REDIS_URL": server.url})
