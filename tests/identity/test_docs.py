"""docs/identity.md and examples/identity_ca.py run as written and show what they claim."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_docs_have_runnable_examples() -> None:
    text = (ROOT / "docs/identity.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    assert len(blocks) >= 3
    namespace: dict[str, object] = {"__name__": "docs_identity"}
    for index, block in enumerate(blocks):
        exec(compile(block, f"docs/identity.md[{index}]", "exec"), namespace)


def test_example_keeps_last_good_identity_and_leaks_no_key() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples/identity_ca.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "half-written rotation picked up? False" in result.stdout
    assert "complete rotation picked up? True" in result.stdout
    assert "reason=identity.key_mismatch" in result.stdout
    assert "PRIVATE KEY" not in result.stdout
