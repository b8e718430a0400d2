"""Ordered data classification levels."""

from __future__ import annotations

import enum

from meshsec.errors import ConfigError

__all__ = ["Classification"]


class Classification(enum.IntEnum):
    """``PUBLIC < INTERNAL < CONFIDENTIAL < RESTRICTED``; a caller's clearance is one too."""

    PUBLIC = 0
    INTERNAL = 1
    CONFIDENTIAL = 2
    RESTRICTED = 3

    @classmethod
    def _missing_(cls, value: object) -> Classification | None:
        # Classification("restricted") works like Classification.parse for names.
        if isinstance(value, str) and value.isascii():
            return cls.__members__.get(value.strip().upper())
        return None

    @classmethod
    def parse(cls, value: object) -> Classification:
        """A level from itself or its case-insensitive name; ConfigError otherwise."""
        if isinstance(value, Classification):
            return value
        # ASCII only: str.upper() folds U+0131 (dotless i) and U+017F (long s)
        # to 'I' and 'S', so a lookalike would otherwise name a level.
        if isinstance(value, str) and value.isascii():
            found = cls.__members__.get(value.strip().upper())
            if found is not None:
                return found
        names = ", ".join(m.name.lower() for m in cls)
        raise ConfigError(f"unknown classification {value!r}; use one of {names}")
