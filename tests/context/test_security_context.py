"""meshsec.context: the caller of the running request."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

import meshsec.context
from meshsec.context import SecurityContext, current_security_context, run_as
from meshsec.correlation import CorrelationContext
from tests.api import assert_all_is_public, assert_raised_errors_exported


def test_all_lists_exactly_the_public_names():
    assert_all_is_public(meshsec.context)
    assert_raised_errors_exported(meshsec.context)


def test_outside_any_request_the_caller_is_anonymous():
    ctx = current_security_context()
    assert ctx == SecurityContext.anonymous()
    assert not ctx.authenticated
    assert ctx.claims == {}
    assert ctx.scopes == frozenset()


def test_run_as_sets_and_restores_the_caller():
    alice = SecurityContext(principal="alice", scopes={"orders:read"})
    with run_as(alice) as bound:
        assert bound is alice
        assert current_security_context() is alice
        bob = alice.evolve(principal="bob")
        with run_as(bob):
            assert current_security_context().principal == "bob"
        assert current_security_context() is alice
    assert current_security_context() == SecurityContext.anonymous()


def test_run_as_restores_the_caller_when_the_block_raises():
    with pytest.raises(RuntimeError), run_as(SecurityContext(principal="mallory")):
        raise RuntimeError("boom")
    assert current_security_context().principal is None


def test_context_is_immutable_and_claims_are_frozen():
    claims = {"sub": "alice", "tenant": "t1"}
    ctx = SecurityContext(principal="alice", claims=claims)
    claims["tenant"] = "t2"  # the caller's dict changing later must not leak in
    assert ctx.claims["tenant"] == "t1"
    with pytest.raises(TypeError):
        ctx.claims["tenant"] = "t3"  # type: ignore[index]
    with pytest.raises(AttributeError):
        ctx.principal = "eve"  # type: ignore[misc]


def test_repr_shows_claim_names_but_not_claim_values():
    ctx = SecurityContext(
        principal="spiffe://example.org/sa/orders",
        claims={"email": "alice@example.com", "card": "4111111111111111"},
    )
    text = repr(ctx)
    assert "alice@example.com" not in text
    assert "4111111111111111" not in text
    assert "'email'" in text
    assert "spiffe://example.org/sa/orders" in text


def test_peer_only_context_counts_as_authenticated():
    ctx = SecurityContext(peer_id="spiffe://example.org/sa/billing")
    assert ctx.authenticated


def test_threads_do_not_see_each_others_callers():
    seen: dict[str, str | None] = {}
    barrier = threading.Barrier(2)

    def work(name: str) -> None:
        with run_as(SecurityContext(principal=name)):
            barrier.wait(timeout=5)
            seen[name] = current_security_context().principal

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"a": "a", "b": "b"}
    assert current_security_context().principal is None


def test_copied_context_carries_the_caller_into_a_thread():
    result: list[str | None] = []
    with run_as(SecurityContext(principal="carried")):
        ctx = contextvars.copy_context()
    thread = threading.Thread(
        target=ctx.run, args=(lambda: result.append(current_security_context().principal),)
    )
    thread.start()
    thread.join()
    assert result == ["carried"]


def test_asyncio_tasks_are_isolated():
    async def handle(name: str) -> str | None:
        with run_as(SecurityContext(principal=name)):
            await asyncio.sleep(0)
            return current_security_context().principal

    async def main() -> list[str | None]:
        return list(await asyncio.gather(*(handle(f"p{i}") for i in range(20))))

    assert asyncio.run(main()) == [f"p{i}" for i in range(20)]


def test_correlation_travels_with_the_context():
    corr = CorrelationContext.new()
    with run_as(SecurityContext(principal="alice", correlation=corr)):
        assert current_security_context().correlation is corr
