"""The oracle for VA Notify (department-of-veterans-affairs/notification-api @ 742080a).

Restates, on top of the libraries VA pins (notifications-python-client 10.0.1, PyJWT
2.11.0), `validate_service_api_key_auth` and `validate_admin_jwt_auth` of
app/authentication/auth.py and the v1 error handler of app/errors.py; no VA file is copied.
The service lookup by `iss` is orm_issuer.py's (VA queries as GC does), and a service's keys
are all its keys. Keys carry VA's `revoked` flag and an expiry date (`expiry_date`, the time
the key stops working); a key file key without one makes VA compare None with a datetime.

Not restated: VA's HTTP Basic admin authentication and its fallback (out of scope), and the
success log line's reading of a JSON request body (the differential suite sends `{}`).
"""

from __future__ import annotations

import datetime
import json
import uuid

from notifications_python_client.authentication import decode_jwt_token, get_token_issuer
from notifications_python_client.errors import (
    TokenDecodeError,
    TokenError,
    TokenExpiredError,
    TokenIssuerError,
)
from oracle import CLOCK, CRASH, _Answer, answer, header_value, parse_time
from oracle_gc import (
    GENERAL,
    M_ADMIN_EXPIRED,
    M_ADMIN_REQUIRED,
    M_ARCHIVED,
    M_ISS,
    M_NO_KEYS,
    M_NO_TOKEN,
    M_NOT_FOUND,
    M_REVOKED,
    fetch_service,
)

__all__ = ["CLOCK", "CRASH", "GENERAL", "M_NOT_FOUND", "error_body", "expected"]

ADMIN_CLIENT_ID = "notify-admin"
M_SCHEME = "Unauthorized, authentication bearer scheme must be used"
M_EXPIRED = "Invalid token: API key expired"


def get_auth_token(header_values) -> str:
    auth_header = header_value(header_values)
    if not auth_header:
        raise _Answer(401, M_NO_TOKEN)
    if auth_header[:7].title() != "Bearer ":
        raise _Answer(401, M_SCHEME)
    return auth_header[7:]


def get_issuer(token: str):
    try:
        return get_token_issuer(token)
    except TokenIssuerError:
        raise _Answer(403, M_ISS) from None
    except TokenDecodeError:
        raise _Answer(403, GENERAL) from None


def validate_service_api_key_auth(header_values, keyfile: dict):
    token = get_auth_token(header_values)
    service = fetch_service(keyfile, get_issuer(token), "va")
    keys = service.get("api_keys", [])
    if not keys:
        raise _Answer(403, M_NO_KEYS)
    if not service.get("active", True):
        raise _Answer(403, M_ARCHIVED)
    for key in keys:
        try:
            decode_jwt_token(token, key["secret"])
        except TokenExpiredError:
            raise _Answer(403, CLOCK) from None
        except TokenError:
            continue
        if key.get("revoked", False):
            raise _Answer(403, M_REVOKED)
        expiry = key.get("expiry_date")
        expiry = None if expiry is None else parse_time(expiry).replace(tzinfo=None)
        # A key without an expiry date: None <= datetime raises TypeError (a crash).
        if expiry <= datetime.datetime.utcnow():
            raise _Answer(403, M_EXPIRED)
        return {
            "service_id": str(uuid.UUID(service["id"])),
            "api_key_id": str(uuid.UUID(key["id"])),
            "key_type": key["key_type"],
        }
    raise _Answer(403, M_NOT_FOUND)


def validate_admin_jwt_auth(header_values, keyfile: dict):
    token = get_auth_token(header_values)
    client = get_issuer(token)
    if client != ADMIN_CLIENT_ID:
        raise _Answer(401, M_ADMIN_REQUIRED)
    secret = keyfile.get("internal_clients", {}).get(ADMIN_CLIENT_ID, [None])[0]
    try:
        decode_jwt_token(token, secret)
    except TokenExpiredError:
        raise _Answer(403, M_ADMIN_EXPIRED) from None
    except TokenError:
        raise _Answer(403, GENERAL) from None
    return {"client_id": ADMIN_CLIENT_ID}


def expected(header_values, route: str, keyfile: dict, now: int, method: str = "GET",
             config: dict | None = None):
    """What VA Notify answers: (status, message), (200, principal) or (500, CRASH)."""
    if route == "public":
        return answer(lambda: validate_service_api_key_auth(header_values, keyfile))
    return answer(lambda: validate_admin_jwt_auth(header_values, keyfile))


def error_body(route: str, status: int, message: str) -> bytes:
    """VA's v2 body is GOV.UK Notify's shape; its v1 body has the message as a string."""
    if route == "public":
        import oracle

        return oracle.v2_body(status, message)
    body = {"message": message, "result": "error"}
    return (json.dumps(body, separators=(",", ":"), sort_keys=True) + "\n").encode()
