"""FileIdentitySource: PEM files written by an agent (SPIRE agent, cert-manager, Vault)."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from datetime import timedelta
from typing import Self

from meshsec.clock import Clock, system_clock, to_datetime
from meshsec.errors import ConfigError, MeshsecError
from meshsec.identity import _events
from meshsec.identity._bundle import TrustBundle
from meshsec.identity._chain import verify_identity
from meshsec.identity._errors import CertificateExpired
from meshsec.identity._files import read_file
from meshsec.identity._keys import Passphrase, passphrase_bytes
from meshsec.identity._source import _RotatingSource
from meshsec.identity._workload import WorkloadIdentity
from meshsec.secret import Secret

_log = logging.getLogger("meshsec.identity")


def _one_path(
    name: str, value: str | os.PathLike[str] | None, alias: str | os.PathLike[str] | None
) -> str:
    if value is not None and alias is None:
        return os.fspath(value)
    if value is None and alias is not None:
        return os.fspath(alias)
    raise ConfigError(f"give the {name} file once, as {name}= or {name}_path=")


def _seconds(value: float | timedelta) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | timedelta):
        raise ConfigError("poll_interval must be a number of seconds or a timedelta")
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    # threading's waits overflow on huge or infinite timeouts; NaN never compares.
    if not 0 < seconds < threading.TIMEOUT_MAX:
        raise ConfigError("poll_interval must be a positive, finite number of seconds")
    return seconds


class FileIdentitySource(_RotatingSource):
    """Reload an identity and bundle from PEM files whenever their content changes.

    Agents rewrite the certificate, key and bundle files as they rotate; a
    poll may catch them half-way. A new set of files is swapped in only when
    it parses, the key matches the certificate, the chain verifies against
    the bundle and the certificate is valid by ``clock``; otherwise the last
    good identity stays in place and one failure event is audited (once per
    distinct bad content and reason; bad content is re-checked on each poll,
    so a not-yet-valid certificate is taken once it becomes valid). When the
    files stop changing and the current identity expires, one ``expired``
    failure event says so. Keys may be
    plaintext (as agents write them) or encrypted under ``passphrase``.

    Deterministic use: call :meth:`poll`. Background use: :meth:`start` and
    :meth:`stop` (or ``with source:``), checking every ``poll_interval``.
    The constructor raises the typed error when the first load fails.
    """

    _actor = "meshsec.identity.FileIdentitySource"

    def __init__(
        self,
        cert: str | os.PathLike[str] | None = None,
        key: str | os.PathLike[str] | None = None,
        bundle: str | os.PathLike[str] | None = None,
        *,
        passphrase: Passphrase | None = None,
        trust_domain: str | None = None,
        poll_interval: float | timedelta = 5.0,
        clock: Clock = system_clock,
        cert_path: str | os.PathLike[str] | None = None,
        key_path: str | os.PathLike[str] | None = None,
        bundle_path: str | os.PathLike[str] | None = None,
    ) -> None:
        # ``cert``/``key``/``bundle`` are the names; the ``*_path``
        # keywords are the earlier spelling, still accepted.
        self._paths = (
            _one_path("cert", cert, cert_path),
            _one_path("key", key, key_path),
            _one_path("bundle", bundle, bundle_path),
        )
        self._passphrase = None if passphrase is None else Secret(passphrase_bytes(passphrase))
        self._trust_domain = trust_domain
        self._interval = _seconds(poll_interval)
        self._clock = clock
        raw = self._read()
        try:
            identity, trust_bundle = self._parse(raw)
        except MeshsecError as exc:
            _events.certificate_failure(
                "load", actor=self._actor, target=None, reason=exc.code, clock=clock
            )
            raise
        super().__init__(identity, trust_bundle, clock=clock)
        self._digest = _digest(raw)
        self._failed: tuple[bytes, str] | None = None
        self._expiry_reported = False
        self._poll_lock = threading.Lock()
        self._last_poll = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def identity(self) -> WorkloadIdentity:
        """The current identity; the files are re-checked first when a poll is due."""
        self._poll_if_due()
        return super().identity

    @property
    def bundle(self) -> TrustBundle:
        """The current bundle; the files are re-checked first when a poll is due."""
        self._poll_if_due()
        return super().bundle

    def _poll_if_due(self) -> None:
        # Reloading follows poll_interval even without start(). A reader never
        # waits: when a poll is running (another thread, or a subscriber
        # called by this very poll) it gets the current value.
        if self._clock() - self._last_poll < self._interval:
            return
        if not self._poll_lock.acquire(blocking=False):
            return
        try:
            self._poll_locked()
        except Exception:  # noqa: BLE001  a reader must never fail: keep the last good identity
            _log.exception("identity file poll failed")
        finally:
            self._poll_lock.release()

    def _poll_locked(self) -> bool:
        self._last_poll = self._clock()
        return self._poll()

    def poll(self) -> bool:
        """Reload if the files changed; return True when a new identity was swapped in."""
        with self._poll_lock:  # the background thread and a caller may poll at once
            return self._poll_locked()

    def _poll(self) -> bool:
        try:
            raw = self._read()
        except MeshsecError as exc:
            return self._refuse(b"unreadable", exc)
        digest = _digest(raw)
        if digest == self._digest:
            self._check_expiry()
            return False
        # Bad content is parsed again on every poll: a certificate refused as
        # "not yet valid" (clock skew with the agent) becomes good without the
        # files changing. It is audited once per content and reason.
        try:
            identity, bundle = self._parse(raw)
        except MeshsecError as exc:
            return self._refuse(digest, exc)
        self._digest, self._failed = digest, None
        self._expiry_reported = False
        self._rotate(identity, bundle)
        return True

    def _check_expiry(self) -> None:
        # The agent has stopped rotating and the identity ran out: say so once.
        identity = self.identity
        if self._expiry_reported or to_datetime(self._clock) < identity.not_after:
            return
        self._expiry_reported = True
        _events.certificate_failure(
            "expired",
            actor=self._actor,
            target=str(identity.spiffe_id),
            reason=CertificateExpired.code,
            clock=self._clock,
        )

    def _read(self) -> tuple[bytes, bytes, bytes]:
        cert, key, bundle = (read_file(path) for path in self._paths)
        return cert, key, bundle

    def _parse(self, raw: tuple[bytes, bytes, bytes]) -> tuple[WorkloadIdentity, TrustBundle]:
        cert_pem, key_pem, bundle_pem = raw
        identity = WorkloadIdentity.from_pem(cert_pem, key_pem, passphrase=self._passphrase)
        trust_domain = self._trust_domain or identity.spiffe_id.trust_domain
        bundle = TrustBundle.from_pem(bundle_pem, trust_domain=trust_domain)
        verify_identity(identity, bundle, now=to_datetime(self._clock))
        return identity, bundle

    def _refuse(self, digest: bytes, exc: MeshsecError) -> bool:
        if (digest, exc.code) != self._failed:
            self._failed = (digest, exc.code)
            _events.certificate_failure(
                "rotate",
                actor=self._actor,
                target=str(self.identity.spiffe_id),
                reason=exc.code,
                clock=self._clock,
            )
        return False

    # -- background polling ------------------------------------------------

    def start(self) -> Self:
        """Poll in a daemon thread every ``poll_interval`` seconds until :meth:`stop`."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="meshsec-file-identity", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the polling thread and wait for it."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.poll()
            except Exception:  # noqa: BLE001  the poller must survive anything and keep the last good identity
                _log.exception("identity file poll failed")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _digest(raw: tuple[bytes, bytes, bytes]) -> bytes:
    hasher = hashlib.sha256()
    for part in raw:
        hasher.update(len(part).to_bytes(8, "big"))
        hasher.update(part)
    return hasher.digest()
