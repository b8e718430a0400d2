"""meshsec.correlation inject+extract beside the bare OpenTelemetry propagators.

Both sides read the same incoming headers (traceparent, tracestate, baggage,
a correlation ID) and write outgoing headers from what they read. The
meshsec side also validates every value, enforces the propagation boundary
and filters secret-looking baggage keys. Target: at most 1.3x.
"""

from __future__ import annotations

from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from benchmarks._harness import compare, row
from meshsec.correlation import CorrelationConfig, PropagationBoundary, extract, inject, scope

HEADERS = {
    "X-Correlation-ID": "req-8c1f2b7e",
    "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "tracestate": "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
    "baggage": "userId=alice,serverNode=DF%2028,isProduction=false",
}

_TRACE = TraceContextTextMapPropagator()
_BAGGAGE = W3CBaggagePropagator()
_CONFIG = CorrelationConfig(boundary=PropagationBoundary(hosts=("*.internal.example",)))


def raw() -> object:
    ctx = _TRACE.extract(HEADERS)
    ctx = _BAGGAGE.extract(HEADERS, context=ctx)
    out: dict[str, str] = {}
    _TRACE.inject(out, context=ctx)
    _BAGGAGE.inject(out, context=ctx)
    return out


def mine() -> object:
    return inject(context=extract(HEADERS))


def mine_boundary() -> object:
    ctx = extract(HEADERS, config=_CONFIG)
    return inject(context=ctx, destination="https://api.internal.example/v1", config=_CONFIG)


def mine_scoped() -> object:
    with scope(HEADERS):
        return inject()


def main() -> None:
    print(row("inject+extract", compare(mine, raw), target="<= 1.3x", raw_name="otel-api"))
    print(
        row(
            "inject+extract, destination checked",
            compare(mine_boundary, raw),
            target="<= 1.3x",
            raw_name="otel-api",
        )
    )
    print(
        row(
            "scope(headers) + inject()",
            compare(mine_scoped, raw),
            target="<= 1.3x",
            raw_name="otel-api",
        )
    )


if __name__ == "__main__":
    main()
