"""Hostile header values: nothing unsafe ever comes out of inject()."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from meshsec.correlation import (
    CorrelationConfig,
    PropagationBoundary,
    Rejection,
    extract,
    inject,
)
from tests.correlation.conftest import TRACEPARENT

# Printable ASCII, no leading/trailing blank: no CR, LF, NUL, other controls
# or non-ASCII can split a header or reach a log line raw.
SAFE_VALUE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")
CONFIG = CorrelationConfig(boundary=PropagationBoundary(hosts=("*.internal.example",)))
INSIDE = "https://svc.internal.example/"

NASTY = [
    "\r\n",
    "\n",
    "\x00",
    "\x1b[31m",
    "\u2028",
    "\u202e",
    "\ufeff",
    "\ud800",
    "%0d%0a",
    "%00",
    "%",
    ",",
    ";",
    "=",
    " ",
    "\t",
    "é",
    "\U0001f600",
    "X-Injected: 1",
]

nasty_text = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(NASTY) | st.text(max_size=10), max_size=30).map("".join),
    # About 10 kB: a short hostile pattern repeated (hypothesis caps generated sizes).
    st.builds(
        lambda unit, size: (unit * (size // len(unit) + 1))[:size],
        st.text(alphabet=st.sampled_from("ab=,;% \r\n\x00\t-0f+\u00e9"), min_size=1, max_size=40),
        st.integers(9_000, 10_500),
    ),
    st.sampled_from(NASTY),
)


def near_valid(valid: str) -> st.SearchStrategy[str]:
    """A valid value with hostile text spliced in somewhere."""
    return st.builds(
        lambda cut, junk: valid[:cut] + junk + valid[cut:],
        st.integers(0, len(valid)),
        st.sampled_from(NASTY) | st.text(max_size=5),
    )


values = st.one_of(
    nasty_text, near_valid(TRACEPARENT), near_valid("rojo=1,congo=2"), near_valid("a=1,b=%20")
)


def assert_safe(out: dict[str, str]) -> None:
    assert set(out) <= {"X-Correlation-ID", "traceparent", "tracestate", "baggage"}
    for name, value in out.items():
        assert isinstance(value, str)
        assert SAFE_VALUE.fullmatch(value), (name, value)
    assert len(out["X-Correlation-ID"]) <= 128
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]", out["traceparent"])
    assert len(out.get("tracestate", "")) <= 8192
    assert len(out.get("baggage", "")) <= 8192


@given(cid=values, alias=values, traceparent=values, tracestate=values, baggage=values)
def test_nothing_unsafe_ever_comes_out_of_inject(
    cid: str, alias: str, traceparent: str, tracestate: str, baggage: str
) -> None:
    incoming = {
        "X-Correlation-ID": cid,
        "X-Request-ID": alias,
        "traceparent": traceparent,
        "tracestate": tracestate,
        "baggage": baggage,
    }
    ctx = extract(incoming, config=CONFIG)
    assert_safe(inject(context=ctx, destination=INSIDE, config=CONFIG))
    assert_safe(inject(context=ctx, destination="https://evil.example/", config=CONFIG))
    assert set(ctx.rejected) <= {r.value for r in Rejection}


@given(cid=values)
def test_hostile_correlation_id_is_never_echoed(cid: str) -> None:
    ctx = extract({"X-Correlation-ID": cid})
    stripped = cid.strip(" \t")
    if re.fullmatch(r"[A-Za-z0-9._:\-]{1,128}", stripped):
        assert ctx.correlation_id == stripped
    else:
        assert ctx.correlation_id != cid
        if stripped:
            assert Rejection.INVALID_ID in ctx.rejected


@given(baggage=values)
def test_hostile_baggage_is_bounded_and_safe(baggage: str) -> None:
    ctx = extract({"baggage": baggage})
    assert len(ctx.baggage) <= 180
    out = inject(context=ctx)
    assert_safe(out)
    # What goes out decodes back to what came in (minus dropped entries).
    if "baggage" in out:
        assert dict(extract({"baggage": out["baggage"]}).baggage) == dict(ctx.baggage)


@given(
    key=st.sampled_from(
        [
            "token",
            "Secret",
            "PASSWORD",
            "passwd",
            "Authorization",
            "auth",
            "cookie",
            "session",
            "key",
            "apikey",
            "api_key",
            "credential",
            "private",
        ]
    ),
    prefix=st.from_regex(r"[a-z_]{0,5}", fullmatch=True),
    suffix=st.from_regex(r"[a-z_]{0,5}", fullmatch=True),
)
def test_secret_looking_baggage_keys_never_propagate(key: str, prefix: str, suffix: str) -> None:
    name = prefix + key + suffix
    ctx = extract({"baggage": f"{name}=hunter2,tenant=acme"})
    out = inject(context=ctx)
    assert "hunter2" not in str(out)
    assert out["baggage"] == "tenant=acme"


def test_percent_encoded_secret_key_is_still_secret() -> None:
    # OpenTelemetry Python percent-decodes keys: "tok%65n" arrives as "token".
    ctx = extract({"baggage": "tok%65n=hunter2,api%5Fkey=k,tenant=acme"})
    assert dict(ctx.baggage) == {"tenant": "acme"}
    assert "hunter2" not in str(inject(context=ctx))


def test_oversize_future_traceparent_is_not_parsed() -> None:
    value = f"01-{'a' * 32}-{'b' * 16}-01-" + "x" * 600
    ctx = extract({"traceparent": value})
    assert ctx.trace_id != "a" * 32
    assert Rejection.INVALID_TRACEPARENT in ctx.rejected
