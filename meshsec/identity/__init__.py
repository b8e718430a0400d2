"""Workload identity: SPIFFE IDs, trust bundles, X509-SVIDs, a CA, rotating sources.

A service in a meshsec trust domain proves who it is with a short-lived
X.509 certificate whose single URI SAN is its SPIFFE ID, exactly as SPIRE,
Istio and Linkerd workloads do.
"""

from meshsec.identity._bundle import TrustBundle
from meshsec.identity._ca import CertificateAuthority
from meshsec.identity._ca_source import CaIdentitySource
from meshsec.identity._errors import (
    CertificateExpired,
    CertificateNotYetValid,
    IdentityFileError,
    InvalidCertificate,
    InvalidPassphrase,
    InvalidSpiffeId,
    InvalidTTL,
    KeyMismatch,
    TrustDomainMismatch,
    UnsupportedKeyType,
    UntrustedCertificate,
)
from meshsec.identity._file_source import FileIdentitySource
from meshsec.identity._keys import KeyType
from meshsec.identity._source import IdentitySource, StaticIdentitySource
from meshsec.identity._spiffe import SpiffeId
from meshsec.identity._workload import WorkloadIdentity

__all__ = [
    "CaIdentitySource",
    "CertificateAuthority",
    "CertificateExpired",
    "CertificateNotYetValid",
    "FileIdentitySource",
    "IdentityFileError",
    "IdentitySource",
    "InvalidCertificate",
    "InvalidPassphrase",
    "InvalidSpiffeId",
    "InvalidTTL",
    "KeyMismatch",
    "KeyType",
    "SpiffeId",
    "StaticIdentitySource",
    "TrustBundle",
    "TrustDomainMismatch",
    "UnsupportedKeyType",
    "UntrustedCertificate",
    "WorkloadIdentity",
]
