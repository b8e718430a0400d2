"""The code in docs/correlation.md and the example script run as written."""

from __future__ import annotations

import contextvars
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "docs/correlation.md").read_text(), re.S)


def test_docs_have_examples() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_docs_example_runs(index: int) -> None:
    code = compile(BLOCKS[index], f"docs/correlation.md[{index}]", "exec")
    contextvars.copy_context().run(exec, code, {"__name__": "docs_example"})


def test_example_script_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples/correlation_propagation.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "billing saw the same IDs: True True" in result.stdout
    assert "to a partner: ['X-Correlation-ID', 'traceparent']" in result.stdout
    assert "abc123" not in result.stdout
    assert "X-Admin" not in result.stdout
