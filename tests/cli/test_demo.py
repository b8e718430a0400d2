"""``meshsec demo`` end to end: real loopback services, a real audit file."""

from __future__ import annotations

import re
import subprocess
import sys

from meshsec import audit
from meshsec.cli import main


def test_demo_shows_one_correlation_id_across_services_and_a_verified_chain(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    sent = re.search(r"the client sent X-Correlation-ID (demo-[0-9a-f]+)", out)
    assert sent is not None
    cid = sent.group(1)
    services = set(re.findall(rf"\[(\w+)\s*\] correlation_id={cid} trace_id=([0-9a-f]{{32}})", out))
    assert {"orders", "payments"} <= {name for name, _ in services}
    assert len({trace for _, trace in services}) == 1
    assert "one correlation ID across both services: yes" in out
    assert re.search(r"audit chain .*audit\.jsonl: \d+ lines, HMAC-SHA256, verified", out)
    assert "\x1b" not in out
    # The card crossed the wire encrypted, payments saw it, the receipt is masked,
    # and the clear number never reached any printed line or log.
    assert re.search(r"on the wire: card\.number += ms1\.", out)
    assert "payments (cleared for restricted) saw: card ending 1111" in out
    assert re.search(r"client receipt \(clearance internal\): card\.number = \*+1111", out)
    assert "4111 1111 1111 1111" not in out
    assert "4111111111111111" not in out
    assert (
        "charging card [REDACTED:card]" in out
    )  # the hostile correlation ID never reaches the terminal
    # The demo restores the process-wide audit configuration it borrowed.
    assert not audit.enabled()


def test_demo_audit_file_is_tamper_evident(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    path = tmp_path / "audit.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    assert len(lines) >= 2
    lines[1] = lines[1].replace(b"success", b"failure", 1)
    path.write_bytes(b"".join(lines))
    # Without the demo's random key the verifier cannot vouch for the file; with
    # a wrong key every line fails at line 1.
    assert main(["audit", "verify", str(path), "--key", "not-the-demo-key"]) == 1
    assert "line 1" in capsys.readouterr().out


def test_python_dash_m_meshsec_runs_the_cli():
    done = subprocess.run(
        [sys.executable, "-m", "meshsec", "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("meshsec ")
