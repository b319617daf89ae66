"""The oracle for GC Notify (cds-snc/notification-api @ 72e3ae1).

Restates, on top of the libraries GC pins (notifications-python-client 6.4.1, PyJWT 2.12.0,
itsdangerous 2.2.0), `requires_auth` and `requires_admin_auth` of app/authentication/auth.py
and `get_api_key_by_secret` of app/dao/api_key_dao.py; no GC file is copied. The database
parts are restated too: the service lookup by `iss` is orm_issuer.py's (SQLAlchemy 1.4.54 and
PostgreSQL's `uuid` cast, checked against the real ones by `orm_issuer.py --check`), and a
service's keys are all its keys, revoked ones of any age included.

    expected(header_values, route, keyfile, now, method="GET", config=None)

as oracle.py's, plus `method` (GC lets OPTIONS through its public routes unauthenticated:
the answer is then (200, None)) and `config`, how raw keys (`ApiKey-v1`) are found:

- None, or no "signing_keys": the store holds the secrets as clients use them (the key file,
  or a database with plain secrets): a key is found by its secret.
- {"signing_keys": [oldest, ..., newest], "stored_with": key}: GC's database, where each
  secret is stored itsdangerous-signed with salt "api_key" by `stored_with`, and the lookup
  signs the presented secret with every signing key, newest first, querying each signature
  and giving up at the first miss (GC's own behaviour). With "lookup": "any", the fixed
  behaviour: the first signature found wins.
"""

from __future__ import annotations

import uuid

import orm_issuer
from jwt import PyJWTError
from notifications_python_client.authentication import (
    decode_jwt_token,
    decode_token,
    epoch_seconds,
    get_token_issuer,
)
from notifications_python_client.errors import (
    TokenAlgorithmError,
    TokenDecodeError,
    TokenExpiredError,
    TokenIssuerError,
)
from oracle import CLOCK, CRASH, _Answer, answer, header_value

__all__ = ["CLOCK", "CRASH", "GENERAL", "M_NOT_FOUND", "error_body", "expected"]

ADMIN_CLIENT_ID = "notify-admin"
API_KEY_PREFIX = "gcntfy-"
LEARN_MORE = "Learn more: https://documentation.notification.canada.ca/en/start.html#headers."
AUTH_TYPES = [
    ("Bearer", "jwt",
     "JWT token that the client generates and passes in, " + LEARN_MORE),
    ("ApiKey-v1", "api_key_v1",
     "If you cannot generate a JWT token you may optionally use the API secret generated for "
     "you by GC Notify. " + LEARN_MORE),
    ("CacheClear-v1", "cache_clear_v1",
     "This is used internally by GC Notify to clear the redis cache after a deployment."),
    ("Cypress-v1", "cypress_v1",
     "This is used by the Cypress tests to create users on the fly in staging."),
]

GENERAL = "Invalid token: signature, api token is not valid"
M_NOT_FOUND = "Invalid token: signature, api token not found"
M_NO_TOKEN = "Unauthorized, authentication token must be provided"
M_SCHEMES = (
    "Unauthorized, Authorization header is invalid. GC Notify supports the following "
    "authentication methods. " + ", ".join(f"{a[0]}: {a[2]}" for a in AUTH_TYPES[:2])
)
M_ISS = "Invalid token: iss field not provided"
M_ISS_TYPE = "Invalid token: service id is not the right data type"
M_NO_SERVICE = "Invalid token: service not found"
M_NO_KEYS = "Invalid token: service has no API keys"
M_ARCHIVED = "Invalid token: service is archived"
M_REVOKED = "Invalid token: API key revoked"
M_KEY_NOT_FOUND = "Invalid token: API key not found"
M_FULL_KEY = "Invalid token: Enter your full API key"
M_ADMIN_SCHEME = "Invalid scheme: can only use JWT for admin authentication"
M_ADMIN_REQUIRED = "Unauthorized, admin authentication token required"
M_ADMIN_EXPIRED = "Invalid token: expired, check that your system clock is accurate"


class _NoResultFound(Exception):
    """SQLAlchemy's NoResultFound, for the restated queries."""


def get_auth_token(header_values):
    auth_header = header_value(header_values)
    if not auth_header:
        raise _Answer(401, M_NO_TOKEN)
    for scheme, auth_type, _ in AUTH_TYPES:
        if auth_header.lower().startswith(scheme.lower()):
            return auth_type, auth_header[len(scheme) + 1:].strip()
    raise _Answer(401, M_SCHEMES)


def get_issuer(token: str):
    try:
        return get_token_issuer(token)
    except TokenIssuerError:
        raise _Answer(403, M_ISS) from None
    except TokenDecodeError:
        raise _Answer(403, GENERAL) from None
    except PyJWTError as e:
        raise _Answer(403, f"Invalid token: {e}") from None


