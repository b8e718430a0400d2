"""TLS configuration scans with sslyze against a meshsec server on 127.0.0.1.

sslyze exits 0 only when the server complies with the named Mozilla profile.
Its certificate check wants a host name, so the scanned server's certificate
carries a ``localhost`` DNS SAN beside its SPIFFE ID; sslyze presents a
client certificate because the server requires one.
"""

from __future__ import annotations

import importlib.util
import ssl
import subprocess
import sys

import pytest

from meshsec.mtls import server_context
from tests.identity import certs
from tests.mtls.conftest import CLIENT
from tests.mtls.peers import EchoServer, write_chain

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("sslyze") is None, reason="sslyze (dev extra) is not installed"
    ),
]


@pytest.mark.parametrize(
    ("min_version", "profile"),
    [(ssl.TLSVersion.TLSv1_2, "intermediate"), (ssl.TLSVersion.TLSv1_3, "modern")],
)
def test_server_passes_mozilla_profile(tmp_path, ca, server_source, min_version, profile):
    identity = ca.issue(CLIENT)
    cert, key = certs.write_pem(tmp_path, "client", identity.certificate, identity.private_key)
    ca_file = write_chain(tmp_path / "ca.pem", list(ca.bundle))
    assert "localhost" in server_source.identity.dns_names
    with EchoServer(server_context(server_source, min_version=min_version)) as server:
        scan = subprocess.run(
            [
                sys.executable,
                "-m",
                "sslyze",
                "--certinfo",
                "--certinfo_ca_file",
                str(ca_file),
                "--cert",
                str(cert),
                "--key",
                str(key),
                f"--mozilla_config={profile}",
                f"localhost:{server.port}{{127.0.0.1}}",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert scan.returncode == 0, scan.stdout[-3000:]
    assert "OK - Compliant" in scan.stdout
    # The scan really completed mutual handshakes (sslyze's client certificate was accepted).
    assert server.peers
