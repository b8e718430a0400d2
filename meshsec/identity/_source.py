"""IdentitySource: where a service gets its current identity and trust bundle."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import NoReturn, Protocol, runtime_checkable

from meshsec.clock import Clock, system_clock
from meshsec.identity import _events
from meshsec.identity._bundle import TrustBundle
from meshsec.identity._workload import WorkloadIdentity

Subscriber = Callable[[WorkloadIdentity, TrustBundle], None]
Unsubscribe = Callable[[], None]

_log = logging.getLogger("meshsec.identity")


@runtime_checkable
class IdentitySource(Protocol):
    """Anything that hands out the current identity and bundle and reports rotation.

    ``subscribe(callback)`` calls ``callback(identity, bundle)`` after every
    rotation, from the rotating thread, and returns a callable that removes
    the subscription. Readers of ``identity`` and ``bundle`` always see a
    consistent, complete value.
    """

    @property
    def identity(self) -> WorkloadIdentity: ...

    @property
    def bundle(self) -> TrustBundle: ...

    def subscribe(self, callback: Subscriber) -> Unsubscribe: ...


class _RotatingSource:
    """Shared state and subscriber handling for the concrete sources."""

    _actor = "meshsec.identity"

    def __init__(
        self, identity: WorkloadIdentity, bundle: TrustBundle, *, clock: Clock = system_clock
    ) -> None:
        if not isinstance(identity, WorkloadIdentity) or not isinstance(bundle, TrustBundle):
            raise TypeError("a source needs a WorkloadIdentity and a TrustBundle")
        self._clock = clock
        self._lock = threading.Lock()
        self._current = (identity, bundle)
        self._subscribers: dict[int, Subscriber] = {}
        self._next_token = 0

    @property
    def identity(self) -> WorkloadIdentity:
        return self._current[0]

    @property
    def bundle(self) -> TrustBundle:
        return self._current[1]

    def subscribe(self, callback: Subscriber) -> Unsubscribe:
        """Call ``callback(identity, bundle)`` after each rotation; return an unsubscriber."""
        with self._lock:
            token = self._next_token
            self._next_token += 1
            self._subscribers[token] = callback

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers.pop(token, None)

        return unsubscribe

    def _rotate(self, identity: WorkloadIdentity, bundle: TrustBundle) -> None:
        """Swap in a new pair, emit one ``certificate/rotate`` event, notify subscribers."""
        with self._lock:
            self._current = (identity, bundle)
            subscribers = list(self._subscribers.values())
        _events.certificate_success(
            "rotate",
            actor=self._actor,
            target=str(identity.spiffe_id),
            serial=identity.serial_number,
            not_after=identity.not_after,
            extra={"bundle_roots": str(len(bundle))},
            clock=self._clock,
        )
        for callback in subscribers:
            try:
                callback(identity, bundle)
            except Exception:  # noqa: BLE001  one failing subscriber must not stop the others
                _log.exception("identity rotation subscriber failed")

    def __repr__(self) -> str:
        identity, bundle = self._current
        return (
            f"{type(self).__name__}(spiffe_id={str(identity.spiffe_id)!r}, "
            f"not_after={identity.not_after.isoformat()!r}, "
            f"trust_domain={bundle.trust_domain!r})"
        )

    def __reduce__(self) -> NoReturn:
        raise TypeError("an identity source holds a private key and cannot be pickled")


class StaticIdentitySource(_RotatingSource):
    """A fixed identity and bundle, rotated only by hand with :meth:`update`.

    ``clock`` only timestamps the audit events.

    No chain or trust-domain check is made: the caller chose both values
    (federation may hand a bundle of another trust domain).
    """

    _actor = "meshsec.identity.StaticIdentitySource"

    def update(
        self, identity: WorkloadIdentity | None = None, bundle: TrustBundle | None = None
    ) -> None:
        """Replace the identity, the bundle or both; subscribers hear of it once."""
        current_identity, current_bundle = self._current
        new_identity = current_identity if identity is None else identity
        new_bundle = current_bundle if bundle is None else bundle
        if not isinstance(new_identity, WorkloadIdentity) or not isinstance(
            new_bundle, TrustBundle
        ):
            raise TypeError("update takes a WorkloadIdentity and/or a TrustBundle")
        self._rotate(new_identity, new_bundle)
