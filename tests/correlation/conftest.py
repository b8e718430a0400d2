"""Shared values for the correlation tests."""

from __future__ import annotations

import pytest

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{SPAN_ID}-01"


@pytest.fixture
def headers() -> dict[str, str]:
    return {
        "X-Correlation-ID": "req-42",
        "traceparent": TRACEPARENT,
        "tracestate": "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
        "baggage": "userId=alice,serverNode=DF%2028,isProduction=false",
    }