def fetch_service(keyfile: dict, iss, fork: str = "gc"):
    """`dao_fetch_service_by_id_with_api_keys(iss)`: the service row and all of its keys, as
    `fork`'s lookup finds it (VA Notify's is cached, and hashes `iss` first)."""
    outcome = orm_issuer.orm_service_lookup(iss, fork)
    if outcome[0] == "data_error":
        raise _Answer(403, M_ISS_TYPE)
    if outcome[0] == "no_result":
        raise _Answer(403, M_NO_SERVICE)
    if outcome[0] == "crash":
        raise RuntimeError(f"the database lookup raised {outcome[1]}")
    for service in keyfile.get("services", []):
        if uuid.UUID(service["id"]) == outcome[1]:
            return service
    raise _Answer(403, M_NO_SERVICE)


def requires_auth(header_values, keyfile: dict, method: str, config: dict):
    if method == "OPTIONS":
        return None
    auth_type, token = get_auth_token(header_values)
    if auth_type == "api_key_v1":
        return auth_by_api_key(token, keyfile, config)
    service = fetch_service(keyfile, get_issuer(token))
    keys = service.get("api_keys", [])
    if not keys:
        raise _Answer(403, M_NO_KEYS)
    if not service.get("active", True):
        raise _Answer(403, M_ARCHIVED)
    for key in keys:
        try:
            decode_jwt_token(token, key["secret"])
        except TokenAlgorithmError:
            continue
        except TokenDecodeError:
            continue
        except TokenExpiredError:
            try:
                decoded = decode_token(token)
            except PyJWTError:
                continue
            # The log line reads both: a token without `iat` crashes here.
            decoded["iat"], epoch_seconds()
            raise _Answer(403, CLOCK) from None
        return with_key(key, service)
    raise _Answer(403, M_NOT_FOUND)


def with_key(key: dict, service: dict):
    """`_auth_with_api_key`: a key with an expiry date is revoked."""
    if key.get("expiry_date"):
        raise _Answer(403, M_REVOKED)
    return {
        "service_id": str(uuid.UUID(service["id"])),
        "api_key_id": str(uuid.UUID(key["id"])),
        "key_type": key["key_type"],
    }


def auth_by_api_key(secret: str, keyfile: dict, config: dict):
    try:
        key, service = get_api_key_by_secret(secret, keyfile, config)
    except _NoResultFound:
        raise _Answer(403, M_KEY_NOT_FOUND) from None
    except ValueError:
        raise _Answer(403, M_FULL_KEY) from None
    return with_key(key, service)


def get_api_key_by_secret(secret: str, keyfile: dict, config: dict):
    if API_KEY_PREFIX != secret[: len(API_KEY_PREFIX)]:
        raise ValueError()
    token = secret[-36:]
    rows = {}  # stored secret column -> (key, service)
    for service in keyfile.get("services", []):
        for key in service.get("api_keys", []):
            rows[stored(key["secret"], config)] = (key, service)
    found = None
    for signed in signatures(str(token), config):
        if signed in rows:
            found = rows[signed]
            if config.get("lookup") == "any":
                break
        elif config.get("lookup") != "any":
            raise _NoResultFound()
    if found is None:
        raise _NoResultFound()
    key, service = found
    if len(secret) >= 79:
        if str(uuid.UUID(service["id"])) != str(secret[-73:-37]):
            raise ValueError()
    else:
        raise ValueError()
    return key, service


def stored(secret: str, config: dict) -> str:
    """The `api_keys.secret` column for a key's secret."""
    if not config.get("signing_keys"):
        return secret
    from itsdangerous import URLSafeSerializer

    return URLSafeSerializer(config["stored_with"]).dumps(secret, salt="api_key")


def signatures(token: str, config: dict) -> list[str]:
    """`signer_api_key.sign_with_all_keys(token)`: newest key first."""
    if not config.get("signing_keys"):
        return [token]
    from itsdangerous import URLSafeSerializer

    return [URLSafeSerializer(k).dumps(token, salt="api_key")
            for k in reversed(config["signing_keys"])]


def requires_admin_auth(header_values, keyfile: dict):
    auth_type, token = get_auth_token(header_values)
    if auth_type != "jwt":
        raise _Answer(401, M_ADMIN_SCHEME)
    client = get_issuer(token)
    if client != ADMIN_CLIENT_ID:
        raise _Answer(401, M_ADMIN_REQUIRED)
    # GC's admin client has one secret: the key file's first.
    secret = keyfile.get("internal_clients", {}).get(ADMIN_CLIENT_ID, [None])[0]
    try:
        decode_jwt_token(token, secret)
    except TokenExpiredError:
        raise _Answer(403, M_ADMIN_EXPIRED) from None
    except TokenAlgorithmError:
        raise _Answer(403, GENERAL) from None
    except TokenDecodeError:
        raise _Answer(403, GENERAL) from None
    return {"client_id": ADMIN_CLIENT_ID}


def expected(header_values, route: str, keyfile: dict, now: int, method: str = "GET",
             config: dict | None = None):
    """What GC Notify answers: (status, message), (200, principal or None) or (500, CRASH)."""
    if route == "public":
        return answer(lambda: requires_auth(header_values, keyfile, method, config or {}))
    return answer(lambda: requires_admin_auth(header_values, keyfile))


def error_body(route: str, status: int, message: str) -> bytes:
    import oracle

    return oracle.error_body(route, status, message)
