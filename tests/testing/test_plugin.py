"""The pytest plugin, used the way a service's own test suite would use it.

Each test writes a small user test module with ``pytester`` and runs it in
process; the ``meshsec`` plugin is loaded through its ``pytest11`` entry
point exactly as in a user's environment.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from meshsec.testing import redis_server
from meshsec.testing._redis import redis_binary

INI = """
[pytest]
filterwarnings = error
xfail_strict = true
"""

USER_SUITE = """
import pytest
import requests

from meshsec import audit
from meshsec.context import current_security_context
from meshsec.policy import AccessDenied, Engine, PolicySet, enforce, use_authorizer
from meshsec.testing import TestMesh  # imported into a test module: must not be collected
from meshsec.tokens import TokenExpired


def test_mtls_call_between_two_workloads(meshsec_mesh):
    seen = []

    def payments(request):
        seen.append((str(request.peer), current_security_context().peer_id))
        return 200, {"Content-Type": "text/plain"}, f"charged for {request.peer}"

    with meshsec_mesh.serve(payments, workload="payments", allow="orders") as url:
        session = meshsec_mesh.client_session("orders", expect="payments")
        reply = session.post(f"{url}/charge", data=b"{}", timeout=5)
    assert reply.status_code == 200
    assert reply.text == "charged for spiffe://test.example/orders"
    assert seen == [("spiffe://test.example/orders",) * 2]


def test_intruder_refused_and_audited(meshsec_mesh, meshsec_audit):
    with meshsec_mesh.serve(lambda r: (200, {}, b"no"), workload="payments", allow="orders") as url:
        intruder = meshsec_mesh.client_session("scraper", expect="payments")
        with pytest.raises(requests.exceptions.ConnectionError):
            intruder.get(url, timeout=5)
    meshsec_audit.assert_emitted(outcome="denied", reason="tls.peer_not_authorized")


def test_token_issue_and_verify(meshsec_mesh, meshsec_clock, meshsec_audit):
    orders = meshsec_mesh.workload("orders")
    token = meshsec_mesh.token(orders, "payments", scopes=["charge"], bind_to=orders)
    verifier = meshsec_mesh.verifier("payments")
    claims = verifier.verify(token, scopes=["charge"], peer_certificate=orders.identity.certificate)
    assert claims.subject == "spiffe://test.example/orders"
    meshsec_clock.advance(3600)
    with pytest.raises(TokenExpired):
        verifier.verify(token, peer_certificate=orders.identity.certificate)
    meshsec_audit.assert_emitted(category="token", reason="token.expired")


POLICY = PolicySet.from_dict({
    "version": 1,
    "rules": [{
        "id": "auditors-read", "effect": "allow", "principals": ["alice"],
        "actions": ["reports:read"], "resources": ["report:*"],
    }],
})


@enforce("reports:read", resource="report:q3")
def read_report():
    return "q3 numbers"


def test_acting_as_with_enforce(meshsec_acting_as, meshsec_audit):
    with use_authorizer(Engine(POLICY)):
        with meshsec_acting_as("alice", scopes=["reports"]):
            assert read_report() == "q3 numbers"
        with meshsec_acting_as("mallory"), pytest.raises(AccessDenied):
            read_report()
    assert meshsec_audit.of(category="authorization", outcome="denied")


def test_redis_store_set_get(meshsec_redis):
    meshsec_redis.set("revoked:abc", b"1", ttl=30)
    assert meshsec_redis.get("revoked:abc") == b"1"


def test_redis_prefix_is_fresh_per_test(meshsec_redis):
    assert meshsec_redis.get("revoked:abc") is None


def test_correlation_scope(meshsec_correlation, meshsec_audit):
    audit.record("token", "probe", "success")
    assert meshsec_audit[0].correlation_id == meshsec_correlation.correlation_id
"""


@pytest.fixture
def user_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(INI)
    pytester.makepyfile(test_user_suite=USER_SUITE)
    return pytester


def test_plugin_registered_as_pytest11_entry_point() -> None:
    found = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert found.get("meshsec") == "meshsec.testing.plugin"


@pytest.mark.skipif(redis_binary() is None, reason="redis-server binary not found on PATH")
def test_user_suite_passes_with_every_fixture(user_suite: pytest.Pytester) -> None:
    result = user_suite.runpytest("-q")
    result.assert_outcomes(passed=7)


def test_redis_fixtures_skip_with_reason_without_binary(
    user_suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(user_suite.path))  # no redis-server here
    result = user_suite.runpytest("-q", "-rs", "-k", "redis")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*redis-server binary not found on PATH*"])


def test_failed_audit_assertion_reads_well(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        """
        def test_expects_an_event(meshsec_audit):
            meshsec_audit.assert_emitted(reason="token.expired")
        """
    )
    result = pytester.runpytest("-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*expected 1 audit event(s) with reason='token.expired', found 0; captured: nothing*"]
    )


def test_handler_assertion_fails_the_user_test(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        """
        def test_handler_asserts(meshsec_mesh):
            def handler(request):
                assert request.path == "/expected", "handler saw " + request.path
                return 200, {}, b""

            with meshsec_mesh.serve(handler, workload="api") as url:
                reply = meshsec_mesh.client_session("web", expect="api").get(url + "/other")
                assert reply.status_code == 500
        """
    )
    result = pytester.runpytest("-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: handler saw /other*"])


def test_plugin_changes_nothing_without_its_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        """
        from meshsec import audit, correlation
        from meshsec.context import current_security_context

        def test_no_sink_no_caller_no_correlation():
            assert not audit.enabled()
            assert not current_security_context().authenticated
            assert correlation.peek() is None
        """
    )
    result = pytester.runpytest("-q", "--fixtures")
    fixtures = [line.split()[0] for line in result.stdout.lines if line.startswith("meshsec")]
    assert sorted(fixtures) == sorted(
        [
            "meshsec_acting_as",
            "meshsec_audit",
            "meshsec_clock",
            "meshsec_correlation",
            "meshsec_mesh",
            "meshsec_redis",
            "meshsec_redis_server",
        ]
    )
    assert pytester.runpytest("-q").ret == 0


def test_mesh_fixture_runs_on_the_clock_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        """
        def test_same_clock(meshsec_mesh, meshsec_clock):
            assert meshsec_mesh.clock is meshsec_clock
        """
    )
    pytester.runpytest("-q").assert_outcomes(passed=1)


def test_redis_server_context_manager_is_reusable_outside_pytest() -> None:
    if redis_binary() is None:
        pytest.skip("redis-server binary not found on PATH")
    with redis_server() as server, server.store() as store:
        store.set("k", b"v", ttl=5)
        assert store.get("k") == b"v"
