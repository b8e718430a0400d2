"""Identity sources: static, file-watching and CA-renewing; rotation and its audit trail."""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from meshsec.clock import FrozenClock, to_datetime
from meshsec.errors import ConfigError
from meshsec.identity import (
    CaIdentitySource,
    CertificateAuthority,
    CertificateExpired,
    FileIdentitySource,
    IdentityFileError,
    IdentitySource,
    InvalidCertificate,
    InvalidTTL,
    KeyMismatch,
    StaticIdentitySource,
    TrustBundle,
    TrustDomainMismatch,
    UntrustedCertificate,
    WorkloadIdentity,
)

from . import certs
from .conftest import TD

SID = "spiffe://example.org/ns/prod/sa/orders"


def _write(folder: Path, identity: WorkloadIdentity, bundle: TrustBundle) -> tuple[Path, ...]:
    cert_path, key_path = certs.write_pem(
        folder, "svid", identity.certificate, identity.private_key
    )
    bundle.save(folder / "bundle.pem")
    return cert_path, key_path, folder / "bundle.pem"


def _key_lines(identity: WorkloadIdentity) -> list[str]:
    return identity.private_key_pem().reveal().decode().splitlines()[1:-1]


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[WorkloadIdentity, TrustBundle]] = []

    def __call__(self, identity: WorkloadIdentity, bundle: TrustBundle) -> None:
        self.calls.append((identity, bundle))


# -- StaticIdentitySource -------------------------------------------------------------


def test_static_source_satisfies_the_protocol(ca: CertificateAuthority) -> None:
    source = StaticIdentitySource(ca.issue(SID), ca.bundle)
    assert isinstance(source, IdentitySource)
    assert source.bundle == ca.bundle


def test_static_update_notifies_subscribers_once(ca: CertificateAuthority) -> None:
    source = StaticIdentitySource(ca.issue(SID), ca.bundle)
    seen = Recorder()
    unsubscribe = source.subscribe(seen)
    new = ca.issue(SID)
    source.update(identity=new)
    assert source.identity is new
    assert seen.calls == [(new, ca.bundle)]
    unsubscribe()
    unsubscribe()  # idempotent
    source.update(identity=ca.issue(SID))
    assert len(seen.calls) == 1


def test_static_update_of_bundle_only(ca: CertificateAuthority) -> None:
    identity = ca.issue(SID)
    source = StaticIdentitySource(identity, ca.bundle)
    wider = ca.bundle.add(CertificateAuthority.create(TD).certificate)
    source.update(bundle=wider)
    assert source.identity is identity
    assert source.bundle == wider


def test_failing_subscriber_does_not_stop_the_others(
    ca: CertificateAuthority, caplog: pytest.LogCaptureFixture
) -> None:
    source = StaticIdentitySource(ca.issue(SID), ca.bundle)

    def broken(_identity: WorkloadIdentity, _bundle: TrustBundle) -> None:
        raise RuntimeError("boom")

    seen = Recorder()
    source.subscribe(broken)
    source.subscribe(seen)
    source.update(identity=ca.issue(SID))
    assert len(seen.calls) == 1
    assert "subscriber failed" in caplog.text


