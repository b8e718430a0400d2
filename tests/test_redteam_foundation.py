"""Red team: Secret, the clock, errors and the security context."""

from __future__ import annotations

import asyncio
import copy
import io
import json
import logging
import pickle
import threading
import traceback

import pytest

import meshsec.audit
import meshsec.clock
import meshsec.context
import meshsec.correlation
import meshsec.errors
import meshsec.secret
from meshsec.clock import FrozenClock
from meshsec.context import SecurityContext, current_security_context, run_as
from meshsec.correlation import CorrelationContext
from meshsec.errors import ConfigError, MeshsecError
from meshsec.secret import Secret
from tests.api import assert_all_is_public, assert_raised_errors_exported

VALUE = "sk-live-0123456789abcdef"

# --- Secret ---------------------------------------------------------------------


@pytest.mark.parametrize("wrapped", [Secret(VALUE), Secret(VALUE.encode())])
def test_secret_never_leaks_through_any_rendering(wrapped: Secret[str] | Secret[bytes]):
    raw = VALUE
    renderings = [
        repr(wrapped),
        str(wrapped),
        f"{wrapped}",
        f"{wrapped!r}",
        f"{wrapped:>40}",
        "%s" % wrapped,  # noqa: UP031  the %-operator is what logging uses
        "%r" % (wrapped,),  # noqa: UP031
        "{}".format(wrapped),  # noqa: UP032
        repr([wrapped]),
        repr({"k": wrapped}),
        json.dumps({"k": str(wrapped)}),
    ]
    for text in renderings:
        assert raw not in text
        assert "[REDACTED]" in text


def test_secret_never_leaks_through_logging_or_tracebacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    log = logging.getLogger("tests.redteam.secret")
    log.addHandler(handler)
    log.propagate = False
    try:
        wrapped = Secret(VALUE)
        log.warning("key=%s %r", wrapped, wrapped)
        try:
            raise ValueError(f"bad key {wrapped}")  # noqa: TRY301  the traceback is the subject
        except ValueError:
            log.exception("failed with %s", wrapped)
            text = traceback.format_exc()
    finally:
        log.removeHandler(handler)
    assert VALUE not in stream.getvalue()
    assert VALUE not in text


def test_secret_is_not_json_serializable_or_picklable():
    wrapped = Secret(VALUE)
    with pytest.raises(TypeError) as info:
        json.dumps(wrapped)
    assert VALUE not in str(info.value)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError):
            pickle.dumps(wrapped, protocol=protocol)
    with pytest.raises(TypeError):
        pickle.dumps({"nested": [wrapped]})


def test_secret_copies_are_the_same_object_and_never_duplicate_the_value():
    wrapped = Secret(VALUE)
    assert copy.copy(wrapped) is wrapped
    assert copy.deepcopy(wrapped) is wrapped
    holder = {"config": [wrapped]}
    assert copy.deepcopy(holder)["config"][0] is wrapped


def test_secret_with_lone_surrogates_compares_instead_of_raising():
    assert Secret("\ud800x") == Secret("\ud800x")
    assert Secret("\ud800x") != Secret("\ud801x")


def test_secret_comparison_is_by_type_and_value_only():
    assert Secret("a") != Secret(b"a")
    assert Secret("a") != "a"
    assert Secret("a") != "a"
    assert Secret("a") == Secret("a")
    with pytest.raises(TypeError):
        hash(Secret("a"))


@pytest.mark.parametrize("value", [None, 1, bytearray(b"x"), memoryview(b"x"), ["x"]])
def test_secret_refuses_mutable_or_non_text_values(value: object):
    with pytest.raises(TypeError):
        Secret(value)  # type: ignore[type-var]


def test_secret_has_no_instance_dict_to_dump():
    wrapped = Secret(VALUE)
    with pytest.raises(TypeError):
        vars(wrapped)


# --- clock ----------------------------------------------------------------------


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_frozen_clock_refuses_non_finite_times(bad: float):
    # A NaN "now" compares false with every expiry: nothing would ever expire.
    with pytest.raises(ValueError, match="finite"):
        FrozenClock(bad)
    clock = FrozenClock(1_700_000_000)
    with pytest.raises(ValueError, match="finite"):
        clock.set(bad)
    with pytest.raises(ValueError, match="finite"):
        clock.advance(bad)
    assert clock() == 1_700_000_000


