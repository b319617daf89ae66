"""The oracle: what GOV.UK Notify's API answers to a request's Authorization header.

Notify's API does no JWT work of its own: it calls `get_token_issuer` and `decode_jwt_token`
from `notifications_python_client.authentication` (PyPI `notifications-python-client`, on top
of PyJWT). This module calls those real functions, in the order of checks that Notify's
`app/authentication/auth.py` applies (restated here from the behaviour contract,
`notify-auth.md` §2, §3, §5 and §7; no Notify file is copied), and returns the status and
message Notify would give, or CRASH where Notify would raise an uncaught exception (500).

It must run with the versions Notify's API pins: notifications-python-client==12.1.0 and
pyjwt==2.13.0 (see README.md in this directory).

    expected(header_values, route, keyfile, now) -> (status, message)

- `header_values`: the raw bytes of every `Authorization` header of the request, in order, or
  None (or []) when there is none.
- `route`: "public" (the v2 API, tokens name a service) or "internal" (the admin routes,
  tokens name the client `notify-admin`).
- `keyfile`: the demo server's key file, as a dict (`services`, `internal_clients`).
- `now`: the unix second of the request. Used for the visibility of revoked keys; PyJWT and
  the client library read the wall clock themselves, so the caller must evaluate within the
  same wall-clock second as `now` (the driver checks and retries).

Answers: (401 or 403, message) for a rejection; (200, principal) on success, where the
principal is {"service_id", "api_key_id", "key_type"} (public) or {"client_id"} (internal);
(500, CRASH) where Notify would crash.
"""

from __future__ import annotations

import datetime
import json
import uuid
import warnings

from notifications_python_client.authentication import decode_jwt_token, get_token_issuer
from notifications_python_client.errors import (
    TokenAlgorithmError,
    TokenDecodeError,
    TokenError,
    TokenExpiredError,
    TokenIssuerError,
)

# Short HMAC secrets (the internal client's) make PyJWT warn; Notify's server only logs that.
warnings.filterwarnings("ignore")

CRASH = "CRASH"
ADMIN_CLIENT_ID = "notify-admin"

M_NO_TOKEN = "Unauthorized: authentication token must be provided"
M_SCHEME = "Unauthorized: authentication bearer scheme must be used"
M_NO_ISS = "Invalid token: iss field not provided"
M_NOT_ALLOWED = "Unauthorized: not allowed to perform this action"
M_ISS_TYPE = "Invalid token: service id is not the right data type"
M_NO_SERVICE = "Invalid token: service not found"
M_NO_KEYS = "Invalid token: service has no API keys"
M_ARCHIVED = "Invalid token: service is archived"
M_ALGORITHM = "Invalid token: algorithm used is not HS256"
M_REVOKED = "Invalid token: API key revoked"
M_NOT_FOUND = "Invalid token: API key not found"
GENERAL = (
    "Invalid token: make sure your API token matches the example at "
    "https://docs.notifications.service.gov.uk/rest-api.html#authorisation-header"
)
CLOCK = "Error: Your system clock must be accurate to within 30 seconds"

REVOKED_KEY_VISIBILITY = datetime.timedelta(days=7)


class _Answer(Exception):
    """Notify's AuthError: an answer with a status and a message."""

    def __init__(self, status: int, message):
        super().__init__(status, message)
        self.status = status
        self.message = message


def header_value(header_values) -> str | None:
    """The Authorization header as Notify's application sees it.

    Notify's server (gunicorn) decodes header bytes as Latin-1, trims spaces and tabs from
    each value, and joins repeated headers with ",".
    """
    if not header_values:
        return None
    return ",".join(bytes(v).decode("latin-1").strip(" \t") for v in header_values)


def _bearer_token(header_values) -> str:
    """Steps 1 and 2 of §2."""
    auth_header = header_value(header_values)
    if not auth_header:
        raise _Answer(401, M_NO_TOKEN)
    # Notify title-cases the first 7 characters; for Latin-1 text that is the same as an
    # ASCII-case-insensitive comparison with "bearer ".
    if auth_header[:7].title() != "Bearer ":
        raise _Answer(401, M_SCHEME)
    return auth_header[7:]


def _token_issuer(token: str):
    """Steps 3 and 4 of §2: the library's `get_token_issuer`."""
    try:
        return get_token_issuer(token)
    except TokenIssuerError:
        raise _Answer(403, M_NO_ISS) from None
    except TokenDecodeError:
        raise _Answer(403, GENERAL) from None
    # Anything else (a non-string kid, an unsupported crit, deep JSON) propagates: a crash.


def _key_loop(token: str, keys):
    """§3: `keys` are (secret, key record or None, revoked?) in the store's order.

    Returns the record of the key the token authenticates as.
    """
    for secret, record, revoked in keys:
        try:
            decode_jwt_token(token, secret)
        except TokenExpiredError:
            raise _Answer(403, CLOCK) from None
        except TokenAlgorithmError:
            raise _Answer(403, M_ALGORITHM) from None
        except TokenDecodeError:
            # Not signed with this key (or nbf/exp not integers, or iat missing): next key.
            continue
        except TokenError:
            raise _Answer(403, GENERAL) from None
        # Any other exception (int(None) on iat, an infinite float, ...) propagates: a crash.
        if revoked:
            raise _Answer(403, M_REVOKED)
        return record
    raise _Answer(403, M_NOT_FOUND)


