"""meshsec: mesh-grade security as a library.

Workload identity and mutual TLS, short-lived tokens, field protection,
policy enforcement and correlated audit trails, as composable primitives.
Each area is its own package (``meshsec.correlation``, ``meshsec.audit``,
...); nothing is configured at import time.
"""

import logging

__version__ = "0.1.0.dev0"

# A library adds no handler but this one (logging HOWTO, "Configuring Logging
# for a Library"): records stay silent unless the application configures logging.
logging.getLogger("meshsec").addHandler(logging.NullHandler())

__all__ = ["__version__"]
