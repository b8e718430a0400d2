"""CaIdentitySource: an identity renewed from a local CertificateAuthority."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Self

from meshsec.clock import Clock, to_datetime
from meshsec.errors import ConfigError, MeshsecError
from meshsec.identity import _events
from meshsec.identity._ca import DEFAULT_LEAF_TTL, CertificateAuthority
from meshsec.identity._keys import KeyType
from meshsec.identity._source import _RotatingSource
from meshsec.identity._spiffe import SpiffeId
from meshsec.identity._workload import WorkloadIdentity

_log = logging.getLogger("meshsec.identity")
# threading's waits overflow on huge or infinite timeouts (and NaN never compares).
_MAX_WAIT = threading.TIMEOUT_MAX


class CaIdentitySource(_RotatingSource):
    """Issue an identity from ``ca`` and renew it once ``renew_at`` of its life has passed.

    With the default ``renew_at=0.5`` a one-hour certificate is replaced
    after 30 minutes (half-life renewal, as SPIRE does), leaving the other
    half to ride out a CA outage. :meth:`maybe_renew` and :meth:`refresh`
    are deterministic; :meth:`start`/:meth:`stop` run a checking thread.
    ``clock`` (default: the CA's) decides when renewal is due; the CA's
    clock sets the validity. The constructor raises the CA's errors.
    """

    _actor = "meshsec.identity.CaIdentitySource"

    def __init__(
        self,
        ca: CertificateAuthority,
        spiffe_id: SpiffeId | str,
        *,
        ttl: timedelta = DEFAULT_LEAF_TTL,
        renew_at: float = 0.5,
        dns_names: Sequence[str] = (),
        key_type: KeyType = "ec-p256",
        clock: Clock | None = None,
    ) -> None:
        if (
            isinstance(renew_at, bool)
            or not isinstance(renew_at, int | float)
            or not 0.0 < renew_at < 1.0
        ):
            raise ConfigError("renew_at is a fraction of the lifetime, strictly between 0 and 1")
        self._ca = ca
        self._request = (spiffe_id, ttl, tuple(dns_names), key_type)
        self._renew_at = renew_at
        self._clock = clock or ca.clock
        identity = self._issue(audit_action="issue")
        super().__init__(identity, ca.bundle, clock=self._clock)
        self._due = self._due_time(identity)
        self._failing: str | None = None
        self._renew_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def identity(self) -> WorkloadIdentity:
        """The current identity, renewed first when renewal is due.

        Renewal therefore happens at ``renew_at`` even without :meth:`start`.
        A reader never waits: when another thread (or a subscriber called
        during this very renewal) holds the renewal lock, it gets the current
        identity.
        """
        if to_datetime(self._clock) >= self._due and self._renew_lock.acquire(blocking=False):
            try:
                if to_datetime(self._clock) >= self._due:
                    with contextlib.suppress(MeshsecError):  # audited; the current one stays
                        self._refresh()
            finally:
                self._renew_lock.release()
        return super().identity

    @property
    def renew_due(self) -> datetime:
        """When :meth:`maybe_renew` will next replace the identity."""
        return self._due

    def maybe_renew(self) -> bool:
        """Renew if due; return True when a new identity was swapped in.

        A failed renewal is audited and leaves the current identity in place.
        """
        with self._renew_lock:
            # Checked under the lock: two callers must not both renew.
            if to_datetime(self._clock) < self._due:
                return False
            try:
                self._refresh()
            except MeshsecError:
                return False
            return True

    def refresh(self) -> WorkloadIdentity:
        """Issue a new identity now, swap it in and notify subscribers.

        Raises the CA's errors (audited as a failed rotation, once per streak
        of identical failures).
        """
        with self._renew_lock:
            return self._refresh()

    def _refresh(self) -> WorkloadIdentity:
        try:
            identity = self._issue(audit_action=None)
        except MeshsecError as exc:
            # A background renewer retries every check_interval: audit a
            # streak of identical failures once, not once per attempt.
            if exc.code != self._failing:
                self._failing = exc.code
                _events.certificate_failure(
                    "rotate",
                    actor=self._actor,
                    target=str(self.identity.spiffe_id),
                    reason=exc.code,
                    clock=self._clock,
                )
            raise
        self._failing = None
        self._due = self._due_time(identity)
        self._rotate(identity, self._ca.bundle)
        return identity

    def _issue(self, *, audit_action: str | None) -> WorkloadIdentity:
        spiffe_id, ttl, dns_names, key_type = self._request
        return self._ca._issue(  # same package: the source audits the rotation itself
            spiffe_id, ttl=ttl, dns_names=dns_names, key_type=key_type, audit_action=audit_action
        )

    def _due_time(self, identity: WorkloadIdentity) -> datetime:
        issued = to_datetime(self._clock)
        return issued + (identity.not_after - issued) * self._renew_at

    # -- background renewal ------------------------------------------------

    def start(self, *, check_interval: float = 1.0) -> Self:
        """Check for due renewal every ``check_interval`` seconds in a daemon thread."""
        if not isinstance(check_interval, int | float) or not 0 < check_interval < _MAX_WAIT:
            raise ConfigError("check_interval must be a positive, finite number of seconds")
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, args=(check_interval,), name="meshsec-ca-identity", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join()

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.maybe_renew()
            except Exception:  # noqa: BLE001  the renewer must survive anything and keep the current identity
                _log.exception("identity renewal failed")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