def test_static_update_refuses_wrong_types(ca: CertificateAuthority) -> None:
    source = StaticIdentitySource(ca.issue(SID), ca.bundle)
    with pytest.raises(TypeError):
        source.update(identity="spiffe://example.org/x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        StaticIdentitySource(ca.bundle, ca.bundle)  # type: ignore[arg-type]


def test_rotation_emits_one_certificate_event(ca: CertificateAuthority, events: list) -> None:  # type: ignore[type-arg]
    source = StaticIdentitySource(ca.issue(SID), ca.bundle)
    events.clear()
    new = ca.issue(SID)
    events.clear()
    source.update(identity=new)
    assert len(events) == 1
    event = events[0]
    assert str(event.category).lower().endswith("certificate")
    assert event.action == "rotate"
    assert event.target == SID
    assert event.attributes["serial"] == f"{new.serial_number:x}"
    assert event.attributes["not_after"] == new.not_after.isoformat()
    for line in _key_lines(new):
        assert line not in repr(event)


# -- FileIdentitySource -----------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path, ca: CertificateAuthority) -> tuple[Path, ...]:
    return _write(tmp_path, ca.issue(SID), ca.bundle)


def _source(files: tuple[Path, ...], clock: FrozenClock) -> FileIdentitySource:
    return FileIdentitySource(*files, clock=clock)


def test_file_source_loads_agent_files(
    files: tuple[Path, ...], clock: FrozenClock, ca: CertificateAuthority
) -> None:
    source = _source(files, clock)
    assert isinstance(source, IdentitySource)
    assert str(source.identity.spiffe_id) == SID
    assert source.bundle == ca.bundle
    assert source.poll() is False  # nothing changed


def test_file_source_picks_up_rotated_files(
    files: tuple[Path, ...], clock: FrozenClock, ca: CertificateAuthority
) -> None:
    source = _source(files, clock)
    seen = Recorder()
    source.subscribe(seen)
    new = ca.issue(SID)
    _write(files[0].parent, new, ca.bundle)
    assert source.poll() is True
    assert source.identity == new
    assert seen.calls == [(source.identity, source.bundle)]
    assert source.poll() is False


def test_file_source_picks_up_a_new_root(
    files: tuple[Path, ...], clock: FrozenClock, ca: CertificateAuthority
) -> None:
    source = _source(files, clock)
    new_ca = CertificateAuthority.create(TD, clock=clock)
    new = new_ca.issue(SID)
    _write(files[0].parent, new, ca.bundle.merge(new_ca.bundle))
    assert source.poll() is True
    assert len(source.bundle) == 2


@pytest.mark.parametrize(
    "damage",
    [
        "corrupt_cert",
        "corrupt_key",
        "empty_cert",
        "missing_key",
        "mismatched_key",
        "expired",
        "not_yet_valid",
        "other_ca",
        "no_uri_san",
        "ca_flagged",
        "corrupt_bundle",
    ],
)
def test_file_source_keeps_last_good_identity(
    damage: str, files: tuple[Path, ...], clock: FrozenClock, ca: CertificateAuthority
) -> None:
    cert_path, key_path, bundle_path = files
    source = _source(files, clock)
    good = source.identity
    seen = Recorder()
    source.subscribe(seen)
    folder = cert_path.parent
    if damage == "corrupt_cert":
        cert_path.write_bytes(cert_path.read_bytes()[:200])
    elif damage == "corrupt_key":
        key_path.write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    elif damage == "empty_cert":
        cert_path.write_bytes(b"")
    elif damage == "missing_key":
        key_path.unlink()
    elif damage == "mismatched_key":
        # The agent replaced the certificate but not yet the key.
        other = ca.issue(SID)
        cert_path.write_bytes(other.chain_pem)
    elif damage == "corrupt_bundle":
        bundle_path.write_bytes(b"garbage")
    else:
        makers = {
            "expired": lambda: certs.expired_leaf(ca, SID),
            "not_yet_valid": lambda: certs.not_yet_valid_leaf(ca, SID),
            "other_ca": lambda: certs.custom_leaf(
                CertificateAuthority.create(TD, clock=clock), uris=[SID]
            ),
            "no_uri_san": lambda: certs.leaf_without_uri_san(ca),
            "ca_flagged": lambda: certs.ca_flagged_leaf(ca, SID),
        }
        cert, key = makers[damage]()
        certs.write_pem(folder, "svid", cert, key)
    assert source.poll() is False
    assert source.identity is good
    assert seen.calls == []
    # Once the agent finishes writing good files, the source moves on.
    fresh = ca.issue(SID)
    _write(folder, fresh, ca.bundle)
    assert source.poll() is True
    assert source.identity == fresh


def test_file_source_audits_a_bad_rotation_once(
    files: tuple[Path, ...],
    clock: FrozenClock,
    ca: CertificateAuthority,
    events: list,  # type: ignore[type-arg]
) -> None:
    source = _source(files, clock)
    cert, key = certs.expired_leaf(ca, SID)
    certs.write_pem(files[0].parent, "svid", cert, key)
    events.clear()
    for _ in range(3):
        source.poll()
    assert [e.reason for e in events] == ["identity.certificate_expired"]
    assert events[0].action == "rotate"


def test_file_source_audits_a_good_rotation_once(
    files: tuple[Path, ...],
    clock: FrozenClock,
    ca: CertificateAuthority,
    events: list,  # type: ignore[type-arg]
) -> None:
    source = _source(files, clock)
    new = ca.issue(SID)
    _write(files[0].parent, new, ca.bundle)
    events.clear()
    source.poll()
    assert [(e.action, e.target) for e in events] == [("rotate", SID)]


def test_file_source_refuses_bad_first_load(
    tmp_path: Path, clock: FrozenClock, ca: CertificateAuthority
) -> None:
    cert, key = certs.expired_leaf(ca, SID)
    cert_path, key_path = certs.write_pem(tmp_path, "svid", cert, key)
    ca.bundle.save(tmp_path / "bundle.pem")
    with pytest.raises(CertificateExpired):
        FileIdentitySource(cert_path, key_path, tmp_path / "bundle.pem", clock=clock)
    with pytest.raises(IdentityFileError):
        FileIdentitySource(tmp_path / "x", key_path, tmp_path / "bundle.pem", clock=clock)


def test_file_source_refuses_identity_from_another_ca(
    tmp_path: Path, clock: FrozenClock, ca: CertificateAuthority
) -> None:
    other = CertificateAuthority.create(TD, clock=clock).issue(SID)
    with pytest.raises(UntrustedCertificate):
        FileIdentitySource(*_write(tmp_path, other, ca.bundle), clock=clock)


def test_file_source_refuses_mismatched_key_first_load(
    tmp_path: Path, clock: FrozenClock, ca: CertificateAuthority
) -> None:
    a, b = ca.issue(SID), ca.issue(SID)
    cert_path, key_path = certs.write_pem(tmp_path, "svid", a.certificate, b.private_key)
    ca.bundle.save(tmp_path / "bundle.pem")
    with pytest.raises(KeyMismatch):
        FileIdentitySource(cert_path, key_path, tmp_path / "bundle.pem", clock=clock)


def test_file_source_reads_encrypted_keys(
    tmp_path: Path, clock: FrozenClock, ca: CertificateAuthority
) -> None:
    identity = ca.issue(SID)
    identity.save(tmp_path / "svid.pem", tmp_path / "svid.key", passphrase="pw")
    ca.bundle.save(tmp_path / "bundle.pem")
    source = FileIdentitySource(
        tmp_path / "svid.pem",
        tmp_path / "svid.key",
        tmp_path / "bundle.pem",
        passphrase="pw",
        clock=clock,
    )
    assert source.identity == identity
    assert "pw" not in repr(source)


def test_file_source_background_thread_rotates(
    files: tuple[Path, ...], clock: FrozenClock, ca: CertificateAuthority
) -> None:
    source = FileIdentitySource(*files, clock=clock, poll_interval=0.02)
    rotated = threading.Event()
    source.subscribe(lambda _i, _b: rotated.set())
    with source:
        new = ca.issue(SID)
        _write(files[0].parent, new, ca.bundle)
        assert rotated.wait(5)
    assert source.identity == new
    assert source._thread is None


def test_file_source_refuses_non_positive_interval(
    files: tuple[Path, ...], clock: FrozenClock
) -> None:
    with pytest.raises(ConfigError):
        FileIdentitySource(*files, clock=clock, poll_interval=0)


# -- CaIdentitySource ---------------------------------------------------------------------


def test_ca_source_renews_at_half_life(ca: CertificateAuthority, clock: FrozenClock) -> None:
    source = CaIdentitySource(ca, SID, ttl=timedelta(hours=1))
    first = source.identity
    seen = Recorder()
    source.subscribe(seen)
    clock.advance(timedelta(minutes=29, seconds=59))
    assert source.maybe_renew() is False
    assert source.identity is first
    clock.advance(timedelta(seconds=1))
    assert source.maybe_renew() is True
    second = source.identity
    assert second.serial_number != first.serial_number
    assert second.not_after == first.not_after + timedelta(minutes=30)
    assert seen.calls == [(second, ca.bundle)]
    assert source.renew_due == second.not_after - timedelta(minutes=30)


def test_ca_source_custom_renew_fraction(ca: CertificateAuthority, clock: FrozenClock) -> None:
    source = CaIdentitySource(ca, SID, ttl=timedelta(minutes=10), renew_at=0.8)
    clock.advance(timedelta(minutes=7))
    assert source.maybe_renew() is False
    clock.advance(timedelta(minutes=1))
    assert source.maybe_renew() is True


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1])
def test_ca_source_refuses_bad_renew_fraction(ca: CertificateAuthority, fraction: float) -> None:
    with pytest.raises(ConfigError):
        CaIdentitySource(ca, SID, renew_at=fraction)