def test_frozen_clock_advances_exactly_under_threads():
    clock = FrozenClock(0)

    def step() -> None:
        for _ in range(1000):
            clock.advance(1)

    threads = [threading.Thread(target=step) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clock() == 4000


# --- security context -------------------------------------------------------------


def test_nested_claims_cannot_be_mutated_to_grant_a_role():
    roles = ["reader"]
    claims = {"sub": "alice", "roles": roles, "org": {"teams": ["a"]}}
    ctx = SecurityContext(principal="alice", claims=claims)
    roles.append("admin")  # the caller's list changing later must not leak in
    assert ctx.claims["roles"] == ("reader",)
    with pytest.raises(AttributeError):
        ctx.claims["roles"].append("admin")
    with pytest.raises(TypeError):
        ctx.claims["org"]["teams"] = ["root"]
    with pytest.raises(AttributeError):
        ctx.claims["org"]["teams"].append("root")
    assert ctx.claims["org"]["teams"] == ("a",)


def test_obligations_are_deep_frozen_too():
    ctx = SecurityContext(obligations={"mask": ["card"]})
    with pytest.raises(AttributeError):
        ctx.obligations["mask"].append("none")


def test_absurdly_deep_claims_are_a_typed_error_not_a_recursion_error():
    deep: object = "leaf"
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ConfigError):
        SecurityContext(claims={"deep": deep})


@pytest.mark.parametrize("identity", ["", 0, b"alice", ["alice"], True])
def test_empty_or_non_text_identity_is_refused_not_counted_as_authenticated(identity: object):
    with pytest.raises(ConfigError):
        SecurityContext(principal=identity)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        SecurityContext(peer_id=identity)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        SecurityContext.anonymous().evolve(principal=identity)


@pytest.mark.parametrize(
    "values",
    [
        {"claims": ["sub", "alice"]},
        {"claims": "sub=alice"},
        {"scopes": {1, 2}},
        {"scopes": [b"read"]},
        {"correlation": "req-1"},
        {"correlation": {"correlation_id": "x"}},
        {"obligations": None},
    ],
)
def test_wrongly_typed_context_values_raise_config_error(values: dict[str, object]):
    with pytest.raises(ConfigError):
        SecurityContext(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("bogus", [None, "alice", {"principal": "admin"}, object()])
def test_run_as_refuses_anything_but_a_security_context(bogus: object):
    with pytest.raises(ConfigError), run_as(bogus):  # type: ignore[arg-type]
        pass  # pragma: no cover
    assert current_security_context() == SecurityContext.anonymous()


def test_repr_of_a_context_never_shows_claim_values():
    ctx = SecurityContext(
        principal="alice",
        claims={"email": "alice@example.org", 7: "numeric-key-value", "nested": {"ssn": "123"}},
        correlation=CorrelationContext(baggage={"session": "sess-abc"}),
    )
    text = repr(ctx)
    for value in ("alice@example.org", "numeric-key-value", "123", "sess-abc"):
        assert value not in text


def test_a_context_is_isolated_across_asyncio_tasks_even_when_they_raise():
    async def request(name: str, fail: bool) -> str:
        with run_as(SecurityContext(principal=name)):
            await asyncio.sleep(0)
            seen = current_security_context().principal or ""
            if fail:
                raise RuntimeError(name)
            return seen

    async def main() -> list[object]:
        jobs = [request(f"user-{i}", i % 3 == 0) for i in range(30)]
        return await asyncio.gather(*jobs, return_exceptions=True)

    results = asyncio.run(main())
    for i, result in enumerate(results):
        if i % 3 == 0:
            assert isinstance(result, RuntimeError)
        else:
            assert result == f"user-{i}"
    assert current_security_context() == SecurityContext.anonymous()


# --- public surface -------------------------------------------------------------


@pytest.mark.parametrize(
    "module",
    [
        meshsec.errors,
        meshsec.secret,
        meshsec.clock,
        meshsec.correlation,
        meshsec.audit,
        meshsec.context,
    ],
)
def test_public_surface_and_raised_errors_are_exported(module: object):
    assert_all_is_public(module)  # type: ignore[arg-type]
    assert_raised_errors_exported(module)  # type: ignore[arg-type]


def test_every_foundation_error_has_a_distinct_stable_code_and_no_secret_in_repr():
    errors = [
        getattr(module, name)
        for module in (meshsec.errors, meshsec.correlation, meshsec.audit)
        for name in module.__all__
        if isinstance(getattr(module, name), type)
        and issubclass(getattr(module, name), MeshsecError)
    ]
    codes = [error.code for error in errors]
    assert len(codes) == len(set(codes))
    for error in errors:
        assert error.code.count(".") == 1
        assert VALUE not in repr(error(f"about {Secret(VALUE)}"))
