"""Network timeouts for the OPA client and the policy URL poller."""

from __future__ import annotations

import math

from meshsec.policy._errors import PolicyConfigError


def timeout_pair(value: object, where: str) -> tuple[float, float]:
    """``2.0`` or ``(connect, read)`` -> a validated ``(connect, read)`` pair.

    Checked at construction: a wrong shape found only at request time would
    turn every later decision or reload into a silent failure.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        pair: tuple[object, ...] = (value, value)
    elif isinstance(value, tuple) and len(value) == 2:
        pair = value
    else:
        raise PolicyConfigError(f"{where} must be seconds or a (connect, read) pair")
    for part in pair:
        if isinstance(part, bool) or not isinstance(part, int | float):
            raise PolicyConfigError(f"{where} must be positive numbers of seconds")
        if not (math.isfinite(part) and part > 0):
            raise PolicyConfigError(f"{where} must be positive numbers of seconds")
    connect, read = pair
    return float(connect), float(read)  # type: ignore[arg-type]