def parse_time(text: str) -> datetime.datetime:
    """An RFC 3339 time from the key file, as an aware UTC datetime."""
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    value = datetime.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc)


def visible_keys(service: dict, now: int) -> list[dict]:
    """§5: active keys, plus revoked keys whose expiry date (the UTC calendar date, taken at
    midnight) is later than seven days before now."""
    now_dt = datetime.datetime.fromtimestamp(now, tz=datetime.timezone.utc)
    horizon = now_dt - REVOKED_KEY_VISIBILITY
    keys = []
    for key in service.get("api_keys", []):
        expiry = key.get("expiry_date")
        if expiry is None:
            keys.append(key)
            continue
        expiry_day = parse_time(expiry).date()
        midnight = datetime.datetime(
            expiry_day.year, expiry_day.month, expiry_day.day, tzinfo=datetime.timezone.utc
        )
        if midnight > horizon:
            keys.append(key)
    return keys


def _public(header_values, keyfile: dict, now: int, key_loop=_key_loop):
    token = _bearer_token(header_values)
    issuer = _token_issuer(token)
    try:
        service_id = uuid.UUID(issuer)
    except Exception:  # noqa: BLE001 - Notify catches everything here
        raise _Answer(403, M_ISS_TYPE) from None
    service = None
    for candidate in keyfile.get("services", []):
        if uuid.UUID(candidate["id"]) == service_id:
            service = candidate
            break
    if service is None:
        raise _Answer(403, M_NO_SERVICE)
    keys = visible_keys(service, now)
    if not keys:
        raise _Answer(403, M_NO_KEYS)
    if not service.get("active", True):
        raise _Answer(403, M_ARCHIVED)
    key = key_loop(token, [(k["secret"], k, k.get("expiry_date") is not None) for k in keys])
    return {
        "service_id": str(service_id),
        "api_key_id": str(uuid.UUID(key["id"])),
        "key_type": key["key_type"],
    }


def _internal(header_values, keyfile: dict, key_loop=_key_loop):
    token = _bearer_token(header_values)
    client_id = _token_issuer(token)
    if client_id != ADMIN_CLIENT_ID:
        raise _Answer(401, M_NOT_ALLOWED)
    secrets = keyfile.get("internal_clients", {}).get(ADMIN_CLIENT_ID, [])
    key_loop(token, [(secret, None, False) for secret in secrets])
    return {"client_id": ADMIN_CLIENT_ID}


def expected(header_values, route: str, keyfile: dict, now: int, method: str = "GET",
             config: dict | None = None, key_loop=_key_loop):
    """What Notify answers: (status, message), (200, principal) or (500, CRASH).

    `method` and `config` are the other dialects' (see oracle_gc.py); GOV.UK Notify's answer
    depends on neither. `key_loop` is Notify.gov's (oracle_gov.py), whose module is this one
    but for its key loop."""
    if route not in ("public", "internal"):
        raise ValueError(f"route must be 'public' or 'internal', not {route!r}")
    return answer(lambda: _public(header_values, keyfile, now, key_loop) if route == "public"
                  else _internal(header_values, keyfile, key_loop))


def answer(decide):
    """Runs a fork's decision: (200, what it returns), its AuthError, or (500, CRASH)."""
    try:
        return 200, decide()
    except _Answer as answer:
        return answer.status, answer.message
    except Exception:  # noqa: BLE001 - an uncaught exception in Notify is a 500
        # (RecursionError from absurdly deep JSON is an Exception too.)
        return 500, CRASH


def v2_body(status: int, message: str) -> bytes:
    """Notify's public-route (v2) error body."""
    body = {"errors": [{"error": "AuthError", "message": message}], "status_code": status}
    return (json.dumps(body, separators=(",", ":"), sort_keys=True) + "\n").encode()


def v1_body(message: str) -> bytes:
    """Notify's internal-route (v1) error body."""
    body = {"message": {"token": [message]}, "result": "error"}
    return (json.dumps(body, separators=(",", ":"), sort_keys=True) + "\n").encode()


def error_body(route: str, status: int, message: str) -> bytes:
    return v2_body(status, message) if route == "public" else v1_body(message)


def _main(argv=None) -> int:
    """Asks the oracle about one request: python oracle.py KEYFILE ROUTE [HEADER ...]."""
    import argparse
    import time

    ap = argparse.ArgumentParser(description="What Notify answers to an Authorization header.")
    ap.add_argument("keyfile", help="a key file in the demo server's format")
    ap.add_argument("route", choices=["public", "internal"])
    ap.add_argument("header", nargs="*", help="each Authorization header value (none: no header)")
    args = ap.parse_args(argv)
    with open(args.keyfile, encoding="utf-8") as f:
        keyfile = json.load(f)
    values = [h.encode("latin-1") for h in args.header] or None
    status, message = expected(values, args.route, keyfile, int(time.time()))
    print(status, json.dumps(message))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
