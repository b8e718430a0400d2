"""Writing identity files: atomic replace, owner-only modes for keys."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from meshsec.identity._errors import IdentityFileError

KEY_MODE = 0o600
PUBLIC_MODE = 0o644
DIR_MODE = 0o700


def write_file(path: str | os.PathLike[str], data: bytes, *, mode: int) -> None:
    """Write ``data`` to ``path`` atomically with ``mode`` set before any byte lands.

    The temporary file is created 0600 in the target directory and renamed over
    the target, so a reader (an mTLS server polling files) never sees half a
    file and a key is never world-readable, not even for a moment.
    """
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise IdentityFileError(f"cannot write into {target.parent}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise IdentityFileError(f"cannot write {target}: {exc.strerror}") from None


MAX_FILE_BYTES = 1 << 20  # far above any real chain or bundle; bounds a hostile file


def read_file(path: str | os.PathLike[str], *, limit: int = MAX_FILE_BYTES) -> bytes:
    """Read at most ``limit`` bytes; OS errors and larger files raise IdentityFileError."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise IdentityFileError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise IdentityFileError(f"{path} is larger than {limit} bytes; refusing to parse it")
    return data


def ensure_directory(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (0700) when missing; return it."""
    directory = Path(path)
    try:
        directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise IdentityFileError(f"cannot create {directory}: {exc.strerror}") from None
    return directory
