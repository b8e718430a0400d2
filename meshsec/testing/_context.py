"""acting_as and frozen_clock: run code as a caller, at a time of the test's choosing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from meshsec import correlation
from meshsec.clock import FrozenClock
from meshsec.context import SecurityContext, run_as
from meshsec.errors import ConfigError
from meshsec.identity import IdentitySource, SpiffeId

__all__ = ["acting_as", "frozen_clock"]

Principal = str | SpiffeId | IdentitySource


def _principal_text(value: Principal | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, SpiffeId):
        return str(value)
    if isinstance(value, IdentitySource):
        return str(value.identity.spiffe_id)
    raise ConfigError("a principal is a string, a SpiffeId or a workload's identity source")


def _peer_text(value: Principal | None) -> str | None:
    text = _principal_text(value)
    # peer_id claims an mTLS-proven SPIFFE ID: a malformed one would make a
    # test pass that the real integration could never produce.
    return None if text is None else str(SpiffeId.parse(text))


@contextlib.contextmanager
def acting_as(
    principal: Principal | None = None,
    *,
    peer_id: Principal | None = None,
    scopes: Iterable[str] | str = (),
    claims: Mapping[str, Any] | None = None,
) -> Iterator[SecurityContext]:
    """Run the block as this caller, as an integration would have established it.

    ``principal`` is the subject (a token's ``sub``); ``peer_id`` is the
    mTLS-proven SPIFFE ID (validated: InvalidSpiffeId otherwise) and is the
    principal too when none is given, as with an mTLS call without a token.
    Either may be a workload's identity source. ``scopes`` may be an OAuth scope string
    (``"orders:read orders:write"``). The block also sees the correlation
    context bound at entry. The previous caller is restored on exit.
    """
    peer = _peer_text(peer_id)
    subject = _principal_text(principal)
    context = SecurityContext(
        # As the integrations do: without a token, the caller is its peer ID.
        principal=subject if subject is not None else peer,
        peer_id=peer,
        scopes=scopes,
        claims=dict(claims or {}),
        correlation=correlation.peek(),
    )
    with run_as(context) as ctx:
        yield ctx


def frozen_clock(start: float | datetime | str | None = None) -> FrozenClock:
    """A :class:`~meshsec.clock.FrozenClock` at ``start`` (default: now, to the second).

    ``start`` is POSIX seconds, an aware datetime or an ISO 8601 string with
    an offset (``"2026-01-01T00:00:00Z"``). Raises ConfigError for a naive
    time. Pass the clock as ``clock=`` and move it with ``advance``/``set``.
    """
    if isinstance(start, str):
        try:
            start = datetime.fromisoformat(start)
        except ValueError:
            raise ConfigError(
                "frozen_clock needs an ISO 8601 time such as 2026-01-01T00:00:00Z"
            ) from None
    if isinstance(start, datetime) and start.tzinfo is None:
        raise ConfigError("frozen_clock needs an aware time (add Z or +00:00)")
    if start is None:
        return FrozenClock(float(int(FrozenClock()())))
    return FrozenClock(start)
