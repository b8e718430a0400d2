"""Audit fixtures: every test starts and ends with no sink configured."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from meshsec import audit
from meshsec.audit import JsonlFileSink, SecurityEvent

KEY = b"audit-key-for-tests-0123456789ab"


@pytest.fixture(autouse=True)
def _no_sinks() -> Iterator[None]:
    previous = audit.configure()
    try:
        yield
    finally:
        audit.configure(*previous)


def login(i: int) -> SecurityEvent:
    return SecurityEvent(
        category=audit.Category.AUTHENTICATION,
        action="login",
        outcome=audit.Outcome.SUCCESS,
        actor=f"user-{i}",
        attributes={"n": i},
    )


def write_chain(path: Path, count: int, *, key: bytes | None = KEY, **options: object) -> Path:
    with JsonlFileSink(path, key=key, **options) as sink:  # type: ignore[arg-type]
        for i in range(count):
            sink.emit(login(i))
    return path


@pytest.fixture
def chain10(tmp_path: Path) -> Path:
    return write_chain(tmp_path / "audit.jsonl", 10)


def read_lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))
