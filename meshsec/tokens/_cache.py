"""The bounded verified-token cache.

Keyed by the SHA-256 of the exact token bytes, so a hit means the very same
token passed every signature and claim check before. An entry is dropped as
soon as its token expires, and whenever the key set changed since.
"""

from __future__ import annotations

import threading

import attrs

from meshsec.tokens._claims import Claims


@attrs.frozen
class _Entry:
    claims: Claims
    valid_until: float  # exp plus leeway: the moment the token stops verifying
    keys_version: int


class VerifiedCache:
    """At most ``size`` entries; the oldest goes first. Thread-safe."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: dict[bytes, _Entry] = {}
        self._lock = threading.Lock()

    def get(self, digest: bytes, now: float, keys_version: int) -> Claims | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if now >= entry.valid_until or entry.keys_version != keys_version:
            with self._lock:
                self._entries.pop(digest, None)
            return None
        return entry.claims

    def put(self, digest: bytes, claims: Claims, valid_until: float, keys_version: int) -> None:
        entry = _Entry(claims, valid_until, keys_version)
        with self._lock:
            if digest not in self._entries and len(self._entries) >= self._size:
                # dicts keep insertion order: drop the oldest entry.
                del self._entries[next(iter(self._entries))]
            self._entries[digest] = entry

    def __len__(self) -> int:
        return len(self._entries)
