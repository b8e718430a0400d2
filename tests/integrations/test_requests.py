"""mtls_session against a real loopback HTTPS server with client-certificate checks."""

from __future__ import annotations

import pytest
import requests

import meshsec.integrations
import meshsec.integrations.requests
from meshsec.errors import ConfigError
from meshsec.identity import StaticIdentitySource
from meshsec.integrations.requests import mtls_session
from meshsec.mtls import (
    PeerCertificateUntrusted,
    PeerNotAuthorized,
    allow_id,
    allow_path_prefix,
    server_context,
)
from tests.api import assert_all_is_public, assert_raised_errors_exported
from tests.mtls.conftest import CLIENT, SERVER
from tests.mtls.peers import HttpsServer, auth_events


@pytest.fixture
def server(server_source):
    with HttpsServer(server_context(server_source)) as srv:
        yield srv


def test_public_surface():
    assert_all_is_public(meshsec.integrations)
    assert_all_is_public(meshsec.integrations.requests)
    assert_raised_errors_exported(meshsec.integrations)


def test_session_calls_an_mtls_server_with_its_spiffe_id(server, client_source):
    with mtls_session(client_source, expect=allow_id(SERVER)) as session:
        response = session.get(server.url, timeout=5)
    assert response.status_code == 200
    assert response.text.split()[0] == CLIENT


def test_wrong_server_identity_raises_typed_error_and_sends_nothing(server, client_source, events):
    with (
        mtls_session(client_source, expect=allow_path_prefix("/ns/other")) as session,
        pytest.raises(PeerNotAuthorized),
    ):
        session.post(server.url, data=b"card=4111111111111111", timeout=5)
    assert server.requests == 0
    (event,) = auth_events(events)
    assert event.reason == "tls.peer_not_authorized"
    assert event.actor == SERVER


def test_server_from_another_ca_is_refused(other_ca, client_source):
    source = StaticIdentitySource(other_ca.issue(SERVER), other_ca.bundle)
    with (
        HttpsServer(server_context(source)) as server,
        mtls_session(client_source, expect=allow_id(SERVER)) as session,
        pytest.raises((PeerCertificateUntrusted, requests.exceptions.SSLError)),
    ):
        session.get(server.url, timeout=5)


def test_ca_bundle_from_the_environment_adds_no_trust(
    tmp_path, monkeypatch, other_ca, client_source
):
    # requests would load REQUESTS_CA_BUNDLE into the context; the session must not.
    bundle = tmp_path / "other.pem"
    bundle.write_bytes(other_ca.bundle.to_pem())
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    source = StaticIdentitySource(other_ca.issue(SERVER), other_ca.bundle)
    with (
        HttpsServer(server_context(source)) as server,
        mtls_session(client_source, expect=allow_id(SERVER)) as session,
        pytest.raises(PeerCertificateUntrusted),
    ):
        session.get(server.url, timeout=5)


def test_verify_false_cert_and_plain_http_are_refused(server, client_source):
    with mtls_session(client_source, expect=allow_id(SERVER)) as session:
        with pytest.raises(ConfigError):
            session.get(server.url, verify=False, timeout=5)
        with pytest.raises(ConfigError):
            session.get(server.url, cert=("/tmp/c.pem", "/tmp/k.pem"), timeout=5)
        with pytest.raises(ConfigError):
            session.get(f"http://127.0.0.1:{server.port}/", timeout=5)
        # Still fully working afterwards (nothing was changed in place).
        assert session.get(server.url, timeout=5).status_code == 200
    assert server.requests == 1


def test_new_connections_resume_tls_sessions(server, client_source):
    with mtls_session(client_source, expect=allow_id(SERVER)) as session:
        resumed = [
            session.get(server.url, headers={"Connection": "close"}, timeout=5).text.split()[2]
            for _ in range(3)
        ]
    assert resumed == ["False", "True", "True"]


def test_rotated_identity_is_used_for_new_connections(ca, server, client_source):
    with mtls_session(client_source, expect=allow_id(SERVER)) as session:
        first = session.get(server.url, headers={"Connection": "close"}, timeout=5).text.split()
        client_source.update(ca.issue(CLIENT))
        second = session.get(server.url, headers={"Connection": "close"}, timeout=5).text.split()
    assert first[0] == second[0] == CLIENT
    assert first[1] == f"{client_source.identity.serial_number:x}" or second[1] == (
        f"{client_source.identity.serial_number:x}"
    )
    assert second[1] == f"{client_source.identity.serial_number:x}"
    assert first[1] != second[1]
    assert second[2] == "False"  # no resumption across a rotation


def test_server_survives_refused_clients(server, ca, other_ca, client_source):
    # Trusts our server, but holds a certificate of a CA the server does not trust.
    stranger = StaticIdentitySource(other_ca.issue(CLIENT), ca.bundle)
    with (
        mtls_session(stranger, expect=allow_id(SERVER)) as session,
        pytest.raises(requests.exceptions.ConnectionError),
    ):
        session.get(server.url, timeout=5)
    assert server.requests == 0
    with mtls_session(client_source, expect=allow_id(SERVER)) as session:
        assert session.get(server.url, timeout=5).status_code == 200
