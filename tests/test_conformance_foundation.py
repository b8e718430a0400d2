"""Conformance: errors, security context, reprs, the CLI and the repository promises of issue 5."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import attrs
import pytest

from meshsec import audit, correlation
from meshsec.audit import ChainReport, JsonlFileSink, LoggingSink, OTelSink, SecurityEvent
from meshsec.clock import FrozenClock
from meshsec.context import SecurityContext, current_security_context, run_as
from meshsec.correlation import (
    CorrelationConfig,
    CorrelationContext,
    CorrelationFilter,
    JsonFormatter,
    PropagationBoundary,
)
from meshsec.errors import (
    ConfigError,
    FieldError,
    IdentityError,
    MeshsecError,
    PolicyError,
    StoreError,
    TLSError,
    TokenError,
)
from meshsec.secret import Secret

ROOT = Path(__file__).resolve().parent.parent
SECRET = "hunter2-s3cr3t-value-0123456789"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXZhbHVl"

# --- errors ------------------------------------------------------------------------------

AREA_BASES = [IdentityError, TLSError, TokenError, FieldError, PolicyError, StoreError, ConfigError]


def test_meshsec_error_is_an_exception_with_a_class_level_code() -> None:
    assert issubclass(MeshsecError, Exception)
    assert isinstance(MeshsecError.code, str)
    assert MeshsecError.code
    assert MeshsecError("x").code == MeshsecError.code


@pytest.mark.parametrize("base", AREA_BASES)
def test_area_bases_subclass_meshsec_error_with_their_own_code(base: type[MeshsecError]) -> None:
    assert issubclass(base, MeshsecError)
    assert "code" in vars(base)
    assert re.fullmatch(r"[a-z_]+\.[a-z_]+", base.code)
    with pytest.raises(MeshsecError) as info:
        raise base("what went wrong and what to do")
    assert info.value.code == base.code


def test_area_codes_are_distinct_and_config_error_is_a_value_error() -> None:
    codes = [base.code for base in [MeshsecError, *AREA_BASES]]
    assert len(set(codes)) == len(codes)
    assert issubclass(ConfigError, ValueError)


# --- security context ---------------------------------------------------------------------


def test_security_context_is_frozen_attrs_with_peer_claims_and_correlation() -> None:
    corr = CorrelationContext(correlation_id="req-1")
    ctx = SecurityContext(
        peer_id="spiffe://example.org/web",
        claims={"sub": "alice", "roles": ["reader"]},
        correlation=corr,
    )
    assert attrs.has(SecurityContext)
    assert ctx.peer_id == "spiffe://example.org/web"
    assert ctx.claims["sub"] == "alice"
    assert ctx.correlation is corr
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        ctx.peer_id = "spiffe://example.org/evil"  # type: ignore[misc]


def test_current_security_context_and_run_as() -> None:
    outside = current_security_context()
    assert isinstance(outside, SecurityContext)
    assert not outside.authenticated
    caller = SecurityContext(principal="alice")
    with run_as(caller) as bound:
        assert bound is caller
        assert current_security_context() is caller
    assert current_security_context() == outside


def test_run_as_works_as_async_context_manager_and_isolates_tasks() -> None:
    async def handle(name: str) -> str | None:
        async with run_as(SecurityContext(principal=name)):
            await asyncio.sleep(0)
            return current_security_context().principal

    async def main() -> list[str | None]:
        return list(await asyncio.gather(*(handle(f"p{i}") for i in range(10))))

    assert asyncio.run(main()) == [f"p{i}" for i in range(10)]
    assert current_security_context().principal is None


def test_run_as_refuses_a_non_context_with_a_typed_error() -> None:
    with pytest.raises(ConfigError):
        run_as({"principal": "alice"})  # type: ignore[arg-type]


# --- every public type's repr is free of secret values -----------------------------------


def _reprs(tmp_path: Path) -> list[str]:
    key = Secret(SECRET.encode())
    sink = JsonlFileSink(tmp_path / "a.jsonl", key=key)
    try:
        objects: list[object] = [
            Secret(SECRET),
            Secret(SECRET.encode()),
            key,
            sink,
            LoggingSink(),
            OTelSink(),
            FrozenClock(0),
            SecurityEvent(
                category="token",
                action="verify",
                outcome="failure",
                actor=JWT,
                target=Secret(SECRET),  # type: ignore[arg-type]
                attributes={
                    "password": SECRET,
                    "authorization": f"Bearer {SECRET}",
                    "note": JWT,
                    "value": Secret(SECRET),
                },
            ),
            CorrelationContext(
                baggage={"api_key": SECRET, "session": SECRET, "client_secret": SECRET}
            ),
            correlation.extract({"baggage": f"token={SECRET},password={SECRET}"}),
            CorrelationConfig(),
            PropagationBoundary(hosts=("a.example",)),
            CorrelationFilter(),
            JsonFormatter(),
            SecurityContext(
                principal="alice",
                claims={"sub": "alice", "access_token": SECRET, "pwd": SECRET},
            ),
            ChainReport(ok=True, lines=1, keyed=True),
            audit.verify_chain(tmp_path / "a.jsonl", key=key),
            ConfigError(f"bad key {Secret(SECRET)}"),
            TokenError(f"token {Secret(SECRET)} rejected"),
            CorrelationContext(baggage={"user": JWT, "tenant": "acme"}),
        ]
        sink.emit(objects[7])  # type: ignore[arg-type]
        objects.append(sink)
        return [repr(o) for o in objects] + [str(o) for o in objects]
    finally:
        sink.close()


def test_every_public_foundation_type_repr_is_free_of_secret_values(tmp_path: Path) -> None:
    for text in _reprs(tmp_path):
        assert SECRET not in text, text
        assert "eyJzdWIi" not in text, text


def test_audit_file_never_contains_the_secret(tmp_path: Path) -> None:
    _reprs(tmp_path)
    assert SECRET.encode() not in (tmp_path / "a.jsonl").read_bytes()
    assert b"eyJzdWIi" not in (tmp_path / "a.jsonl").read_bytes()


def test_nothing_configured_at_import() -> None:
    code = (
        "import logging, meshsec, meshsec.audit as a, meshsec.correlation, meshsec.context, "
        "meshsec.cli\n"
        "assert not a.enabled()\n"
        "assert all(isinstance(h, logging.NullHandler) "
        "for h in logging.getLogger('meshsec').handlers)\n"
        "assert not logging.getLogger().handlers\n"
        "from opentelemetry import propagate\n"
        "from opentelemetry.propagators.composite import CompositePropagator\n"
        "print(type(propagate.get_global_textmap()).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "CompositePropagator"  # the default: meshsec set nothing


# --- the command -----------------------------------------------------------------------


def test_console_script_and_python_dash_m_expose_demo_and_audit_verify() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["meshsec"] == "meshsec.cli:main"
    done = subprocess.run(
        [sys.executable, "-m", "meshsec", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert "demo" in done.stdout
    assert "audit" in done.stdout
    verify = subprocess.run(
        [sys.executable, "-m", "meshsec", "audit", "verify", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0
    assert "--key" in verify.stdout


def test_cli_prints_typed_errors_with_code_and_exit_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from meshsec.cli import main

    assert main(["audit", "verify", str(tmp_path / "missing.jsonl")]) == 2
    assert "error [audit.file_error]" in capsys.readouterr().err


# --- repository promises -------------------------------------------------------------------


def test_runtime_dependencies_are_exactly_the_issue_list() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["build-system"]["build-backend"] == "hatchling.build"
    assert project["project"]["requires-python"] == ">=3.11"
    deps = project["project"]["dependencies"]
    names = {re.split(r"[<>=!~ \[]", d, maxsplit=1)[0].lower() for d in deps}
    assert names == {"cryptography", "pyjwt", "requests", "opentelemetry-api", "attrs"}
    assert "pyjwt>=2.13" in deps
    assert "requests>=2.32.3" in deps
    assert "dev" in project["project"]["optional-dependencies"]


def test_skeleton_files_exist() -> None:
    for name in ("meshsec/py.typed", "LICENSE", "CHANGELOG.md", "README.md", "Makefile"):
        assert (ROOT / name).is_file(), name
    for name in ("tests", "examples", "docs", "benchmarks"):
        assert (ROOT / name).is_dir(), name
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text()


def test_makefile_has_the_promised_targets_and_bootstraps_the_venv() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("demo", "test", "lint", "typecheck", "bench"):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), target
    assert "-m venv" in makefile
    assert "pip install" in makefile
    assert ".[dev]" in makefile
    assert "mypy --strict meshsec" in makefile
    assert "lint-imports" in makefile
    assert "ruff format --check" in makefile


def test_readme_opens_with_the_two_commands_under_quick_start() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1]
    block = quick.split("```", 2)[1]
    commands = [line.split("#")[0].strip() for line in block.splitlines()[1:] if line.strip()]
    assert commands == ["make demo", "make test"]
    assert readme.index("## Quick start") < readme.index("##", readme.index("## Quick start") + 3)


def test_ci_script_is_strict_bash_installing_binaries_then_running_the_gates() -> None:
    script = ROOT / ".ci" / "run"
    text = script.read_text()
    assert text.startswith(("#!/usr/bin/env bash", "#!/bin/bash"))
    assert "set -euo pipefail" in text
    assert "apt-get" in text
    assert "openssl" in text
    assert "redis-server" in text
    assert os.stat(script).st_mode & stat.S_IXUSR
    assert re.search(r"make[^\n]*lint", text)
    assert re.search(r"make[^\n]*typecheck", text)
    assert re.search(r"make[^\n]*test", text)
    if shutil.which("bash"):
        assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0


def test_library_configures_no_handlers_on_the_audit_logger() -> None:
    assert not logging.getLogger("meshsec.audit").handlers


def test_security_context_accepts_a_spiffe_id_object_as_peer_identity() -> None:
    from meshsec.identity import SpiffeId

    peer = SpiffeId.parse("spiffe://example.org/ns/prod/sa/web")
    ctx = SecurityContext(peer_id=peer, principal=peer)
    assert ctx.peer_id == "spiffe://example.org/ns/prod/sa/web"
    assert isinstance(ctx.peer_id, str)
    assert ctx.authenticated
    with pytest.raises(ConfigError):
        SecurityContext(peer_id=object())  # type: ignore[arg-type]
