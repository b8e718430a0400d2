"""A local CA for a trust domain, an agent rotating files, and what meshsec audits.

1. Create a CA for ``example.org`` and store it with its key encrypted.
2. Load it back and issue an identity for the orders service; sign a CSR for
   the billing service, whose key never leaves it.
3. Play the agent: write identity files, let a FileIdentitySource load them,
   then write a half-finished rotation (new certificate, old key) that the
   source refuses, keeping the last good identity, and finally a complete one.
4. Print the audit trail (no key ever appears in it).

Run: ``python examples/identity_ca.py``.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from meshsec import audit
from meshsec.identity import CertificateAuthority, FileIdentitySource, SpiffeId
from meshsec.secret import Secret

ORDERS = SpiffeId.parse("spiffe://example.org/ns/prod/sa/orders")
BILLING = SpiffeId.from_parts("example.org", "ns", "prod", "sa", "billing")


def write_like_an_agent(folder: Path, chain_pem: bytes, key_pem: Secret[bytes]) -> None:
    """SPIRE and cert-manager write plaintext PEM files; meshsec itself never does."""
    (folder / "svid.pem").write_bytes(chain_pem)
    key_file = folder / "svid.key"
    key_file.touch(mode=0o600)
    key_file.write_bytes(key_pem.reveal())


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, audit.capture() as events:
        root = Path(tmp)
        passphrase = Secret("correct horse battery staple")

        CertificateAuthority.create("example.org").save(root / "ca", passphrase=passphrase)
        ca = CertificateAuthority.load(root / "ca", passphrase=passphrase)
        print(f"CA: {ca!r}")

        orders = ca.issue(ORDERS, ttl=timedelta(minutes=30), dns_names=["localhost"])
        print(f"issued: {orders!r}")
        print(f"  fingerprint {orders.fingerprint_sha256[:23]}...")

        billing_key = ec.generate_private_key(ec.SECP256R1())  # stays with billing
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([]))
            .sign(billing_key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
        )
        billing_cert = ca.sign_csr(csr, BILLING, ttl=timedelta(minutes=30))
        print(f"signed CSR for {BILLING} (serial {billing_cert.serial_number:x})")

        agent_dir = root / "agent"
        agent_dir.mkdir()
        write_like_an_agent(agent_dir, *orders.to_pem())
        ca.bundle.save(agent_dir / "bundle.pem")
        source = FileIdentitySource(
            agent_dir / "svid.pem", agent_dir / "svid.key", agent_dir / "bundle.pem"
        )
        source.subscribe(
            lambda identity, _bundle: print(f"  rotated to serial {identity.serial_number:x}")
        )

        renewed = ca.issue(ORDERS, ttl=timedelta(minutes=30))
        (agent_dir / "svid.pem").write_bytes(renewed.chain_pem)  # key not written yet
        print(f"half-written rotation picked up? {source.poll()} (kept {source.identity!r})")
        write_like_an_agent(agent_dir, *renewed.to_pem())
        print(f"complete rotation picked up? {source.poll()}")
        assert source.identity == renewed

        print("audit trail:")
        for event in events:
            print(
                f"  {event.category}/{event.action} {event.outcome} target={event.target} "
                f"reason={event.reason}"
            )
        key_text = renewed.private_key_pem().reveal().decode()
        assert all(key_text.splitlines()[1] not in repr(e) for e in events)


if __name__ == "__main__":
    main()
