"""meshsec: mesh-grade security as a library.

Workload identity and mutual TLS, short-lived tokens, field protection,
policy enforcement and correlated audit trails, as composable primitives.
Each area is its own package (``meshsec.correlation``, ``meshsec.audit``,
...); nothing is configured at import time.
"""

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
