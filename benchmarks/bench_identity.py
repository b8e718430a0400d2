"""Identity figures: CertificateAuthority.issue against a hand-built certificate.

The raw twin generates the same P-256 key and signs a certificate with the
same extensions through ``cryptography.x509.CertificateBuilder`` directly,
without validation, audit or the WorkloadIdentity checks. SpiffeId.parse is
set beside ``urllib.parse.urlsplit``, which parses but validates nothing.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from benchmarks._harness import compare, row
from meshsec.identity import CertificateAuthority, SpiffeId

SID = "spiffe://example.org/ns/prod/sa/orders"


def _raw_issue(ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(secrets.randbits(128) or 1)
        .not_valid_before(now - timedelta(seconds=60))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(SID)]), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )


def main() -> None:
    ca = CertificateAuthority.create("example.org")
    ca_key = ca._key  # benchmark only: the raw twin signs with the same key
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)

    issue = compare(lambda: ca.issue(SID), lambda: _raw_issue(ca.certificate, ca_key), rounds=15)
    print(row("CertificateAuthority.issue (P-256, 1 h)", issue, target="<= 1.5x",
              raw_name="x509.CertificateBuilder"))  # fmt: skip
    print(f"  {'':<48} {1 / issue.mine:,.0f} issues/s vs {1 / issue.raw:,.0f} raw, this run")

    parse = compare(lambda: SpiffeId.parse(SID), lambda: urlsplit(SID))
    print(row("SpiffeId.parse (validating)", parse, target="informational",
              raw_name="urllib.parse.urlsplit"))  # fmt: skip


if __name__ == "__main__":
    main()