def test_ca_source_keeps_identity_when_renewal_fails(clock: FrozenClock) -> None:
    ca = CertificateAuthority.create(TD, ttl=timedelta(hours=2), clock=clock)
    source = CaIdentitySource(ca, SID, ttl=timedelta(hours=1))
    first = source.identity
    clock.advance(timedelta(hours=1, minutes=30))  # the CA has 30 minutes left: too short
    assert source.maybe_renew() is False
    assert source.identity is first
    with pytest.raises(InvalidTTL):
        source.refresh()


def test_ca_source_renewal_is_audited_once(
    ca: CertificateAuthority, clock: FrozenClock, events: list
) -> None:  # type: ignore[type-arg]
    source = CaIdentitySource(ca, SID)
    assert [e.action for e in events] == ["issue"]
    events.clear()
    clock.advance(timedelta(minutes=30))
    source.maybe_renew()
    assert [(e.action, e.target) for e in events] == [("rotate", SID)]
    assert events[0].timestamp == to_datetime(clock)  # the injected clock, not the wall


def test_ca_source_failed_renewal_is_audited(clock: FrozenClock, events: list) -> None:  # type: ignore[type-arg]
    ca = CertificateAuthority.create(TD, ttl=timedelta(hours=2), clock=clock)
    source = CaIdentitySource(ca, SID)
    events.clear()
    clock.advance(timedelta(hours=1, minutes=30))
    source.maybe_renew()
    assert [e.reason for e in events] == ["identity.invalid_ttl"]


