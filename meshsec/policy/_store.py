"""Hot reload: watch a policy file or HTTPS URL and swap the policy atomically.

A bad update (invalid document, bad signature, unreachable server) never
replaces the last good policy; either way one ``configuration`` audit event
records what happened.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from meshsec.errors import MeshsecError
from meshsec.policy import _audit
from meshsec.policy._errors import PolicyConfigError
from meshsec.policy._model import MAX_DOCUMENT_BYTES, PolicySet, parse_json, parse_yaml
from meshsec.policy._timeouts import timeout_pair

Listener = Callable[[PolicySet], None]
_SETTLE_SECONDS = 2.0


class PolicyStore:
    """Holds the current :class:`PolicySet` of a file or URL and reloads it.

    ``source`` is a file path or an ``https://`` URL (fetched with requests,
    using ``If-None-Match`` with the last ETag). With ``keys`` (a
    ``meshsec.tokens.KeySet``) the source must be a signed bundle. The first
    load must succeed (it raises otherwise); later failures keep the last
    good policy. Call :meth:`poll` to check once (deterministic in tests) or
    :meth:`start` to poll from a daemon thread.
    """

    def __init__(
        self,
        source: str | Path,
        *,
        keys: Any = None,
        timeout: float | tuple[float, float] = 5.0,
        ca_bundle: str | Path | None = None,
        unsafe_allow_http: bool = False,
    ) -> None:
        self._source = str(source)
        self._display = _without_query(self._source)
        if isinstance(source, str) and "://" in source and urlsplit(source).username is not None:
            # Credentials in a URL end up in reprs, logs and audit targets.
            raise PolicyConfigError("policy URL must not carry credentials")
        self._is_url = isinstance(source, str) and source.startswith(("https://", "http://"))
        if self._is_url and source.startswith("http://") and not unsafe_allow_http:  # type: ignore[union-attr]
            raise PolicyConfigError("policy URL must be https:// (or pass unsafe_allow_http=True)")
        self._keys = keys
        self._timeout = timeout_pair(timeout, "PolicyStore timeout")
        # Certificates are always verified: against ca_bundle, else the system store.
        self._verify: str = str(ca_bundle) if ca_bundle is not None else ""
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._fingerprint: tuple[int, int, int] | None = None
        self._digest: bytes | None = None
        self._last_error: MeshsecError = PolicyConfigError("policy source could not be loaded")
        self._etag: str | None = None
        self._session: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        if self._is_url and source.startswith("http://"):  # type: ignore[union-attr]
            _audit.configuration(
                ok=True,
                action="policy.unsafe_allow_http",
                target=self._display,
                reason=None,
                attributes={"unsafe_allow_http": True},
            )
        self._current: PolicySet | None = None
        if not self._reload(initial=True):
            raise self._last_error  # the first load has no good policy to fall back on

    def __repr__(self) -> str:
        version = self._current.version_id[:12] if self._current else None
        return f"PolicyStore(source={self._display!r}, version={version!r})"

    @property
    def current(self) -> PolicySet:
        assert self._current is not None
        return self._current

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(policy_set)`` after every successful swap."""
        self._listeners.append(listener)

    def poll(self) -> bool:
        """Check the source once; return True when a new policy was swapped in."""
        with self._lock:
            return self._reload(initial=False)

    def start(self, interval: float = 5.0) -> None:
        """Poll every ``interval`` seconds from a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name="meshsec-policy-store", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        """Stop polling and release the HTTP session."""
        self.stop()
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> PolicyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.poll()
            except Exception:  # noqa: BLE001, S112  a surprise must not end hot reload for good
                continue

    # -- loading --------------------------------------------------------------

    def _reload(self, *, initial: bool) -> bool:
        try:
            fetched = self._fetch_url() if self._is_url else self._read_file()
            if fetched is None:
                return False
            data = fetched
            policy = self._parse(data)
        except MeshsecError as exc:
            self._last_error = exc
            _audit.configuration(
                ok=False,
                action="policy.reload" if not initial else "policy.load",
                target=self._display,
                reason=exc.code,
                attributes={"kept_version": self._current.version_id if self._current else None},
            )
            return False
        if self._current is not None and policy.version_id == self._current.version_id:
            return False
        previous = self._current
        self._current = policy  # one reference assignment: readers see old or new, never half
        _audit.configuration(
            ok=True,
            action="policy.load" if initial else "policy.reload",
            target=self._display,
            reason=None,
            attributes={
                "version": policy.version_id,
                "previous_version": previous.version_id if previous else None,
            },
        )
        self._notify(policy)
        return True

    def _notify(self, policy: PolicySet) -> None:
        # One failing subscriber must not keep the others (an Engine among
        # them) on the old policy, nor end the polling thread.
        for listener in list(self._listeners):
            try:
                listener(policy)
            except Exception as exc:  # noqa: BLE001  reported, then the next subscriber runs
                _audit.configuration(
                    ok=False,
                    action="policy.subscriber",
                    target=self._display,
                    reason=getattr(exc, "code", None) or "policy.invalid",
                    attributes={"version": policy.version_id, "error": type(exc).__name__},
                )

    def _parse(self, data: bytes) -> PolicySet:
        if self._keys is not None:
            from meshsec.policy._bundle import bundle_from_bytes

            return bundle_from_bytes(data, self._keys)
        if self._display.lower().endswith((".yaml", ".yml")):
            return PolicySet.from_dict(parse_yaml(data))
        return PolicySet.from_dict(parse_json(data))

    def _read_file(self) -> bytes | None:
        path = Path(self._source)
        try:
            stat = path.stat()
            fingerprint = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            # File times are coarse (a few ms): two writes in one tick can share
            # an mtime, so a fresh file is always read and compared by digest.
            settled = time.time() - stat.st_mtime > _SETTLE_SECONDS
            if settled and fingerprint == self._fingerprint:
                return None
            data = path.read_bytes()
        except OSError as exc:
            raise PolicyConfigError(f"cannot read policy file {path}: {exc.strerror}") from None
        # Remember what was read, good or bad, so one bad edit is reported once.
        self._fingerprint = fingerprint
        digest = hashlib.sha256(data).digest()
        if digest == self._digest:
            return None
        self._digest = digest
        return data

    def _fetch_url(self) -> bytes | None:
        import requests

        if self._session is None:
            self._session = requests.Session()
        headers = {"If-None-Match": self._etag} if self._etag else {}
        try:
            with self._session.get(
                self._source,
                headers=headers,
                timeout=self._timeout,
                verify=self._verify or True,
                stream=True,
                allow_redirects=False,
            ) as response:
                if response.status_code == 304:
                    return None
                if response.status_code != 200:
                    raise PolicyConfigError(f"policy URL answered HTTP {response.status_code}")
                data = _read_limited(response, time.monotonic() + sum(self._timeout))
                etag = response.headers.get("ETag")
        except requests.RequestException as exc:
            raise PolicyConfigError(f"cannot fetch policy URL: {type(exc).__name__}") from None
        self._etag = etag
        return data


def _without_query(source: str) -> str:
    """The source as shown in reprs and audit targets.

    A pre-signed URL carries its credential in the query string
    (``?X-Amz-Signature=...``); it must not reach the audit trail.
    """
    if "://" not in source:
        return source
    parts = urlsplit(source)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _read_limited(response: Any, deadline: float) -> bytes:
    # The read timeout bounds each socket wait only; the deadline bounds the
    # whole body, so a server dribbling bytes cannot hold the poller forever.
    chunks, total = [], 0
    while chunk := response.raw.read1(65536, decode_content=True):
        total += len(chunk)
        if total > MAX_DOCUMENT_BYTES:
            raise PolicyConfigError("policy document is larger than 16 MiB")
        if time.monotonic() > deadline:
            raise PolicyConfigError("policy URL answered too slowly")
        chunks.append(chunk)
    return b"".join(chunks)
