"""A local certificate authority that issues X509-SVIDs.

Root certificate (X509-SVID specification, section 4.1, and RFC 5280):
self-signed, ``CA:TRUE`` critical with ``pathLen:0`` (it signs leaves only),
``keyCertSign`` + ``cRLSign`` critical, a Subject Key Identifier, and the URI
SAN ``spiffe://<td>`` as SPIRE puts on its roots.

Leaf certificates: a random 128-bit positive serial, an empty subject with a
critical SAN (RFC 5280 section 4.2.1.6 requires the SAN to be critical when
the subject is empty) holding exactly one URI SAN plus optional DNS names,
``digitalSignature`` (and ``keyEncipherment`` for RSA) critical,
``serverAuth`` + ``clientAuth``, ``CA:FALSE`` critical, SKI and AKI (strict
RFC 5280 verifiers such as cryptography's, Go's and rustls refuse a leaf
without AKI), and a validity that starts 60 s in the past for clock skew.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import NoReturn

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from meshsec.clock import Clock, system_clock, to_datetime
from meshsec.errors import MeshsecError
from meshsec.identity import _events, _keys, _x509
from meshsec.identity._bundle import TrustBundle
from meshsec.identity._errors import (
    IdentityFileError,
    InvalidCertificate,
    InvalidSpiffeId,
    InvalidTTL,
    TrustDomainMismatch,
)
from meshsec.identity._files import (
    KEY_MODE,
    PUBLIC_MODE,
    ensure_directory,
    read_file,
    write_file,
)
from meshsec.identity._keys import KeyType, Passphrase, PrivateKey, PublicKey
from meshsec.identity._spiffe import SpiffeId, validate_trust_domain
from meshsec.identity._workload import WorkloadIdentity

CLOCK_SKEW = timedelta(seconds=60)
DEFAULT_CA_TTL = timedelta(days=365)
DEFAULT_LEAF_TTL = timedelta(hours=1)
CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca.key"

# RFC 1123 host names. No wildcards (a workload names itself, not a zone) and
# no dotted-quad look-alikes (an address belongs in an IP SAN, not a DNS SAN).
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DNS_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
MAX_CA_TTL = timedelta(days=3650)


def random_serial() -> int:
    """A random, positive, non-zero 128-bit serial (RFC 5280 section 4.1.2.2)."""
    while True:
        serial = secrets.randbits(128)
        if serial:
            return serial


def _check_dns_names(dns_names: Sequence[str]) -> tuple[str, ...]:
    if isinstance(dns_names, str):
        raise InvalidCertificate("dns_names is a sequence of names, not one string")
    names = tuple(dns_names)
    for name in names:
        if (
            not isinstance(name, str)
            or len(name) > 253
            or not _DNS_NAME.fullmatch(name)  # fullmatch: '$' would let "host\n" through
            or name.rsplit(".", 1)[-1].isdigit()
        ):
            raise InvalidCertificate("dns_names must be plain ASCII host names (no wildcards)")
    return names


def _build_root(
    key: PrivateKey, trust_domain: str, not_before: datetime, not_after: datetime
) -> x509.Certificate:
    # A random suffix keeps two roots of one trust domain (root rotation)
    # apart by name as well as by key identifier.
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "meshsec"),
            x509.NameAttribute(
                NameOID.COMMON_NAME, f"{trust_domain} root {secrets.token_hex(4)}"[:64]
            ),
        ]
    )
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(random_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(str(SpiffeId.for_trust_domain(trust_domain)))]
            ),
            critical=False,
        )
    )
    return builder.sign(key, _keys.signature_hash(key))


def _key_usage(*, cert_sign: bool = False, key_encipherment: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _build_leaf(
    *,
    issuer: x509.Certificate,
    issuer_key: PrivateKey,
    public_key: PublicKey,
    uris: Sequence[str],
    dns_names: Sequence[str] = (),
    not_before: datetime,
    not_after: datetime,
    is_ca: bool = False,
) -> x509.Certificate:
    """Sign a leaf exactly as the CA does, with every value given by the caller.

    Private: the CA passes values it has validated; the test helpers in
    ``tests/identity/certs.py`` pass deliberately bad ones (expired, no URI
    SAN, two URI SANs, CA powers) to exercise peers' refusals.
    """
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(u) for u in uris]
    names += [x509.DNSName(d) for d in dns_names]
    issuer_ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(random_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(
            _key_usage(cert_sign=is_ca, key_encipherment=isinstance(public_key, rsa.RSAPublicKey)),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski),
            critical=False,
        )
    )
    if names:
        # Empty subject: RFC 5280 section 4.2.1.6 wants the SAN critical.
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=True)
    return builder.sign(issuer_key, _keys.signature_hash(issuer_key))


class CertificateAuthority:
    """A trust domain's signing authority: one self-signed root and its key.

    Create with :meth:`create` or :meth:`load`. ``repr`` shows the trust
    domain, key type and expiry, never the key.

    >>> ca = CertificateAuthority.create("example.org")
    >>> svid = ca.issue("spiffe://example.org/ns/prod/sa/orders")
    >>> str(svid.spiffe_id)
    'spiffe://example.org/ns/prod/sa/orders'
    """

    __slots__ = ("_bundle", "_certificate", "_clock", "_key", "_trust_domain")

    def __init__(
        self,
        *,
        certificate: x509.Certificate,
        private_key: PrivateKey,
        clock: Clock = system_clock,
    ) -> None:
        """Wrap an existing root. Raises InvalidCertificate or KeyMismatch.

        The certificate must be a self-signed CA whose URI SAN is ``spiffe://<td>``.
        """
        _keys.check_private_key(private_key)
        _keys.check_key_pair(private_key, certificate.public_key())
        if not _x509.is_ca(certificate) or certificate.issuer != certificate.subject:
            raise InvalidCertificate("a CA certificate must be a self-signed CA root")
        try:
            certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            ca_id = _x509.spiffe_id_of(certificate)
        except (x509.ExtensionNotFound, InvalidCertificate):
            raise InvalidCertificate(
                "a CA root needs a Subject Key Identifier and the URI SAN spiffe://<td>"
            ) from None
        if not ca_id.is_trust_domain_id:
            raise InvalidCertificate("the CA's URI SAN must be spiffe://<td> with no path")
        self._certificate = certificate
        self._key = private_key
        self._clock = clock
        self._trust_domain = ca_id.trust_domain
        self._bundle = TrustBundle(ca_id.trust_domain, (certificate,))

    @classmethod
    def create(
        cls,
        trust_domain: str,
        *,
        key_type: KeyType = "ec-p256",
        ttl: timedelta = DEFAULT_CA_TTL,
        clock: Clock = system_clock,
    ) -> CertificateAuthority:
        """A new root for ``trust_domain`` (``example.org``, or ``spiffe://example.org``).

        Raises InvalidSpiffeId, UnsupportedKeyType or InvalidTTL.
        """
        if isinstance(trust_domain, str) and trust_domain.startswith("spiffe://"):
            parsed = SpiffeId.parse(trust_domain)
            if not parsed.is_trust_domain_id:
                raise InvalidSpiffeId("a trust domain is spiffe://<td> with no path")
            trust_domain = parsed.trust_domain
        validate_trust_domain(trust_domain)
        _check_ttl(ttl)
        if ttl > MAX_CA_TTL:
            raise InvalidTTL("a CA lives at most ten years; rotate roots instead")
        key = _keys.generate_private_key(key_type)
        now = to_datetime(clock)
        cert = _build_root(key, trust_domain, now - CLOCK_SKEW, now + ttl)
        ca = cls(certificate=cert, private_key=key, clock=clock)
        _events.certificate_success(
            "ca_create",
            actor="meshsec.identity",
            target=str(ca.id),
            serial=cert.serial_number,
            not_after=ca.not_after,
            clock=clock,
        )
        return ca

    # -- read-only views -------------------------------------------------

    @property
    def trust_domain(self) -> str:
        return self._trust_domain

    @property
    def id(self) -> SpiffeId:
        """``spiffe://<td>``: the SPIFFE ID of the signing authority itself."""
        return SpiffeId.for_trust_domain(self._trust_domain)

    @property
    def certificate(self) -> x509.Certificate:
        return self._certificate

    @property
    def bundle(self) -> TrustBundle:
        """The trust bundle peers need to verify what this CA issues."""
        return self._bundle

    @property
    def key_type(self) -> str:
        return _keys.key_type_name(self._key)

    @property
    def not_after(self) -> datetime:
        return _x509.not_after(self._certificate)

    @property
    def clock(self) -> Clock:
        return self._clock

    # -- issuing ---------------------------------------------------------

    def issue(
        self,
        spiffe_id: SpiffeId | str,
        *,
        ttl: timedelta = DEFAULT_LEAF_TTL,
        dns_names: Sequence[str] = (),
        key_type: KeyType = "ec-p256",
    ) -> WorkloadIdentity:
        """A fresh key pair and X509-SVID for ``spiffe_id``.

        ``dns_names`` adds DNS SANs beside the SPIFFE ID (for example
        ``localhost`` for scanners that check host names). Raises
        InvalidSpiffeId, TrustDomainMismatch, InvalidTTL, InvalidCertificate
        (bad DNS name) or UnsupportedKeyType; each refusal is audited.
        """
        return self._issue(spiffe_id, ttl=ttl, dns_names=dns_names, key_type=key_type)

    def _issue(
        self,
        spiffe_id: SpiffeId | str,
        *,
        ttl: timedelta,
        dns_names: Sequence[str],
        key_type: KeyType,
        audit_action: str | None = "issue",
    ) -> WorkloadIdentity:
        target = str(spiffe_id) if isinstance(spiffe_id, SpiffeId) else None
        try:
            sid, names, not_before, not_after = self._check_request(spiffe_id, ttl, dns_names)
            key = _keys.generate_private_key(key_type)
        except MeshsecError as exc:
            if audit_action is not None:
                self._refused(audit_action, target, exc)
            raise
        cert = self._sign(key.public_key(), sid, names, not_before, not_after)
        identity = WorkloadIdentity._issued(key, cert, sid)
        if audit_action is not None:
            self._issued(audit_action, cert, sid)
        return identity

    def sign_csr(
        self,
        csr_pem: bytes | str,
        spiffe_id: SpiffeId | str,
        *,
        ttl: timedelta = DEFAULT_LEAF_TTL,
        dns_names: Sequence[str] = (),
    ) -> x509.Certificate:
        """Sign a workload's CSR so its private key never leaves it.

        Only the CSR's public key and signature are used: the SPIFFE ID, DNS
        names and every extension come from this call, never from the CSR.
        Raises InvalidCertificate (malformed CSR or bad signature),
        UnsupportedKeyType and the :meth:`issue` errors.
        """
        target = str(spiffe_id) if isinstance(spiffe_id, SpiffeId) else None
        try:
            public_key = _load_csr_key(csr_pem)
            sid, names, not_before, not_after = self._check_request(spiffe_id, ttl, dns_names)
        except MeshsecError as exc:
            self._refused("sign_csr", target, exc)
            raise
        cert = self._sign(public_key, sid, names, not_before, not_after)
        self._issued("sign_csr", cert, sid)
        return cert

    def _check_request(
        self, spiffe_id: SpiffeId | str, ttl: timedelta, dns_names: Sequence[str]
    ) -> tuple[SpiffeId, tuple[str, ...], datetime, datetime]:
        sid = spiffe_id if isinstance(spiffe_id, SpiffeId) else SpiffeId.parse(spiffe_id)
        if sid.trust_domain != self._trust_domain:
            raise TrustDomainMismatch(
                f"this CA issues for trust domain {self._trust_domain!r} only"
            )
        if sid.is_trust_domain_id:
            raise InvalidSpiffeId("a workload SPIFFE ID needs a path; spiffe://<td> names the CA")
        names = _check_dns_names(dns_names)
        _check_ttl(ttl)
        now = to_datetime(self._clock)
        if now < _x509.not_before(self._certificate) or now >= self.not_after:
            raise InvalidTTL("the CA certificate is not valid now; create or load another CA")
        if ttl > self.not_after - now:  # not now + ttl: a huge ttl would overflow
            raise InvalidTTL("the requested ttl outlives the CA certificate; ask for a shorter one")
        not_before = max(now - CLOCK_SKEW, _x509.not_before(self._certificate))
        return sid, names, not_before, now + ttl

    def _sign(
        self,
        public_key: PublicKey,
        sid: SpiffeId,
        dns_names: tuple[str, ...],
        not_before: datetime,
        not_after: datetime,
    ) -> x509.Certificate:
        return _build_leaf(
            issuer=self._certificate,
            issuer_key=self._key,
            public_key=public_key,
            uris=[str(sid)],
            dns_names=dns_names,
            not_before=not_before,
            not_after=not_after,
        )

    def _issued(self, action: str, cert: x509.Certificate, sid: SpiffeId) -> None:
        _events.certificate_success(
            action,
            actor=str(self.id),
            target=str(sid),
            serial=cert.serial_number,
            not_after=_x509.not_after(cert),
            clock=self._clock,
        )

    def _refused(self, action: str, target: str | None, exc: MeshsecError) -> None:
        _events.certificate_failure(
            action,
            actor=str(self.id),
            target=target,
            reason=exc.code,
            denied=True,
            clock=self._clock,
        )

    # -- persistence -----------------------------------------------------

    def save(
        self, directory: str | os.PathLike[str], *, passphrase: Passphrase, overwrite: bool = False
    ) -> None:
        """Write ``ca.pem`` (0644) and ``ca.key`` (0600, encrypted) into ``directory``.

        The key is always encrypted (PKCS#8, BestAvailableEncryption); an
        empty passphrase raises InvalidPassphrase. Existing files are not
        replaced unless ``overwrite=True`` (IdentityFileError).
        """
        key_pem = _keys.encrypted_key_pem(self._key, passphrase)
        folder = ensure_directory(directory)
        targets = (folder / CA_CERT_FILE, folder / CA_KEY_FILE)
        if not overwrite and any(p.exists() for p in targets):
            raise IdentityFileError(
                f"{folder} already holds a CA; pass overwrite=True to replace it"
            )
        write_file(targets[1], key_pem, mode=KEY_MODE)
        write_file(targets[0], _x509.to_pem([self._certificate]), mode=PUBLIC_MODE)

    @classmethod
    def load(
        cls,
        directory: str | os.PathLike[str],
        *,
        passphrase: Passphrase,
        clock: Clock = system_clock,
    ) -> CertificateAuthority:
        """Read a CA written by :meth:`save`.

        Raises IdentityFileError (missing files), InvalidPassphrase (wrong or
        empty passphrase, or a plaintext key file), InvalidCertificate or KeyMismatch.
        """
        folder = Path(directory)
        cert_pem = read_file(folder / CA_CERT_FILE)
        key_pem = read_file(folder / CA_KEY_FILE)
        key = _keys.load_key_pem(key_pem, passphrase, require_encrypted=True)
        certs = _x509.load_pem_certificates(cert_pem)
        if len(certs) != 1:
            raise InvalidCertificate(f"{CA_CERT_FILE} must hold exactly one certificate")
        return cls(certificate=certs[0], private_key=key, clock=clock)

    def __repr__(self) -> str:
        return (
            f"CertificateAuthority(trust_domain={self._trust_domain!r}, "
            f"key_type={self.key_type!r}, not_after={self.not_after.isoformat()!r})"
        )

    def __reduce__(self) -> NoReturn:
        raise TypeError("a CertificateAuthority holds a private key and cannot be pickled")


def _check_ttl(ttl: object) -> None:
    if not isinstance(ttl, timedelta):
        raise InvalidTTL("ttl must be a datetime.timedelta")
    if ttl <= timedelta(0):
        raise InvalidTTL("ttl must be positive")


def _load_csr_key(csr_pem: bytes | str) -> PublicKey:
    data = csr_pem.encode("utf-8", "replace") if isinstance(csr_pem, str) else csr_pem
    if not isinstance(data, bytes):
        raise InvalidCertificate("a CSR must be PEM bytes or str")
    try:
        csr = x509.load_pem_x509_csr(data)
        valid = csr.is_signature_valid
        public_key = csr.public_key()
    except Exception:  # noqa: BLE001  cryptography raises assorted types on hostile input
        raise InvalidCertificate("the CSR is malformed") from None
    if not valid:
        # Proof of possession: the requester must hold the private key.
        raise InvalidCertificate("the CSR signature does not verify")
    return _keys.check_public_key(public_key)
