"""The security context: who is calling the code that runs right now.

Integrations (mTLS servers, ASGI/WSGI middleware) establish it per request;
enforcement (``meshsec.policy``) and field reveal read it; tests use
:func:`run_as` to act as a given caller.
"""

from meshsec.context._security import SecurityContext, current_security_context, run_as

__all__ = ["SecurityContext", "current_security_context", "run_as"]
