"""Load a workload identity into an ``ssl.SSLContext`` without a plaintext key file.

``SSLContext.load_cert_chain`` reads only from paths (there is no in-memory
variant before Python 3.14's proposals), so the key has to become a file for
an instant. meshsec never lets that file hold the key in the clear
(DESIGN.md principle 5): the key is written as encrypted PKCS#8 under a
random one-time password that exists only in memory and is handed to OpenSSL
through the ``password`` callback.

Where the platform offers it (Linux ``memfd_create``) the "file" is an
anonymous in-memory file reached through ``/proc/self/fd``, so nothing touches
a file system at all. Elsewhere a private ``0700`` directory with a ``0600``
file is used and removed in a ``finally`` block.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import ssl
import tempfile
from collections.abc import Iterator

from meshsec.identity import WorkloadIdentity


def load_identity(
    ctx: ssl.SSLContext, identity: WorkloadIdentity, *, use_memfd: bool = True
) -> None:
    """Install the identity's chain and key into ``ctx``."""
    password = secrets.token_urlsafe(32).encode("ascii")
    key_pem = identity.private_key_pem(passphrase=password)
    opener = _memfd_paths if use_memfd and _memfd_available() else _tempfile_paths
    with opener(identity.chain_pem, key_pem.reveal()) as (cert_path, key_path):
        # The base method: meshsec contexts refuse load_cert_chain from outside.
        ssl.SSLContext.load_cert_chain(ctx, cert_path, key_path, password=lambda: password)


def _memfd_available() -> bool:
    return hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd")


@contextlib.contextmanager
def _memfd_paths(chain_pem: bytes, key_pem: bytes) -> Iterator[tuple[str, str]]:
    fds: list[int] = []
    try:
        for name, data in (("meshsec-chain", chain_pem), ("meshsec-key", key_pem)):
            fd = os.memfd_create(name, os.MFD_CLOEXEC)
            fds.append(fd)
            with open(fd, "wb", closefd=False) as handle:
                handle.write(data)
        yield f"/proc/self/fd/{fds[0]}", f"/proc/self/fd/{fds[1]}"
    finally:
        for fd in fds:
            os.close(fd)


@contextlib.contextmanager
def _tempfile_paths(chain_pem: bytes, key_pem: bytes) -> Iterator[tuple[str, str]]:
    directory = tempfile.mkdtemp(prefix="meshsec-")  # created 0700
    cert_path = os.path.join(directory, "chain.pem")
    key_path = os.path.join(directory, "key.pem")
    try:
        for path, data in ((cert_path, chain_pem), (key_path, key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        yield cert_path, key_path
    finally:
        for path in (cert_path, key_path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        os.rmdir(directory)