def test_ca_source_refuses_foreign_ids(ca: CertificateAuthority) -> None:
    with pytest.raises(TrustDomainMismatch):
        CaIdentitySource(ca, "spiffe://evil.example/x")


def test_ca_source_background_thread_renews(ca: CertificateAuthority, clock: FrozenClock) -> None:
    source = CaIdentitySource(ca, SID, ttl=timedelta(minutes=10))
    rotated = threading.Event()
    source.subscribe(lambda _i, _b: rotated.set())
    source.start(check_interval=0.01)
    try:
        clock.advance(timedelta(minutes=6))
        assert rotated.wait(5)
    finally:
        source.stop()
    source.stop()  # idempotent


def test_ca_source_with_dns_names(ca: CertificateAuthority) -> None:
    source = CaIdentitySource(ca, SID, dns_names=["localhost"])
    assert source.identity.dns_names == ("localhost",)


# -- secrecy ------------------------------------------------------------------------------


def test_sources_never_show_keys(
    files: tuple[Path, ...], clock: FrozenClock, ca: CertificateAuthority
) -> None:
    sources = [
        StaticIdentitySource(ca.issue(SID), ca.bundle),
        _source(files, clock),
        CaIdentitySource(ca, SID),
    ]
    for source in sources:
        text = repr(source) + str(source)
        assert SID in text
        assert "PRIVATE" not in text
        for line in _key_lines(source.identity):
            assert line not in text
        with pytest.raises(TypeError):
            pickle.dumps(source)


def test_concurrent_readers_always_see_a_complete_pair(ca: CertificateAuthority) -> None:
    source = StaticIdentitySource(ca.issue(SID), ca.bundle)
    identities = [ca.issue(SID) for _ in range(5)]
    stop = time.monotonic() + 0.3
    errors: list[str] = []

    def reader() -> None:
        while time.monotonic() < stop:
            identity = source.identity
            if not isinstance(identity, WorkloadIdentity):
                errors.append("torn read")

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for identity in identities * 20:
        source.update(identity=identity)
    for t in threads:
        t.join()
    assert errors == []


def test_invalid_certificate_is_exported_base(ca: CertificateAuthority) -> None:
    assert issubclass(UntrustedCertificate, InvalidCertificate)
    assert issubclass(CertificateExpired, InvalidCertificate)


def test_file_source_reports_an_expired_identity_once(
    files: tuple[Path, ...],
    clock: FrozenClock,
    events: list,  # type: ignore[type-arg]
) -> None:
    source = _source(files, clock)
    events.clear()
    clock.advance(timedelta(minutes=30))
    source.poll()
    assert events == []
    clock.advance(timedelta(hours=1))
    for _ in range(3):
        assert source.poll() is False
    assert [(e.action, e.reason) for e in events] == [("expired", "identity.certificate_expired")]


def test_ca_source_failure_streak_is_audited_once(
    clock: FrozenClock,
    events: list,  # type: ignore[type-arg]
) -> None:
    ca = CertificateAuthority.create(TD, ttl=timedelta(hours=2), clock=clock)
    source = CaIdentitySource(ca, SID)
    events.clear()
    clock.advance(timedelta(hours=1, minutes=30))
    for _ in range(5):
        assert source.maybe_renew() is False
    assert len(events) == 1


