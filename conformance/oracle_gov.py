"""The oracle for Notify.gov (GSA/notifications-api @ 0bc76ba, app/authentication/auth.py).

Notify.gov's auth module is GOV.UK Notify's with one more answer: a `TypeError` raised while
the client library decodes a correctly signed token (`int(None)` on an `iat`, `nbf` or `exp`
that is null, a list or an object) is answered 403 "Invalid token: type error" instead of
crashing. Everything else (the header, `uuid.UUID(iss)`, the seven-day key visibility, the
messages, the internal routes) is GOV.UK Notify's, so this module reuses oracle.py and changes
only the key loop. Notify.gov vendors a copy of notifications-python-client equal to 12.1.0
and pins PyJWT 2.13.0: run it with the same virtual environment as oracle.py.

Not restated, on purpose: the development/staging shortcut that returns the first key without
any verification, the ALLOW_EXPIRED_API_TOKEN setting (off by default) and the proxy header
check (a deployment setting, off by default).
"""

from __future__ import annotations

import oracle
from notifications_python_client.authentication import decode_jwt_token
from notifications_python_client.errors import (
    TokenAlgorithmError,
    TokenDecodeError,
    TokenError,
    TokenExpiredError,
)
from oracle import CLOCK, CRASH, GENERAL, M_ALGORITHM, M_NOT_FOUND, M_REVOKED, _Answer

__all__ = ["CLOCK", "CRASH", "GENERAL", "M_NOT_FOUND", "error_body", "expected"]

M_TYPE_ERROR = "Invalid token: type error"


def _key_loop(token: str, keys):
    """Notify.gov's `_decode_jwt_token`: `keys` are (secret, record, revoked?)."""
    for secret, record, revoked in keys:
        try:
            decode_jwt_token(token, secret)
        except TypeError:
            raise _Answer(403, M_TYPE_ERROR) from None
        except TokenExpiredError:
            raise _Answer(403, CLOCK) from None
        except TokenAlgorithmError:
            raise _Answer(403, M_ALGORITHM) from None
        except TokenDecodeError:
            continue
        except TokenError:
            raise _Answer(403, GENERAL) from None
        if revoked:
            raise _Answer(403, M_REVOKED)
        return record
    raise _Answer(403, M_NOT_FOUND)


def expected(header_values, route: str, keyfile: dict, now: int, method: str = "GET",
             config: dict | None = None):
    """What Notify.gov answers: oracle.py's rules with Notify.gov's key loop."""
    return oracle.expected(header_values, route, keyfile, now, key_loop=_key_loop)


error_body = oracle.error_body
