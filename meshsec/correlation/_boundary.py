"""Where baggage and tracestate may go: the propagation boundary.

Baggage and tracestate carry application and vendor data (tenant names, user
tiers, sampling hints) that should not leave the organisation, while the
correlation ID and traceparent are opaque and always flow. A boundary lists
the hosts and SPIFFE trust domains that count as inside.

Destinations are parsed strictly and anything ambiguous counts as outside:
URLs with userinfo (``http://inside@evil``), backslashes, percent-encoded or
non-ASCII hosts, whitespace or control characters never match a pattern, so a
URL parser differential cannot smuggle baggage out.
"""

from __future__ import annotations

import re

import attrs

from meshsec.correlation._errors import CorrelationConfigError

_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOSTNAME = rf"{_LABEL}(?:\.{_LABEL})*"
_HOSTNAME_RE = re.compile(_HOSTNAME)
_IPV6_LITERAL = r"\[[0-9a-f:.]+\]"
_PATTERN_RE = re.compile(rf"(?:\*\.)?{_HOSTNAME}|{_IPV6_LITERAL}")
_TRUST_DOMAIN_RE = re.compile(r"[a-z0-9._-]{1,255}")

# scheme://host[:port][path-query-fragment]; no userinfo, no backslash, printable ASCII.
# No "." in the scheme although RFC 3986 allows one: urllib3 (under requests)
# does not, and reads "a.example.x://b.example" as host "a.example.x".
_URL_RE = re.compile(
    rf"[a-z][a-z0-9+-]*://(?P<host>[a-z0-9._-]+|{_IPV6_LITERAL})"
    r"(?::[0-9]{1,5})?(?:[/?#][\x21-\x5b\x5d-\x7e]*)?",
    re.IGNORECASE,
)
# SPIFFE ID: spiffe://trust-domain/path (SPIFFE-ID spec section 2).
_SPIFFE_RE = re.compile(r"spiffe://(?P<td>[a-z0-9._-]{1,255})(?:/[A-Za-z0-9._-]+)*")


def _sequence(value: object, what: str) -> tuple[object, ...]:
    # A bare string is iterable too: "localhost" would become the hosts
    # "l", "o", "c", ... and put one-letter names inside the boundary.
    if isinstance(value, str | bytes | bytearray) or not hasattr(value, "__iter__"):
        raise CorrelationConfigError(f"{what} must be a tuple or list of strings, not one string")
    return tuple(value)


def _normalise_hosts(value: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    hosts = []
    for pattern in _sequence(value, "boundary hosts"):
        host = pattern.lower().removesuffix(".") if isinstance(pattern, str) else ""
        if _PATTERN_RE.fullmatch(host) is None:
            raise CorrelationConfigError(
                "a boundary host pattern must be a hostname, an IP literal or '*.' "
                "followed by a domain (e.g. '*.internal.example')"
            )
        hosts.append(host)
    return tuple(hosts)


def _normalise_domains(value: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    domains = []
    for domain in _sequence(value, "boundary trust_domains"):
        name = domain.lower() if isinstance(domain, str) else ""
        if _TRUST_DOMAIN_RE.fullmatch(name) is None:
            raise CorrelationConfigError(
                "a boundary trust domain must be a SPIFFE trust domain name "
                "such as 'example.org' (letters, digits, '.', '-', '_')"
            )
        domains.append(name)
    return tuple(domains)


@attrs.frozen(kw_only=True)
class PropagationBoundary:
    """Destinations that may receive ``baggage`` and ``tracestate``.

    ``hosts`` are matched case-insensitively against a URL destination's
    host: an exact name or IP literal, or ``*.domain`` for every name below
    ``domain`` at any depth (not ``domain`` itself). ``trust_domains`` are
    matched exactly against a ``spiffe://`` destination's trust domain. The
    default boundary is empty: nothing with a known destination is inside.

    Raises :class:`CorrelationConfigError` for a malformed pattern.
    """

    hosts: tuple[str, ...] = attrs.field(default=(), converter=_normalise_hosts)
    trust_domains: tuple[str, ...] = attrs.field(default=(), converter=_normalise_domains)

    def contains(self, destination: object) -> bool:
        """True when ``destination`` (a URL or SPIFFE ID) is inside the boundary.

        ``None`` means "no remote destination" and counts as inside; any
        destination that does not parse strictly counts as outside.
        """
        if destination is None:
            return True
        # A str subclass is read as the string it is (what an HTTP client
        # sends to), never through an overridden __str__.
        text = str.__str__(destination) if isinstance(destination, str) else str(destination)
        if text[:9].lower() == "spiffe://":
            spiffe = _SPIFFE_RE.fullmatch(text)
            return spiffe is not None and spiffe.group("td") in self.trust_domains
        url = _URL_RE.fullmatch(text)
        if url is None:
            return False
        return self._host_inside(url.group("host").lower().removesuffix("."))

    def _host_inside(self, host: str) -> bool:
        if not host.startswith("[") and _HOSTNAME_RE.fullmatch(host) is None:
            return False
        for pattern in self.hosts:
            if pattern.startswith("*."):
                if host.endswith(pattern[1:]):
                    return True
            elif host == pattern:
                return True
        return False