def _intermediate_chain(
    ca: CertificateAuthority, clock: FrozenClock, *, is_ca: bool = True
) -> WorkloadIdentity:
    from meshsec.clock import to_datetime as now_of
    from meshsec.identity._ca import _build_leaf

    inter_cert, inter_key = certs.custom_leaf(ca, uris=["spiffe://example.org"], is_ca=is_ca)
    key = certs.generate_private_key("ec-p256")
    now = now_of(clock)
    leaf = _build_leaf(
        issuer=inter_cert,
        issuer_key=inter_key,
        public_key=key.public_key(),
        uris=[SID],
        not_before=now - timedelta(minutes=1),
        not_after=now + timedelta(minutes=30),
    )
    return WorkloadIdentity(private_key=key, certificate=leaf, intermediates=[inter_cert])


def test_file_source_accepts_a_chain_through_an_intermediate(
    tmp_path: Path, clock: FrozenClock, ca: CertificateAuthority
) -> None:
    identity = _intermediate_chain(ca, clock)
    cert_path, key_path = certs.write_pem(
        tmp_path, "svid", identity.certificate, identity.private_key, identity.intermediates
    )
    ca.bundle.save(tmp_path / "bundle.pem")
    source = FileIdentitySource(cert_path, key_path, tmp_path / "bundle.pem", clock=clock)
    assert source.identity == identity
    assert len(source.identity.intermediates) == 1


def test_file_source_refuses_a_chain_with_a_non_ca_intermediate(
    tmp_path: Path, clock: FrozenClock, ca: CertificateAuthority
) -> None:
    # A leaf that signs another leaf must not be accepted as an issuer.
    identity = _intermediate_chain(ca, clock, is_ca=False)
    cert_path, key_path = certs.write_pem(
        tmp_path, "svid", identity.certificate, identity.private_key, identity.intermediates
    )
    ca.bundle.save(tmp_path / "bundle.pem")
    with pytest.raises(UntrustedCertificate):
        FileIdentitySource(cert_path, key_path, tmp_path / "bundle.pem", clock=clock)


def _race(step: Callable[[], bool], threads: int = 4) -> list[bool]:
    """Run ``step`` in ``threads`` threads released at once; return what each returned."""
    barrier = threading.Barrier(threads)
    results: list[bool] = []

    def run() -> None:
        barrier.wait()
        results.append(step())

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results


def test_concurrent_renewals_rotate_once(ca: CertificateAuthority, clock: FrozenClock) -> None:
    source = CaIdentitySource(ca, SID)
    seen = Recorder()
    source.subscribe(seen)
    clock.advance(timedelta(minutes=31))
    assert sorted(_race(source.maybe_renew)) == [False, False, False, True]
    assert len(seen.calls) == 1


def test_concurrent_polls_rotate_once(
    files: tuple[Path, ...], clock: FrozenClock, ca: CertificateAuthority
) -> None:
    source = _source(files, clock)
    seen = Recorder()
    source.subscribe(seen)
    _write(files[0].parent, ca.issue(SID), ca.bundle)
    assert sorted(_race(source.poll)) == [False, False, False, True]
    assert len(seen.calls) == 1


def test_file_source_refuses_an_oversized_file(files: tuple[Path, ...], clock: FrozenClock) -> None:
    source = _source(files, clock)
    good = source.identity
    files[2].write_bytes(files[2].read_bytes() + b"\n" * (2 << 20))
    assert source.poll() is False
    assert source.identity is good


def test_file_source_takes_a_not_yet_valid_certificate_once_it_becomes_valid(
    files: tuple[Path, ...], clock: FrozenClock, ca: CertificateAuthority
) -> None:
    # Clock skew with the agent: the new certificate starts a few seconds from now.
    from datetime import timedelta as td

    from meshsec.clock import to_datetime as now_of

    source = _source(files, clock)
    now = now_of(clock)
    cert, key = certs.custom_leaf(
        ca, uris=[SID], not_before=now + td(seconds=5), not_after=now + td(minutes=30)
    )
    certs.write_pem(files[0].parent, "svid", cert, key)
    assert source.poll() is False
    clock.advance(td(seconds=6))
    assert source.poll() is True
    assert source.identity.certificate == cert
