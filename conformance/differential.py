#!/usr/bin/env python3
"""The differential conformance suite: the demo server against Notify's own validator.

    python differential.py [--dialect uk|gc|gov|va] [--server PATH] [--seed N] [--random COUNT]
                           [--skip-node] [--only TEXT]

Run it with the Python that has the dialect's pinned libraries (GOV.UK Notify and Notify.gov:
notifications-python-client==12.1.0, pyjwt==2.13.0; GC Notify: 6.4.1 and 2.12.0; VA Notify:
10.0.1 and 2.11.0; see README.md), and the oracle of that dialect (oracle.py, oracle_gov.py,
oracle_gc.py, oracle_va.py) judges. It writes a generated key file, starts the demo server on
127.0.0.1 (port 0) with it, sends every scenario over real HTTP with raw sockets, and compares
status, content type and the exact body with the oracle (oracle.py). Then it points the
official Python and Node clients at the server. It prints one line per failure, ends with
`N passed, M failed`, and exits non-zero if anything failed.

Acceptance rule (contract §9): the crate must give Notify's exact answer; where Notify would
crash (500) it must answer 403 GENERAL; for scenarios in §9's input classes (marked "§9" in
their names) a 403 with GENERAL or "API key not found" is also accepted, and nothing else.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import random
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import oracle  # noqa: E402
from oracle import CLOCK, CRASH, GENERAL, M_NOT_FOUND  # noqa: E402

DIALECTS = {"uk": "oracle", "gc": "oracle_gc", "gov": "oracle_gov", "va": "oracle_va"}
DIALECT = "uk"
# How the GC oracle finds raw keys (oracle_gc.py): set from the command line.
CONFIG: dict = {}


def use_dialect(dialect: str) -> None:
    """Judges with `dialect`'s oracle: its answers, its general message (what a crash is
    answered with) and its "not found" (the other answer §9's lenient classes may get)."""
    global DIALECT, oracle, GENERAL, M_NOT_FOUND
    import importlib

    DIALECT = dialect
    oracle = importlib.import_module(DIALECTS[dialect])
    GENERAL, M_NOT_FOUND = oracle.GENERAL, oracle.M_NOT_FOUND

DAY = 86400

# --------------------------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------------------------


class Raw:
    """A JSON literal written as is (NaN, 1e400, huge integers, deep nesting...)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self):
        return self.text


class Pairs:
    """A JSON object written from a list of pairs (so a key may appear twice)."""

    def __init__(self, pairs):
        self.pairs = list(pairs)


def enc(value) -> str:
    """Compact JSON, with Raw literals and Pairs objects."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Pairs):
        return "{" + ",".join(enc(k) + ":" + enc(v) for k, v in value.pairs) + "}"
    if isinstance(value, dict):
        return "{" + ",".join(enc(k) + ":" + enc(v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(enc(v) for v in value) + "]"
    return json.dumps(value, separators=(",", ":"))


def to_bytes(value) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return enc(value).encode()


def b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


HS256_HEADER = {"alg": "HS256", "typ": "JWT"}
MISSING = object()  # a claim left out


def sign(signing_input: bytes, secret, alg: str = "HS256") -> bytes:
    if secret is None:
        return b""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}.get(
        alg, hashlib.sha256
    )
    key = secret.encode() if isinstance(secret, str) else secret
    return b64(hmac.new(key, signing_input, digest).digest())


def token(
    claims=None,
    secret=None,
    header=None,
    *,
    sign_alg: str | None = None,
    header_segment: bytes | None = None,
    payload_segment: bytes | None = None,
    signature: bytes | None = None,
) -> bytes:
    """A JWT. `header`/`claims` are dicts (or raw bytes/str JSON); segments may be given raw.

    It is signed with HMAC over the actual signing input, using `sign_alg` (default: the
    header's alg if it names an HMAC algorithm, else SHA-256)."""
    if header is None:
        header = HS256_HEADER
    if header_segment is None:
        header_segment = b64(to_bytes(header))
    if payload_segment is None:
        payload_segment = b64(to_bytes(claims if claims is not None else {}))
    signing_input = header_segment + b"." + payload_segment
    if signature is None:
        if sign_alg is None:
            alg = header.get("alg") if isinstance(header, dict) else None
            sign_alg = alg if alg in ("HS256", "HS384", "HS512") else "HS256"
        signature = sign(signing_input, secret, sign_alg)
    return signing_input + b"." + signature


def claims_of(iss, iat, **extra) -> dict:
    """Claims with `iss` and `iat` (either may be MISSING) and extra claims."""
    c = {}
    if iss is not MISSING:
        c["iss"] = iss
    if iat is not MISSING:
        c["iat"] = iat
    for k, v in extra.items():
        if v is not MISSING:
            c[k] = v
    return c


def bearer(tok: bytes, scheme: bytes = b"Bearer ") -> list[bytes]:
    return [scheme + tok]


# --------------------------------------------------------------------------------------------
# The fixture: the key file the server and the oracle share
# --------------------------------------------------------------------------------------------


def iso(t: int) -> str:
    return datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


@dataclass
class Key:
    name: str
    id: str
    secret: str
    key_type: str
    expiry_date: str | None = None


@dataclass
class Svc:
    name: str
    id: str
    active: bool
    keys: dict = field(default_factory=dict)


class Fixture:
    """Services: S (active; normal, team and test keys; keys revoked yesterday, 6 days ago,
    just before midnight 7 days ago, 8 days ago, a month ago, and tomorrow), S2 (active, one
    key), A (archived, one key), E (active, no keys), R (active, only long-revoked keys),
    AR (archived, only a long-revoked key), AE (archived, no keys). Internal clients:
    notify-admin (two secrets) and other-client (one secret)."""

    def __init__(self, rng: random.Random, now: int, dialect: str = "uk"):
        def uid() -> str:
            return str(uuid.UUID(int=rng.getrandbits(128), version=4))

        midnight = now - now % DAY
        self.services: dict[str, Svc] = {}
        self.revoked: set[tuple[str, str]] = set()

        def service(name, active, keys):
            svc = Svc(name, uid(), active)
            for kname, ktype, expiry in keys:
                if dialect == "va":
                    # VA: every key has an expiry date (the keys the other dialects call
                    # revoked have expired, or will), and revocation is a flag of its own.
                    if kname in ("revoked_yesterday", "revoked_flag"):
                        self.revoked.add((name, kname))
                    if expiry is None and kname != "no_expiry":
                        expiry = now + 180 * DAY
                svc.keys[kname] = Key(
                    kname, uid(), uid(), ktype, None if expiry is None else iso(expiry)
                )
            self.services[name] = svc

        va_keys = [
            ("revoked_flag", "normal", now + 60 * DAY),
            ("expires_in_a_minute", "test", now + 60),
            ("no_expiry", "normal", None),
        ] if dialect == "va" else []

        service(
            "S",
            True,
            [
                ("normal", "normal", None),
                ("team", "team", None),
                ("test", "test", None),
                ("revoked_yesterday", "normal", now - DAY),
                ("revoked_6_days", "normal", midnight - 6 * DAY + 60),
                ("revoked_7_days_late", "normal", midnight - 6 * DAY - 1),
                ("revoked_8_days", "normal", now - 8 * DAY),
                ("revoked_month", "normal", now - 30 * DAY),
                ("revoked_tomorrow", "team", now + DAY),
                *va_keys,
            ],
        )
        service("S2", True, [("normal", "normal", None)])
        service("A", False, [("normal", "normal", None)])
        service("E", True, [])
        service(
            "R",
            True,
            [("revoked_month", "normal", now - 30 * DAY), ("revoked_8_days", "test", now - 8 * DAY)],
        )
        service("AR", False, [("revoked_month", "normal", now - 31 * DAY)])
        service("AE", False, [])
        # A service whose id is all decimal digits: GC and VA Notify's database reads the
        # integer with those 32 digits as this id.
        service("DIGITS", True, [("normal", "normal", None)])
        digits = "".join(str(rng.randrange(10)) for _ in range(32))
        self.services["DIGITS"].id = str(uuid.UUID(digits))
        self.admin_secrets = [
            "admin-secret-one-" + uid().replace("-", "")[:12],
            "admin-secret-two-" + uid().replace("-", "")[:12],
        ]
        self.other_client_secret = "other-secret-" + uid().replace("-", "")[:12]
        self.unknown_service = uid()
        self.keyfile = {
            "services": [
                {
                    "id": s.id,
                    "active": s.active,
                    "api_keys": [
                        {
                            "id": k.id,
                            "name": k.name,
                            "secret": k.secret,
                            "key_type": k.key_type,
                            "expiry_date": k.expiry_date,
                            **({"revoked": True} if (s.name, k.name) in self.revoked else {}),
                        }
                        for k in s.keys.values()
                    ],
                }
                for s in self.services.values()
            ],
            "internal_clients": {
                # GC and VA Notify's admin client has one secret.
                "notify-admin": self.admin_secrets[:1] if dialect in ("gc", "va")
                else self.admin_secrets,
                "other-client": [self.other_client_secret],
            },
        }

    def sid(self, name: str) -> str:
        return self.services[name].id

    def secret(self, svc: str, key: str = "normal") -> str:
        return self.services[svc].keys[key].secret


# --------------------------------------------------------------------------------------------
# HTTP over raw sockets
# --------------------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    content_type: str | None
    body: bytes


def http(port: int, header_values, *, path: str = "/v2/notifications", method: str = "GET",
         header_name: bytes = b"Authorization") -> Response:
    """One HTTP/1.1 request; each Authorization value is written as `Name: value` verbatim."""
    lines = [f"{method} {path} HTTP/1.1".encode(), f"Host: 127.0.0.1:{port}".encode()]
    lines.append(b"User-Agent: notify-auth-differential")
    if method in ("POST", "PUT"):
        lines.append(b"Content-Type: application/json")
        lines.append(b"Content-Length: 2")
    for value in header_values or []:
        lines.append(header_name + b": " + value)
    lines.append(b"Connection: close")
    request = b"\r\n".join(lines) + b"\r\n\r\n" + (b"{}" if method in ("POST", "PUT") else b"")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    raw = b"".join(chunks)
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise RuntimeError(f"malformed HTTP response: {raw[:200]!r}")
    head_lines = head.split(b"\r\n")
    status = int(head_lines[0].split(b" ")[1])
    headers: dict[str, str] = {}
    for line in head_lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = dechunk(body)
    elif "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return Response(status, headers.get("content-type"), body)


def dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return out


# --------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    route: str  # "public" | "internal"
    build: Callable[[int], list[bytes] | None]  # now -> Authorization header values
    lenient: bool = False  # in a contract §9 input class
    header_name: bytes = b"Authorization"
    path: str | None = None
    method: str = "GET"


class Catalog:
    def __init__(self):
        self.items: list[Scenario] = []

    def add(self, name, build, route="public", lenient=False, **kw):
        if lenient:
            name += " (§9)"
        self.items.append(Scenario(name, route, build, lenient, **kw))


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def to_arabic(digits: str) -> str:
    return "".join(chr(0x660 + int(c)) if c.isdigit() else c for c in digits)


def to_fullwidth(digits: str) -> str:
    return "".join(chr(0xFF10 + int(c)) if c.isdigit() else c for c in digits)


def flip_low_bit(seg: bytes) -> bytes:
    """Sets the lowest (unused, when the segment has trailing bits) bit of the last char."""
    last = ALPHABET.index(seg[-1:])
    return seg[:-1] + ALPHABET[last ^ 1 : (last ^ 1) + 1]


def odd_json(data: bytes) -> bytes:
    """The JSON with trailing white space so its base64 has trailing bits and needs padding."""
    while len(data) % 3 != 1:
        data += b" "
    return data


def one_past_quantum(seg: bytes) -> bytes:
    """The segment lengthened to 1 character past a multiple of 4 (never valid base64)."""
    return seg + b"A" * ((1 - len(seg)) % 4)


def change_char(tok: bytes, index: int) -> bytes:
    c = tok[index : index + 1]
    return tok[:index] + (b"B" if c != b"B" else b"C") + tok[index + 1 :]


def insert_char(seg: bytes, ch: bytes) -> bytes:
    middle = (len(seg) // 8) * 4  # on a quantum boundary
    return seg[:middle] + ch + seg[middle:]


def resigned(header_segment: bytes, payload_segment: bytes, secret) -> bytes:
    signing_input = header_segment + b"." + payload_segment
    return signing_input + b"." + sign(signing_input, secret)


def std_alphabet_payload(claims: dict) -> bytes:
    """The claims in standard base64 ('+' and '/'), with an extra claim that needs them."""
    for pad in range(64):
        claims = dict(claims, x="?" * pad + ">>>~~~")
        seg = b64(enc(claims).encode())
        if b"-" in seg and b"_" in seg:
            break
    return seg.replace(b"-", b"+").replace(b"_", b"/")


def deterministic_scenarios(fx: Fixture) -> list[Scenario]:
    cat = Catalog()
    add = cat.add
    S = fx.sid("S")
    K1 = fx.secret("S", "normal")
    K2 = fx.secret("S", "test")
    K3 = fx.secret("S", "revoked_yesterday")
    WRONG = str(uuid.UUID(int=12345, version=4))
    ADMIN1, ADMIN2 = fx.admin_secrets

    def valid(now, secret=K1, iss=S, header=None, **extra):
        return token(claims_of(iss, now, **extra), secret, header)

    def admin(now, secret=ADMIN1, iss="notify-admin", header=None, **extra):
        return token(claims_of(iss, now, **extra), secret, header)

    cases_rows(add, fx, valid, admin, S, K1, K2, K3, WRONG, ADMIN1, ADMIN2)
    for route, good, secret, iss in (
        ("public", valid, K1, S),
        ("internal", admin, ADMIN1, "notify-admin"),
    ):
        header_forms(add, route, good)
        segment_forms(add, route, good, secret, iss)
        jose_headers(add, route, secret, iss)
        window_edges(add, route, secret, iss)
        json_probes(add, route, secret, iss)
    issuer_spellings(add, fx, S, K1, WRONG)
    services_and_keys(add, fx, valid, S, K1, WRONG, ADMIN1)
    claim_classes(add, S, K1, K3, WRONG, ADMIN1)
    internal_specifics(add, fx, admin, S, K1, ADMIN1)
    add("public path: POST /v2/notifications/sms", lambda n: bearer(valid(n)),
        path="/v2/notifications/sms", method="POST")
    add("public path: /v2/", lambda n: bearer(valid(n)), path="/v2/")
    for path in ("/service", "/service/abc/api-keys"):
        add(f"internal path {path}: valid", lambda n: bearer(admin(n)), "internal", path=path)
        add(f"internal path {path}: wrong secret", lambda n: bearer(admin(n, WRONG)), "internal",
            path=path)
    return cat.items


def cases_rows(add, fx, valid, admin, S, K1, K2, K3, WRONG, ADMIN1, ADMIN2):
    """Every row of cases.md."""
    add("cases: valid token", lambda n: bearer(valid(n)))
    for scheme in (b"bearer ", b"BEARER ", b"bEaReR "):
        add(f"cases: valid token, scheme {scheme.decode().strip()!r}",
            lambda n, s=scheme: bearer(valid(n), s))
    add("cases: no Authorization header", lambda n: None)
    add("cases: Authorization empty", lambda n: [b""])
    add("cases: Basic 1234", lambda n: [b"Basic 1234"])
    add("cases: Bearer<token> (no space)", lambda n: bearer(valid(n), b"Bearer"))
    add("cases: Bearer alone", lambda n: [b"Bearer"])
    add("cases: 'Bearer ' (trimmed to Bearer)", lambda n: [b"Bearer "])
    add("cases: Bearer<tab><token>", lambda n: bearer(valid(n), b"Bearer\t"))
    add("cases: Bearer 1234", lambda n: [b"Bearer 1234"])
    add("cases: token with two segments", lambda n: bearer(valid(n).rsplit(b".", 1)[0]))
    add("cases: token with four segments", lambda n: bearer(valid(n) + b".c2ln"))
    add("cases: header segment not JSON",
        lambda n: bearer(token(claims_of(S, n), K1, b"not json")))
    add("cases: header segment a JSON array",
        lambda n: bearer(token(claims_of(S, n), K1, b'["HS256","JWT"]')))
    add("cases: payload segment not JSON", lambda n: bearer(token(b"not json", K1)))
    add("cases: payload segment a JSON array", lambda n: bearer(token([S, n], K1)))
    add("cases: payload {iat: now} (no iss)", lambda n: bearer(token({"iat": n}, K1)))
    for iss in ("not-a-valid-id", 1234, None):
        add(f"cases: iss = {json.dumps(iss)}", lambda n, i=iss: bearer(valid(n, iss=i)))
    for label, spelling in (
        ("upper case", S.upper()),
        ("without hyphens", S.replace("-", "")),
        ("in {}", "{" + S + "}"),
        ("urn:uuid:", "urn:uuid:" + S),
    ):
        add(f"cases: iss = S {label}", lambda n, i=spelling: bearer(valid(n, iss=i)))
    add("cases: iss = unknown UUID", lambda n: bearer(valid(n, iss=fx.unknown_service)))
    add("cases: iss = E (no keys)", lambda n: bearer(valid(n, iss=fx.sid("E"))))
    add("cases: iss = A (archived)",
        lambda n: bearer(valid(n, iss=fx.sid("A"), secret=fx.secret("A"))))
    add("cases: iss = archived service whose only key was removed",
        lambda n: bearer(valid(n, iss=fx.sid("AE"))))
    add("cases: signed with a secret of no key", lambda n: bearer(valid(n, secret=WRONG)))
    add("cases: signed with K2 (test key)", lambda n: bearer(valid(n, secret=K2)))
    add("cases: signed with K3 (revoked yesterday)", lambda n: bearer(valid(n, secret=K3)))
    add("cases: alg HS512", lambda n: bearer(valid(n, header={"alg": "HS512", "typ": "JWT"})))
    add("cases: alg none, empty signature",
        lambda n: bearer(token(claims_of(S, n), None, {"alg": "none", "typ": "JWT"})))
    add("cases: alg hs256", lambda n: bearer(valid(n, header={"alg": "hs256", "typ": "JWT"})))
    add("cases: alg empty string", lambda n: bearer(valid(n, header={"alg": "", "typ": "JWT"})))
    add("cases: alg missing", lambda n: bearer(valid(n, header={"typ": "JWT"})))
    add("cases: alg HS512, wrong secret, iat an hour old",
        lambda n: bearer(token(claims_of(S, n - 3600), WRONG, {"alg": "HS512", "typ": "JWT"})))
    add("cases: alg HS512, iss unknown",
        lambda n: bearer(valid(n, iss=fx.unknown_service, header={"alg": "HS512", "typ": "JWT"})))
    add("cases: typ missing", lambda n: bearer(valid(n, header={"alg": "HS256"})))
    add("cases: typ XYZ", lambda n: bearer(valid(n, header={"alg": "HS256", "typ": "XYZ"})))
    for off in (-30, 30, -31, 31):
        add(f"cases: iat = now{off:+d}", lambda n, o=off: bearer(token(claims_of(S, n + o), K1)))
    add("cases: iat = now-60, signed with K3",
        lambda n: bearer(token(claims_of(S, n - 60), K3)))
    add("cases: iat = now-3600, wrong secret",
        lambda n: bearer(token(claims_of(S, n - 3600), WRONG)))
    add("cases: iat missing, right secret", lambda n: bearer(token({"iss": S}, K1)))
    add("cases: iat = 'abc'", lambda n: bearer(token(claims_of(S, "abc"), K1)))
    add("cases: iat = now as a float with a fraction",
        lambda n: bearer(token(claims_of(S, n + 0.25), K1)))
    add("cases: claims carry extra req and pay",
        lambda n: bearer(valid(n, req="c2lnbmF0dXJl", pay="cGF5bG9hZA==")))
    add("cases: aud = notifications.service.gov.uk",
        lambda n: bearer(valid(n, aud="notifications.service.gov.uk")))

    def python_client_token(now):
        from notifications_python_client.authentication import create_jwt_token

        return bearer(create_jwt_token(K1, S).encode())

    add("cases: token made by the official Python client", python_client_token)
    add("cases: internal: valid token with s1", lambda n: bearer(admin(n)), "internal")
    add("cases: internal: valid token with s2", lambda n: bearer(admin(n, ADMIN2)), "internal")
    add("cases: internal: a public service's token", lambda n: bearer(valid(n)), "internal")
    add("cases: internal: no header", lambda n: None, "internal")
    add("cases: internal: wrong secret", lambda n: bearer(admin(n, WRONG)), "internal")
    add("cases: internal: iat a minute old",
        lambda n: bearer(token(claims_of("notify-admin", n - 60), ADMIN1)), "internal")
    add("cases: internal: alg HS512",
        lambda n: bearer(admin(n, header={"alg": "HS512", "typ": "JWT"})), "internal")


def header_forms(add, route, good):
    """Each form of the Authorization header (contract §2 steps 1, 2 and header details)."""
    r = f"header[{route}]"
    forms = [
        ("scheme lowercase", lambda n: bearer(good(n), b"bearer ")),
        ("scheme uppercase", lambda n: bearer(good(n), b"BEARER ")),
        ("scheme mixed case", lambda n: bearer(good(n), b"BeArEr ")),
        ("tab after scheme", lambda n: bearer(good(n), b"Bearer\t")),
        ("no space after scheme", lambda n: bearer(good(n), b"Bearer")),
        ("colon after scheme", lambda n: bearer(good(n), b"Bearer: ")),
        ("NBSP (0xA0) after scheme", lambda n: bearer(good(n), b"Bearer\xa0")),
        ("scheme with a typo", lambda n: bearer(good(n), b"Baerer ")),
        ("Token scheme", lambda n: bearer(good(n), b"Token ")),
        ("Basic scheme", lambda n: [b"Basic dXNlcjpwYXNz"]),
        ("JWT alone, no scheme", lambda n: [good(n)]),
        ("empty value", lambda n: [b""]),
        ("one space", lambda n: [b" "]),
        ("tabs and spaces only", lambda n: [b" \t \t"]),
        ("Bearer alone", lambda n: [b"Bearer"]),
        ("'Bearer ' trailing space", lambda n: [b"Bearer "]),
        ("'Bearer  ' two trailing spaces", lambda n: [b"Bearer  "]),
        ("'Bearer\\t' trailing tab", lambda n: [b"Bearer\t"]),
        ("'Bear' (short)", lambda n: [b"Bear"]),
        ("'bearer x'", lambda n: [b"bearer x"]),
        ("leading and trailing spaces", lambda n: [b"  Bearer " + good(n) + b"  "]),
        ("leading and trailing tabs", lambda n: [b"\tBearer " + good(n) + b"\t"]),
        ("repeated: empty then valid", lambda n: [b"", b"Bearer " + good(n)]),
        ("repeated: valid then empty", lambda n: [b"Bearer " + good(n), b""]),
        ("repeated: two empty", lambda n: [b"", b""]),
        ("repeated: two blank", lambda n: [b" ", b"\t"]),
        ("repeated: Basic then valid", lambda n: [b"Basic abc", b"Bearer " + good(n)]),
    ]
    for label, build in forms:
        add(f"{r}: {label}", build, route)
    # The extra space, the comma and the second value are outside base64url: §9.
    lenient_forms = [
        ("two spaces after scheme", lambda n: bearer(good(n), b"Bearer  ")),
        ("repeated: the same valid header twice",
         lambda n: [b"Bearer " + good(n), b"Bearer " + good(n)]),
        ("repeated: valid then Basic", lambda n: [b"Bearer " + good(n), b"Basic abc"]),
        ("repeated: valid then blank", lambda n: [b"Bearer " + good(n), b"  "]),
        ("space inside the token", lambda n: [b"Bearer " + good(n)[:12] + b" " + good(n)[12:]]),
        ("Latin-1 byte inside the token",
         lambda n: [b"Bearer " + good(n)[:12] + b"\xe9" + good(n)[12:]]),
    ]
    for label, build in lenient_forms:
        add(f"{r}: {label}", build, route, lenient=True)
    add(f"{r}: header name in lower case", lambda n: bearer(good(n)), route,
        header_name=b"authorization")
    add(f"{r}: header name in upper case", lambda n: bearer(good(n)), route,
        header_name=b"AUTHORIZATION")


def segment_forms(add, route, good, secret, iss):
    """Segments and their base64 (contract §2 step 3; §9 for the lenient decoders)."""
    r = f"segments[{route}]"
    H = b64(enc(HS256_HEADER).encode())

    def P(n, **extra):
        return b64(enc(claims_of(iss, n, **extra)).encode())

    forms = [
        ("one segment", lambda n: bearer(good(n).split(b".")[0])),
        ("two segments", lambda n: bearer(b".".join(good(n).split(b".")[:2]))),
        ("four segments (trailing dot)", lambda n: bearer(good(n) + b".")),
        ("five segments", lambda n: bearer(good(n) + b".a.b")),
        ("only dots", lambda n: [b"Bearer .."]),
        ("three dots", lambda n: [b"Bearer ..."]),
        ("empty header segment", lambda n: bearer(resigned(b"", P(n), secret))),
        ("empty payload segment", lambda n: bearer(resigned(H, b"", secret))),
        ("empty signature", lambda n: bearer(good(n).rsplit(b".", 1)[0] + b".")),
        ("signature truncated by one char", lambda n: bearer(good(n)[:-1])),
        ("signature truncated by two chars", lambda n: bearer(good(n)[:-2])),
        ("signature with one extra char", lambda n: bearer(good(n) + b"A")),
        ("signature with four extra chars", lambda n: bearer(good(n) + b"AAAA")),
        ("signature 8 chars short", lambda n: bearer(good(n)[:-8])),
        ("signature with non-zero trailing bits",
         lambda n: bearer(good(n)[:-1] + flip_low_bit(good(n)[-1:]))),
        ("signature with one char changed", lambda n: bearer(change_char(good(n), -5))),
        ("header segment 1 char past a multiple of 4",
         lambda n: bearer(resigned(one_past_quantum(H), P(n), secret))),
        ("payload segment 1 char past a multiple of 4",
         lambda n: bearer(resigned(H, one_past_quantum(P(n)), secret))),
        ("signature 1 char past a multiple of 4",
         lambda n: bearer(good(n) + b"A" * ((1 - 43) % 4))),
        ("header with non-zero trailing bits",
         lambda n: bearer(resigned(flip_low_bit(b64(odd_json(enc(HS256_HEADER).encode()))),
                                   P(n), secret))),
        ("payload with non-zero trailing bits",
         lambda n: bearer(resigned(H, flip_low_bit(b64(odd_json(enc(claims_of(iss, n)).encode()))),
                                   secret))),
        ("payload re-signed with trailing white space",
         lambda n: bearer(resigned(H, b64(odd_json(enc(claims_of(iss, n)).encode())), secret))),
    ]
    for label, build in forms:
        add(f"{r}: {label}", build, route)
    lenient = [
        ("padded header segment",
         lambda n: bearer(resigned(base64.urlsafe_b64encode(odd_json(enc(HS256_HEADER).encode())),
                                   P(n), secret))),
        ("padded payload segment",
         lambda n: bearer(resigned(H, base64.urlsafe_b64encode(odd_json(enc(claims_of(iss, n)).encode())),
                                   secret))),
        ("padded signature", lambda n: bearer(good(n) + b"=")),
        ("signature with '==' padding", lambda n: bearer(good(n) + b"==")),
        ("standard-alphabet payload (+/)",
         lambda n: bearer(resigned(H, std_alphabet_payload(claims_of(iss, n)), secret))),
        ("standard-alphabet signature (+/)",
         lambda n: bearer(good(n)[:-43] + good(n)[-43:].replace(b"-", b"+").replace(b"_", b"/"))),
        ("payload with a '*' inside, re-signed",
         lambda n: bearer(resigned(H, insert_char(P(n), b"*"), secret))),
        ("payload with a '*' inside, not re-signed",
         lambda n: bearer(H + b"." + insert_char(P(n), b"*") + b"." + good(n).rsplit(b".", 1)[1])),
        ("signature with a '*' inside",
         lambda n: bearer(good(n)[:-20] + b"*" + good(n)[-20:])),
        ("payload split by an extra dot, re-signed",
         lambda n: bearer(resigned(H, insert_char(P(n), b"."), secret))),
        ("payload with a space inside, re-signed",
         lambda n: bearer(resigned(H, insert_char(P(n), b" "), secret))),
    ]
    for label, build in lenient:
        add(f"{r}: {label}", build, route, lenient=True)


def jose_headers(add, route, secret, iss):
    """The JOSE header: alg, typ, kid, b64, crit (contract §2 step 3, §3 item 1)."""
    r = f"jose[{route}]"

    def with_header(h, sign_alg=None, sig_secret=secret):
        return lambda n: bearer(token(claims_of(iss, n), sig_secret, h, sign_alg=sign_alg))

    exact = [
        ("alg none, with a signature", {"alg": "none", "typ": "JWT"}),
        ("alg none, empty signature", {"alg": "none", "typ": "JWT"}, None, None),
        ("alg None", {"alg": "None", "typ": "JWT"}),
        ("alg HS512", {"alg": "HS512", "typ": "JWT"}),
        ("alg HS384", {"alg": "HS384", "typ": "JWT"}),
        ("alg RS256", {"alg": "RS256", "typ": "JWT"}),
        ("alg ES256", {"alg": "ES256", "typ": "JWT"}),
        ("alg hs256", {"alg": "hs256", "typ": "JWT"}),
        ("alg 'HS256 '", {"alg": "HS256 ", "typ": "JWT"}),
        ("alg ''", {"alg": "", "typ": "JWT"}),
        ("alg null", {"alg": None, "typ": "JWT"}),
        ("alg 256", {"alg": 256, "typ": "JWT"}),
        ("alg true", {"alg": True, "typ": "JWT"}),
        ("alg ['HS256']", {"alg": ["HS256"], "typ": "JWT"}),
        ("alg {}", {"alg": {}, "typ": "JWT"}),
        ("alg missing", {"typ": "JWT"}),
        ("empty header {}", {}),
        ("alg HS256 but signed with HMAC-SHA512", {"alg": "HS256", "typ": "JWT"}, "HS512"),
        ("typ missing", {"alg": "HS256"}),
        ("typ XYZ", {"alg": "HS256", "typ": "XYZ"}),
        ("typ jwt", {"alg": "HS256", "typ": "jwt"}),
        ("typ null", {"alg": "HS256", "typ": None}),
        ("typ 1", {"alg": "HS256", "typ": 1}),
        ("typ []", {"alg": "HS256", "typ": []}),
        ("typ before alg", Pairs([("typ", "JWT"), ("alg", "HS256")])),
        ("kid a string", {"alg": "HS256", "typ": "JWT", "kid": "key-1"}),
        ("kid ''", {"alg": "HS256", "typ": "JWT", "kid": ""}),
        ("kid 1", {"alg": "HS256", "typ": "JWT", "kid": 1}),
        ("kid null", {"alg": "HS256", "typ": "JWT", "kid": None}),
        ("kid []", {"alg": "HS256", "typ": "JWT", "kid": []}),
        ("kid {}", {"alg": "HS256", "typ": "JWT", "kid": {}}),
        ("kid true", {"alg": "HS256", "typ": "JWT", "kid": True}),
        ("kid 1 with alg none", {"alg": "none", "kid": 1}),
        ("kid 1, wrong secret", {"alg": "HS256", "kid": 1}, None, "wrong-secret"),
        ("b64 true", {"alg": "HS256", "typ": "JWT", "b64": True}),
        ("b64 false", {"alg": "HS256", "typ": "JWT", "b64": False}),
        ("b64 'false'", {"alg": "HS256", "typ": "JWT", "b64": "false"}),
        ("b64 null", {"alg": "HS256", "typ": "JWT", "b64": None}),
        ("extra header fields (jku, x5u, cty)",
         {"alg": "HS256", "typ": "JWT", "jku": "https://example.com", "x5u": "x", "cty": "JWT"}),
        ("header pretty-printed", Raw('{\n  "alg" : "HS256",\n  "typ" : "JWT"\n}')),
        ("header with an escaped key", Raw('{"\\u0061lg":"HS256","typ":"JWT"}')),
        ("header with an escaped value", Raw('{"alg":"HS\\u0032\\u00356","typ":"JWT"}')),
        ("header a JSON string", Raw('"HS256"')),
        ("header JSON null", Raw("null")),
        ("header JSON number", Raw("1")),
        ("header with trailing garbage", Raw('{"alg":"HS256"}x')),
        ("header with trailing white space", Raw('{"alg":"HS256"} \n')),
        ("header with two objects", Raw('{"alg":"HS256"}{}')),
        ("header with a trailing comma", Raw('{"alg":"HS256",}')),
    ]
    for item in exact:
        label, h = item[0], item[1]
        sign_alg = item[2] if len(item) > 2 else None
        sig_secret = secret if len(item) < 4 else item[3]
        add(f"{r}: {label}", with_header(h, sign_alg, sig_secret), route)
    add(f"{r}: b64 false, empty payload segment",
        lambda n: bearer(resigned(b64(b'{"alg":"HS256","b64":false}'), b"", secret)), route)
    lenient = [
        ("crit ['b64'] with b64 true",
         {"alg": "HS256", "typ": "JWT", "crit": ["b64"], "b64": True}),
        ("crit ['b64'] with b64 false", {"alg": "HS256", "crit": ["b64"], "b64": False}),
        ("crit ['b64'] without b64", {"alg": "HS256", "crit": ["b64"]}),
        ("crit ['exp']", {"alg": "HS256", "typ": "JWT", "crit": ["exp"]}),
        ("crit []", {"alg": "HS256", "typ": "JWT", "crit": []}),
        ("crit 'b64'", {"alg": "HS256", "typ": "JWT", "crit": "b64", "b64": True}),
        ("crit null", {"alg": "HS256", "typ": "JWT", "crit": None}),
        ("duplicate alg: none then HS256", Pairs([("alg", "none"), ("alg", "HS256")])),
        ("duplicate alg: HS256 then none", Pairs([("alg", "HS256"), ("alg", "none")])),
        ("duplicate kid: 1 then 'a'", Pairs([("alg", "HS256"), ("kid", 1), ("kid", "a")])),
        ("header with a UTF-8 BOM", b"\xef\xbb\xbf" + enc(HS256_HEADER).encode()),
        ("header with NaN", Raw('{"alg":"HS256","x":NaN}')),
    ]
    for label, h in lenient:
        add(f"{r}: {label}", with_header(h), route, lenient=True)


def window_edges(add, route, secret, iss):
    """The iat window (contract §4), to the second and with fractions."""
    for off in (-31, -30, -29, 0, 29, 30, 31, -30.9, 30.9, -30.5, 30.5, -31.0, 31.0, -29.9, 29.9):
        add(f"window[{route}]: iat now{off:+}",
            lambda n, o=off: bearer(token({"iss": iss, "iat": n + o}, secret)), route)


def json_probes(add, route, secret, iss):
    """How the claims' JSON is read (Python's json against the crate's parser)."""
    r = f"json[{route}]"
    q = json.dumps(iss)

    def claims_text(n, rest=""):
        return '{"iss":%s,"iat":%d%s}' % (q, n, rest)

    text_items = [
        ("pretty-printed claims", lambda n: '{\n "iss" : %s ,\n "iat" : %d\n}\n' % (q, n), False),
        ("escaped claim names", lambda n: '{"\\u0069ss":%s,"i\\u0061t":%d}' % (q, n), False),
        ("unicode escapes in an extra claim",
         lambda n: claims_text(n, ',"name":"caf\\u00e9 \\ud83d\\ude00"'), False),
        ("raw UTF-8 in an extra claim", lambda n: claims_text(n, ',"name":"café 😀"'), False),
        ("\\u0000 in an extra claim", lambda n: claims_text(n, ',"x":"a\\u0000b"'), False),
        ("raw control character in a string", lambda n: claims_text(n, ',"x":"a\x01b"'), False),
        ("trailing comma", lambda n: claims_text(n, ","), False),
        ("single quotes", lambda n: "{'iss':%s,'iat':%d}" % (q, n), False),
        ("trailing garbage", lambda n: claims_text(n) + "x", False),
        ("two objects", lambda n: claims_text(n) + "{}", False),
        ("leading zero in iat", lambda n: '{"iss":%s,"iat":0%d}' % (q, n), False),
        ("iat with a + sign", lambda n: '{"iss":%s,"iat":+%d}' % (q, n), False),
        ("iat hex literal", lambda n: '{"iss":%s,"iat":0x10}' % (q,), False),
        ("iat with exponent 1.0e0", lambda n: '{"iss":%s,"iat":%d.0e0}' % (q, n), False),
        ("iat with exponent 1E+0", lambda n: '{"iss":%s,"iat":%dE+0}' % (q, n), False),
        ("iat -0", lambda n: '{"iss":%s,"iat":-0}' % (q,), False),
        ("nested extra claim, depth 20", lambda n: claims_text(n, ',"x":' + deep(20)), False),
        ("nested extra claim, depth 100", lambda n: claims_text(n, ',"x":' + deep(100)), False),
        ("nested extra claim, depth 126", lambda n: claims_text(n, ',"x":' + deep(126)), False),
        ("nested extra claim, depth 127", lambda n: claims_text(n, ',"x":' + deep(127)), False),
        ("nested extra claim, depth 128", lambda n: claims_text(n, ',"x":' + deep(128)), False),
        ("nested extra claim, depth 200", lambda n: claims_text(n, ',"x":' + deep(200)), False),
        ("nested extra claim, depth 500", lambda n: claims_text(n, ',"x":' + deep(500)), False),
        ("nested extra claim, depth 2500 (Notify crashes)",
         lambda n: claims_text(n, ',"x":' + deep(2500)), False),
        ("big extra claim (a 5 KB token)", lambda n: claims_text(n, ',"x":"%s"' % ("y" * 3700)),
         False),
        ("lone surrogate escape in an extra claim", lambda n: claims_text(n, ',"x":"\\ud800"'),
         False),
        ("lone surrogate escape in sub", lambda n: claims_text(n, ',"sub":"\\udc00"'), False),
        ("lone surrogate escape in a claim name", lambda n: claims_text(n, ',"\\ud800":1'), False),
        ("lone surrogate escape in iss", lambda n: '{"iss":"\\ud800","iat":%d}' % n, False),
        ("lone surrogate escape in jti", lambda n: claims_text(n, ',"jti":"\\ud800"'), False),
        ("lone surrogate escape in aud", lambda n: claims_text(n, ',"aud":"\\ud800"'), False),
        ("lone surrogate escape in iat", lambda n: '{"iss":%s,"iat":"\\ud800"}' % q, False),
        ("lone surrogate escape in nbf", lambda n: claims_text(n, ',"nbf":"\\ud800"'), False),
        ("surrogate pair escape in sub", lambda n: claims_text(n, ',"sub":"\\ud83d\\ude00"'), False),
        ("reversed surrogate pair in sub", lambda n: claims_text(n, ',"sub":"\\ude00\\ud83d"'),
         False),
        ("nested sub, depth 2500 (Notify crashes)", lambda n: claims_text(n, ',"sub":' + deep(2500)),
         False),
        ("nested aud, depth 2500 (Notify crashes)", lambda n: claims_text(n, ',"aud":' + deep(2500)),
         False),
        ("nested iss, depth 2500 (Notify crashes)",
         lambda n: '{"iss":%s,"iat":%d}' % (deep(2500), n), False),
        ("nested objects, depth 2500 (Notify crashes)",
         lambda n: claims_text(n, ',"x":' + '{"a":' * 2500 + "1" + "}" * 2500), False),
        ("4301-digit integer literal in an extra claim", lambda n: claims_text(n, ',"x":' + "9" * 4301),
         True),
        ("310-digit integer literal in an extra claim", lambda n: claims_text(n, ',"x":' + "9" * 310),
         False),
        ("310-digit integer literal in aud", lambda n: claims_text(n, ',"aud":' + "9" * 310), False),
        ("the largest finite float in an extra claim",
         lambda n: claims_text(n, ',"x":1.7976931348623157e308'), False),
        ("a float that rounds to the largest finite one",
         lambda n: claims_text(n, ',"x":1.797693134862315807e308'), False),
        ("a float just past the largest finite one",
         lambda n: claims_text(n, ',"x":1.797693134862315808e308'), True),
        ("iat a float that rounds up to the next second",
         lambda n: '{"iss":%s,"iat":%d.99999999999999999}' % (q, n + 30), False),
        ("iat with an exponent far below zero", lambda n: '{"iss":%s,"iat":%de-99999}' % (q, n), False),
        ("big extra claim (an 8100-byte token)", lambda n: claims_text(n, ',"x":"%s"' % ("y" * 5900)),
         False),
        ("NaN in an extra claim", lambda n: claims_text(n, ',"x":NaN'), True),
        ("Infinity in an extra claim", lambda n: claims_text(n, ',"x":Infinity'), True),
        ("1e400 in an extra claim", lambda n: claims_text(n, ',"x":1e400'), True),
        ("duplicate iat: 'abc' then now", lambda n: '{"iss":%s,"iat":"abc","iat":%d}' % (q, n),
         True),
        ("duplicate iat: now then 'abc'", lambda n: claims_text(n, ',"iat":"abc"'), True),
        ("duplicate iat: null then now", lambda n: '{"iss":%s,"iat":null,"iat":%d}' % (q, n), True),
        ("duplicate aud: 'x' then ''", lambda n: claims_text(n, ',"aud":"x","aud":""'), True),
        ("duplicate sub: 1 then 's'", lambda n: claims_text(n, ',"sub":1,"sub":"s"'), True),
    ]
    for label, text_fn, len_ in text_items:
        add(f"{r}: {label}", lambda n, f=text_fn: bearer(token(f(n).encode(), secret)), route,
            lenient=len_)

    def with_bytes(n, raw: bytes):
        return claims_text(n, ',"x":"').encode() + raw + b'"}'

    bytes_items = [
        ("UTF-8 BOM before the claims", lambda n: b"\xef\xbb\xbf" + claims_text(n).encode(), True),
        ("UTF-16 claims with a BOM", lambda n: claims_text(n).encode("utf-16"), True),
        ("UTF-16-LE claims without a BOM", lambda n: claims_text(n).encode("utf-16-le"), False),
        ("UTF-32-BE claims without a BOM", lambda n: claims_text(n).encode("utf-32-be"), False),
        ("invalid UTF-8 in an extra claim", lambda n: with_bytes(n, b"\xff\xfe"), False),
        ("truncated UTF-8 in sub",
         lambda n: claims_text(n, ',"sub":"').encode() + b"\xc3" + b'"}', False),
        ("UTF-8-encoded surrogate in an extra claim",
         lambda n: with_bytes(n, b"\xed\xa0\x80"), False),
        ("overlong UTF-8 in an extra claim", lambda n: with_bytes(n, b"\xc0\xaf"), False),
        ("invalid UTF-8 in a claim name",
         lambda n: claims_text(n, ',"').encode() + b"\xff" + b'":1}', False),
        ("Latin-1 byte in an extra claim", lambda n: with_bytes(n, "é".encode("latin-1")), False),
    ]
    for label, bytes_fn, len_ in bytes_items:
        add(f"{r}: {label}", lambda n, f=bytes_fn: bearer(token(f(n), secret)), route,
            lenient=len_)
    for label, header in [
        ("invalid UTF-8 in the header's typ", b'{"alg":"HS256","typ":"\xff"}'),
        ("lone surrogate escape in the header's typ", b'{"alg":"HS256","typ":"\\ud800"}'),
        ("header nested, depth 200", ('{"alg":"HS256","x":%s}' % deep(200)).encode()),
        ("header nested, depth 2500 (Notify crashes)",
         ('{"alg":"HS256","x":%s}' % deep(2500)).encode()),
        ("invalid UTF-8 in an unknown header field",
         b'{"alg":"HS256","typ":"JWT","x":"\xc3\x28"}'),
        ("lone surrogate escape in the header's kid", b'{"alg":"HS256","kid":"\\udfff"}'),
        ("lone surrogate escape in the header's alg", b'{"alg":"\\ud800"}'),
        ("header UTF-16-LE without a BOM", enc(HS256_HEADER).encode("utf-16-le")),
    ]:
        add(f"{r}: {label}",
            lambda n, h=header: bearer(token({"iss": iss, "iat": n}, secret, h)), route)


def issuer_spellings(add, fx, S, K1, WRONG):
    """iss (contract §2 steps 4-5, §4)."""
    hexs = S.replace("-", "")
    for label, iss, lenient in [
        ("upper case", S.upper(), False),
        ("mixed case", S[:18].upper() + S[18:], False),
        ("no hyphens", hexs, False),
        ("no hyphens, upper case", hexs.upper(), False),
        ("in braces", "{" + S + "}", False),
        ("in braces, no hyphens", "{" + hexs + "}", False),
        ("urn:uuid: prefix", "urn:uuid:" + S, False),
        ("URN:UUID: prefix (upper case)", "URN:UUID:" + S, False),
        ("urn:UUID: prefix", "urn:UUID:" + S, False),
        ("URN:uuid: prefix", "URN:uuid:" + S, False),
        ("Urn:Uuid: prefix", "Urn:Uuid:" + S, False),
        ("URN:UUID: prefix, no hyphens", "URN:UUID:" + hexs, False),
        ("{URN:UUID:...} in braces", "{urn:uuid:" + S + "}", False),
        ("uuid: prefix only", "uuid:" + S, False),
        ("urn: prefix only", "urn:" + S, False),
        ("urn:uuid: and braces", "urn:uuid:{" + S + "}", False),
        ("hyphens moved", hexs[:4] + "-" + hexs[4:20] + "--" + hexs[20:], False),
        ("hyphens at both ends", "-" + S + "-", False),
        ("only an opening brace", "{" + S, False),
        ("only a closing brace", S + "}", False),
        ("double braces", "{{" + S + "}}", False),
        ("a brace inside", S[:8] + "{" + S[8:], False),
        ("'urn:' inside", S[:8] + "urn:" + S[8:], False),
        ("one hex digit short", S[:-1], False),
        ("one hex digit too many", S + "a", False),
        ("a 'g' in it", S[:-1] + "g", False),
        ("leading space", " " + S, False),
        ("trailing newline", S + "\n", False),
        ("not-a-valid-id", "not-a-valid-id", False),
        ("empty string", "", False),
        ("unknown UUID", fx.unknown_service, False),
        ("nil UUID", "00000000-0000-0000-0000-000000000000", False),
        ("S2 (signed with S's key)", fx.sid("S2"), False),
        ("the internal client id", "notify-admin", False),
        ("null", None, False),
        ("1234", 1234, False),
        ("a float", 1.5, False),
        ("true", True, False),
        ("a list [S]", [S], False),
        ("an empty list", [], False),
        ("a list [null]", [None], False),
        ("a list [null, [null]]", [None, [None]], False),
        ("a list [[null], null]", [[None], None], False),
        ("a list [[]]", [[]], False),
        ("a list [null, []]", [None, []], False),
        ("a list [1]", [1], False),
        ("a list [1, '2']", [1, "2"], False),
        ("an empty object", {}, False),
        ("an object", {"id": S}, False),
        ("+ sign and 31 hex digits (int() only)", "+" + hexs[1:], True),
        ("0x prefix and 30 hex digits (int() only)", "0x" + hexs[2:], True),
        ("underscore between hex digits (int() only)", hexs[:10] + "_" + hexs[11:], True),
        ("space and 31 hex digits (int() only)", " " + hexs[1:], True),
        ("NEL and 31 hex digits (int() only)", "\x85" + hexs[1:], True),
        ("U+001C and 31 hex digits (int() refuses)", "\x1c" + hexs[1:], False),
        ("31 hex digits and U+001F (int() refuses)", hexs[1:] + "\x1f", False),
        ("ZWSP and 31 hex digits (int() refuses)", "\u200b" + hexs[1:], False),
        ("'²' and 31 hex digits (int() refuses)", "\u00b2" + hexs[1:], False),
        ("Arabic-Indic digit (int() only)", "\u0660" + hexs[1:], True),
        ("fullwidth digit (int() only)", "\uff10" + hexs[1:], True),
    ]:
        add(f"iss: {label}", lambda n, i=iss: bearer(token({"iss": i, "iat": n}, K1)),
            lenient=lenient)
    add("iss: missing, alg HS512", lambda n: bearer(token({"iat": n}, K1, {"alg": "HS512"})))
    add("iss: missing, wrong secret, iat old", lambda n: bearer(token({"iat": n - 999}, WRONG)))
    add("iss: null, alg none",
        lambda n: bearer(token({"iss": None, "iat": n}, None, {"alg": "none"})))
    add("iss: missing, kid 1 (the crash comes first)",
        lambda n: bearer(token({"iat": n}, K1, {"alg": "HS256", "kid": 1})))
    add("iss: 'bad', alg HS512, iat old",
        lambda n: bearer(token({"iss": "bad", "iat": n - 999}, K1, {"alg": "HS512"})))
    add("iss: duplicate, 'bad' then S",
        lambda n: bearer(token(Pairs([("iss", "bad"), ("iss", S), ("iat", n)]), K1)), lenient=True)
    add("iss: duplicate, S then 'bad'",
        lambda n: bearer(token(Pairs([("iss", S), ("iss", "bad"), ("iat", n)]), K1)), lenient=True)


def services_and_keys(add, fx, valid, S, K1, WRONG, ADMIN1):
    """Services and keys (contract §2 steps 6-8, §3 item 4, §5)."""
    for kname in fx.services["S"].keys:
        k = fx.secret("S", kname)
        add(f"keys: S signed with key {kname}", lambda n, s=k: bearer(valid(n, secret=s)))
        add(f"keys: S signed with key {kname}, iat now-31",
            lambda n, s=k: bearer(token(claims_of(S, n - 31), s)))
        add(f"keys: S signed with key {kname}, aud 'x'",
            lambda n, s=k: bearer(valid(n, secret=s, aud="x")))
        add(f"keys: S signed with key {kname}, iat missing",
            lambda n, s=k: bearer(token({"iss": S}, s)))
    for svc in ("S2", "A", "E", "R", "AR", "AE"):
        keys = fx.services[svc].keys
        sid = fx.sid(svc)
        for kname in keys or ["(none: a wrong secret)"]:
            s = keys[kname].secret if keys else WRONG
            add(f"keys: iss {svc} signed with key {kname}",
                lambda n, i=sid, s=s: bearer(valid(n, iss=i, secret=s)))
            add(f"keys: iss {svc} signed with key {kname}, alg HS512",
                lambda n, i=sid, s=s: bearer(valid(n, iss=i, secret=s, header={"alg": "HS512"})))
            add(f"keys: iss {svc} signed with key {kname}, iat now-99",
                lambda n, i=sid, s=s: bearer(token(claims_of(i, n - 99), s)))
    add("keys: iss S signed with S2's key", lambda n: bearer(valid(n, secret=fx.secret("S2"))))
    add("keys: iss S signed with an internal secret", lambda n: bearer(valid(n, secret=ADMIN1)))
    add("keys: iss S signed with the key id instead of the secret",
        lambda n: bearer(valid(n, secret=fx.services["S"].keys["normal"].id)))
    add("keys: iss S signed with the secret in upper case",
        lambda n: bearer(valid(n, secret=K1.upper())))
    add("keys: iss S in upper case, test key",
        lambda n: bearer(valid(n, secret=fx.secret("S", "test"), iss=S.upper())))


HUGE_NEG = "-" + "9" * 4400  # more digits than Python's int() accepts


def claim_value_classes(now: int, claim: str):
    """(label, value, §9?) for a claim, relative to now ("iat" for §9: only when the claim is
    iat, since §9 names non-ASCII digits in iat only)."""
    common = [
        ("true", True, False),
        ("false", False, False),
        ("null", None, False),
        ("[]", [], False),
        ("[1]", [1], False),
        ("{}", {}, False),
        ('{"a":1}', {"a": 1}, False),
        ("'abc'", "abc", False),
        ("''", "", False),
        ("'1.5'", "1.5", False),
        ("'0x10'", "0x10", False),
        ("'1__0'", "1__0", False),
        ("Infinity", Raw("Infinity"), True),
        ("-Infinity", Raw("-Infinity"), True),
        ("NaN", Raw("NaN"), True),
        ("1e400", Raw("1e400"), True),
        ("-1e400", Raw("-1e400"), True),
        ("10**300 as an integer literal", Raw("1" + "0" * 300), False),
        ("10**400 as an integer literal", Raw("1" + "0" * 400), True),
        ("-10**30", -(10**30), False),
        ("10**30", 10**30, False),
        ("1e300", Raw("1e300"), False),
        ("'9'*5000 (beyond int())", "9" * 5000, False),
        ("'-9'*4400 (beyond int())", HUGE_NEG, False),
        ("'\\x1c1' (int() does not strip U+001C)", "\x1c1", False),
        ("'²' (a digit int() refuses)", "\u00b2", "iat"),
        ("4301-digit integer literal", Raw("9" * 4301), True),
    ]
    if claim == "iat":
        return [
            ("now", now, False),
            ("now-30", now - 30, False),
            ("now+30", now + 30, False),
            ("now-31", now - 31, False),
            ("now+31", now + 31, False),
            ("now+0.5", now + 0.5, False),
            ("now+30.9", now + 30.9, False),
            ("now-30.9", now - 30.9, False),
            ("now-29.1", now - 29.1, False),
            ("now+31.0", float(now + 31), False),
            ("now-30.0", float(now - 30), False),
            ("now in exponent notation", Raw(f"{now / 10**9:.9f}e9"), False),
            ("now as N.0", Raw(f"{now}.0"), False),
            ("'now'", str(now), False),
            ("' now '", f" {now} ", False),
            ("'\\tnow\\n'", f"\t{now}\n", False),
            ("'+now'", f"+{now}", False),
            ("'-now'", f"-{now}", False),
            ("'now' with an underscore", f"{str(now)[:4]}_{str(now)[4:]}", False),
            ("'now' with NBSP and EM SPACE around", f"\u00a0{now}\u2003", False),
            ("'now-31'", str(now - 31), False),
            ("'now+31'", str(now + 31), False),
            ("'now.0'", f"{now}.0", False),
            ("0", 0, False),
            ("-1", -1, False),
            ("'now' in Arabic-Indic digits", to_arabic(str(now)), True),
            ("'now' in fullwidth digits", to_fullwidth(str(now)), True),
            ("'²' then now (a digit int() refuses)", "\u00b2" + str(now), True),
            ("'now' with 4290 digits (leading zeros)", "0" * (4290 - len(str(now))) + str(now),
             False),
            ("'now' with 4300 digits (leading zeros)", "0" * (4300 - len(str(now))) + str(now),
             False),
            ("'now' with 4301 digits (beyond int())", "0" * (4301 - len(str(now))) + str(now),
             False),
            ("'\\x1cnow' (int() does not strip U+001C)", f"\x1c{now}", False),
            ("'now\\x1f' (int() does not strip U+001F)", f"{now}\x1f", False),
            ("'\\x85now' (NEL, stripped)", f"\x85{now}", False),
            ("'\\u3000now\\r' (stripped)", f"\u3000{now}\r", False),
            ("'\\x0bnow\\x0c' (stripped)", f"\x0b{now}\x0c", False),
            ("'\\u200bnow' (ZWSP, not stripped)", f"\u200b{now}", False),
        ] + common
    if claim == "nbf":
        return [
            ("now", now, False),
            ("now-100", now - 100, False),
            ("now+30", now + 30, False),
            ("now+31", now + 31, False),
            ("now+30.9", now + 30.9, False),
            ("now+31.5", now + 31.5, False),
            ("'now'", str(now), False),
            ("' now+31 '", f" {now + 31} ", False),
            ("'now' in Arabic-Indic digits (§9 names iat only)", to_arabic(str(now)), False),
            ("'now+31' in Arabic-Indic digits (§9 names iat only)", to_arabic(str(now + 31)),
             False),
            ("'5' with 4300 digits", "0" * 4299 + "5", False),
            ("'5' with 4301 digits (beyond int())", "0" * 4300 + "5", False),
            ("'\\x1dnow' (int() does not strip U+001D)", f"\x1d{now}", False),
            ("'\\x85now' (NEL, stripped)", f"\x85{now}", False),
        ] + common
    if claim == "exp":
        return [
            ("now+100", now + 100, False),
            ("now-29", now - 29, False),
            ("now-30", now - 30, False),
            ("now-31", now - 31, False),
            ("now-29.5", now - 29.5, False),
            ("now-30.5", now - 30.5, False),
            ("'now+100'", str(now + 100), False),
            ("'now-30'", str(now - 30), False),
            ("'now+100' in Arabic-Indic digits (§9 names iat only)", to_arabic(str(now + 100)),
             False),
            ("'now+100' with 4301 digits (beyond int())",
             "0" * (4301 - len(str(now + 100))) + str(now + 100), False),
            ("'now-100' with 4301 digits (beyond int())",
             "-" + "0" * (4301 - len(str(now - 100))) + str(now - 100), False),
            ("'\\x1enow+100' (int() does not strip U+001E)", f"\x1e{now + 100}", False),
            ("'\\x1enow-100' (int() does not strip U+001E)", f"\x1e{now - 100}", False),
        ] + common
    if claim == "aud":
        return [
            ("'notifications.service.gov.uk'", "notifications.service.gov.uk", False),
            ("'x'", "x", False),
            ("''", "", False),
            ("'0'", "0", False),
            ("[]", [], False),
            ("['x']", ["x"], False),
            ("[1]", [1], False),
            ("[null]", [None], False),
            ("0", 0, False),
            ("1", 1, False),
            ("0.0", 0.0, False),
            ("-0.0", Raw("-0.0"), False),
            ("0.5", 0.5, False),
            ("true", True, False),
            ("false", False, False),
            ("null", None, False),
            ("{}", {}, False),
            ('{"a":1}', {"a": 1}, False),
            ("NaN", Raw("NaN"), True),
        ]
    # sub, jti
    return [
        ("'x'", "x", False),
        ("''", "", False),
        ("a UUID string", str(uuid.UUID(int=7)), False),
        ("1", 1, False),
        ("0", 0, False),
        ("1.5", 1.5, False),
        ("true", True, False),
        ("false", False, False),
        ("null", None, False),
        ("[]", [], False),
        ("['x']", ["x"], False),
        ("{}", {}, False),
    ]


def claim_classes(add, S, K1, K3, WRONG, ADMIN1):
    """Each registered claim with each value class (contract §3 item 3, §4)."""
    for claim in ("iat", "nbf", "exp", "aud", "sub", "jti"):
        for idx, (label, _, flag) in enumerate(claim_value_classes(0, claim)):
            lenient = flag is True or (flag == "iat" and claim == "iat")
            routes = [("public", K1, S)]
            if claim in ("iat", "exp"):
                routes.append(("internal", ADMIN1, "notify-admin"))
            for route, secret, iss in routes:

                def build(n, c=claim, i=idx, s=secret, who=iss):
                    cl = {"iss": who, "iat": n}
                    cl[c] = claim_value_classes(n, c)[i][1]
                    return bearer(token(cl, s))

                add(f"claims[{route}]: {claim} = {label}", build, route, lenient=lenient)
        # On a token signed with no key the claims are never judged ...
        add(f"claims: {claim} = [] with a wrong secret",
            lambda n, c=claim: bearer(token({"iss": S, "iat": n, c: []}, WRONG)))
        # ... and on a revoked key the claims' verdict comes before "revoked".
        add(f"claims: {claim} = {{}} with the key revoked yesterday",
            lambda n, c=claim: bearer(token({"iss": S, "iat": n, c: {}}, K3)))
        add(f"claims: {claim} = 'abc' with the key revoked yesterday",
            lambda n, c=claim: bearer(token({"iss": S, "iat": n, c: "abc"}, K3)))

    combos = [
        ("iat missing, aud truthy", lambda n: {"iss": S, "aud": "x"}),
        ("iat missing, sub 1", lambda n: {"iss": S, "sub": 1}),
        ("iat missing, exp past", lambda n: {"iss": S, "exp": n - 100}),
        ("iat missing, nbf future", lambda n: {"iss": S, "nbf": n + 100}),
        ("iat missing, nbf 'abc'", lambda n: {"iss": S, "nbf": "abc"}),
        ("iat now-40, aud truthy", lambda n: {"iss": S, "iat": n - 40, "aud": "x"}),
        ("iat now-40, exp past", lambda n: {"iss": S, "iat": n - 40, "exp": n - 100}),
        ("iat now-40, nbf 'abc'", lambda n: {"iss": S, "iat": n - 40, "nbf": "abc"}),
        ("iat now+40, aud truthy", lambda n: {"iss": S, "iat": n + 40, "aud": "x"}),
        ("iat 'abc', exp past", lambda n: {"iss": S, "iat": "abc", "exp": n - 100}),
        ("iat null, exp past", lambda n: {"iss": S, "iat": None, "exp": n - 100}),
        ("nbf future, exp past", lambda n: {"iss": S, "iat": n, "nbf": n + 100, "exp": n - 100}),
        ("nbf 'abc', exp past", lambda n: {"iss": S, "iat": n, "nbf": "abc", "exp": n - 100}),
        ("nbf null, exp 'abc'", lambda n: {"iss": S, "iat": n, "nbf": None, "exp": "abc"}),
        ("exp 'abc', aud truthy", lambda n: {"iss": S, "iat": n, "exp": "abc", "aud": "x"}),
        ("exp past, aud truthy", lambda n: {"iss": S, "iat": n, "exp": n - 100, "aud": "x"}),
        ("aud truthy, sub 1", lambda n: {"iss": S, "iat": n, "aud": "x", "sub": 1}),
        ("sub 1, jti 1", lambda n: {"iss": S, "iat": n, "sub": 1, "jti": 1}),
        ("sub 'x', jti null", lambda n: {"iss": S, "iat": n, "sub": "x", "jti": None}),
        ("all registered claims valid",
         lambda n: {"iss": S, "iat": n, "nbf": n - 5, "exp": n + 60, "aud": "", "sub": "s",
                    "jti": "j"}),
        ("iat '-9'*4400, aud truthy", lambda n: {"iss": S, "iat": HUGE_NEG, "aud": "x"}),
        ("iat '-9'*4400, nbf 'abc'", lambda n: {"iss": S, "iat": HUGE_NEG, "nbf": "abc"}),
        ("iat '-9'*4400, exp past", lambda n: {"iss": S, "iat": HUGE_NEG, "exp": n - 100}),
        ("iat '-9'*4400, sub 1", lambda n: {"iss": S, "iat": HUGE_NEG, "sub": 1}),
    ]
    for label, claims_fn in combos:
        add(f"claim order: {label}", lambda n, f=claims_fn: bearer(token(f(n), K1)))
        add(f"claim order: {label}, revoked key", lambda n, f=claims_fn: bearer(token(f(n), K3)))


def internal_specifics(add, fx, admin, S, K1, ADMIN1):
    """The internal route (contract §7)."""
    for label, build in [
        ("iss missing", lambda n: bearer(token({"iat": n}, ADMIN1))),
        ("iss null", lambda n: bearer(token({"iss": None, "iat": n}, ADMIN1))),
        ("iss 1", lambda n: bearer(token({"iss": 1, "iat": n}, ADMIN1))),
        ("iss ['notify-admin']",
         lambda n: bearer(token({"iss": ["notify-admin"], "iat": n}, ADMIN1))),
        ("iss Notify-Admin", lambda n: bearer(token({"iss": "Notify-Admin", "iat": n}, ADMIN1))),
        ("iss 'notify-admin '",
         lambda n: bearer(token({"iss": "notify-admin ", "iat": n}, ADMIN1))),
        ("iss escaped notify\\u002dadmin",
         lambda n: bearer(token(Raw('{"iss":"notify\\u002dadmin","iat":%d}' % n), ADMIN1))),
        ("iss other-client signed with its own secret",
         lambda n: bearer(token({"iss": "other-client", "iat": n}, fx.other_client_secret))),
        ("notify-admin signed with other-client's secret",
         lambda n: bearer(token({"iss": "notify-admin", "iat": n}, fx.other_client_secret))),
        ("iss a service id, alg HS512",
         lambda n: bearer(token({"iss": S, "iat": n}, K1, {"alg": "HS512"}))),
        ("iss other-client, alg none",
         lambda n: bearer(token({"iss": "other-client", "iat": n}, None, {"alg": "none"}))),
        ("alg none", lambda n: bearer(token({"iss": "notify-admin", "iat": n}, None,
                                            {"alg": "none"}))),
        ("iat missing", lambda n: bearer(token({"iss": "notify-admin"}, ADMIN1))),
        ("iat 'abc'", lambda n: bearer(token({"iss": "notify-admin", "iat": "abc"}, ADMIN1))),
        ("iat null", lambda n: bearer(token({"iss": "notify-admin", "iat": None}, ADMIN1))),
        ("iat now-40, wrong secret", lambda n: bearer(admin(n - 40, "nope"))),
        ("aud truthy", lambda n: bearer(admin(n, aud="x"))),
        ("sub 1", lambda n: bearer(admin(n, sub=1))),
        ("nbf 'abc'", lambda n: bearer(admin(n, nbf="abc"))),
        ("nbf now+31", lambda n: bearer(admin(n, nbf=n + 31))),
        ("extra claims req/pay", lambda n: bearer(admin(n, req="x", pay="y"))),
        ("kid 1", lambda n: bearer(admin(n, header={"alg": "HS256", "kid": 1}))),
        ("Bearer 1234", lambda n: [b"Bearer 1234"]),
        ("payload not JSON", lambda n: bearer(token(b"nope", ADMIN1))),
        ("signed with a public key's secret", lambda n: bearer(admin(n, K1))),
    ]:
        add(f"internal: {label}", build, "internal")


# --------------------------------------------------------------------------------------------
# Random combinations
# --------------------------------------------------------------------------------------------


def gc_key(fx: Fixture, svc: str, key: str, name: str | None = None) -> str:
    """GC Notify's key string: gcntfy-<key name>-<service id>-<secret>."""
    return f"gcntfy-{name or key}-{fx.sid(svc)}-{fx.secret(svc, key)}"


def dialect_scenarios(fx: Fixture, dialect: str) -> list[Scenario]:
    """What sets the forks apart, run in every dialect (each oracle says what its fork
    answers): GC Notify's schemes and raw keys, the database's reading of `iss`, OPTIONS."""
    cat = Catalog()
    add = cat.add
    S, K1 = fx.sid("S"), fx.secret("S")
    D = fx.sid("DIGITS")

    def valid(n, iss=S, secret=K1):
        return token(claims_of(iss, n), secret)

    def raw(key: str, scheme: bytes = b"ApiKey-v1 "):
        return lambda n: [scheme + key.encode("latin-1")]

    # Raw keys (GC Notify's ApiKey-v1): every key of S, and of the other services.
    for kname in fx.services["S"].keys:
        add(f"raw key: S's {kname}", raw(gc_key(fx, "S", kname)))
    for svc in ("S2", "A", "R", "AR", "DIGITS"):
        for kname in fx.services[svc].keys:
            add(f"raw key: {svc}'s {kname}", raw(gc_key(fx, svc, kname)))
    normal = gc_key(fx, "S", "normal")
    secret = fx.secret("S")
    sid = fx.sid("S")
    for label, key in [
        ("a name with hyphens", gc_key(fx, "S", "normal", "my-live-key")),
        ("a one-character name", gc_key(fx, "S", "normal", "x")),
        ("an empty name", gc_key(fx, "S", "normal", "")),
        ("no prefix (GOV.UK Notify's combined key)", f"live-{sid}-{secret}"),
        ("the prefix in upper case", "GCNTFY-" + normal[7:]),
        ("the prefix alone", "gcntfy-"),
        ("the prefix and the secret (too short)", f"gcntfy-{secret}"),
        ("78 characters ending in the secret", "gcntfy-" + "x" * 35 + f"-{secret}"),
        ("the service id in upper case", f"gcntfy-k-{sid.upper()}-{secret}"),
        ("another service's id", f"gcntfy-k-{fx.sid('S2')}-{secret}"),
        ("the service id without hyphens", f"gcntfy-k-{sid.replace('-', '')}-{secret}"),
        ("an unknown secret", f"gcntfy-k-{sid}-{uuid.UUID(int=77, version=4)}"),
        ("a secret one character short", f"gcntfy-k-{sid}-{secret[:-1]}"),
        ("a secret in upper case", f"gcntfy-k-{sid}-{secret.upper()}"),
        ("a non-ASCII name", f"gcntfy-clé-{sid}-{secret}"),
        ("a non-ASCII secret", f"gcntfy-k-{sid}-{secret[:-1]}é"),
        ("an internal secret", f"gcntfy-k-{sid}-{fx.admin_secrets[0]}"),
    ]:
        add(f"raw key: {label}", raw(key))
    if dialect == "gc":
        # Over the 8 KiB header limit, only GC Notify's raw keys are read (their ends decide):
        # Notify's other forks never see such a header line (gunicorn refuses it), and the
        # crate refuses it (docs/compatibility.md, "Limits of its own").
        for label, key in [
            ("10 KiB, ending in a real key", "gcntfy-" + "n" * 10240 + f"-{sid}-{secret}"),
            ("10 KiB of nothing", "gcntfy-" + "z" * 10240),
            ("10 KiB of name, the wrong service", "gcntfy-" + "n" * 10240
             + f"-{fx.sid('S2')}-{secret}"),
        ]:
            add(f"raw key: {label}", raw(key))
    for label, scheme in [
        ("scheme in lower case", b"apikey-v1 "),
        ("scheme in upper case", b"APIKEY-V1 "),
        ("scheme then a tab", b"ApiKey-v1\t"),
        ("scheme then any character", b"ApiKey-v1x"),
        ("scheme then two spaces", b"ApiKey-v1  "),
        ("scheme then a no-break space", b"ApiKey-v1 \xa0"),
        ("no space after the scheme", b"ApiKey-v1"),
    ]:
        add(f"raw key: {label}", raw(normal, scheme))
    add("raw key: trailing no-break space", lambda n: [b"ApiKey-v1 " + normal.encode() + b"\xa0"])
    add("raw key: the scheme alone", lambda n: [b"ApiKey-v1"])
    add("raw key: the scheme and a space", lambda n: [b"ApiKey-v1 "])
    add("raw key: two Authorization headers", lambda n: [b"ApiKey-v1 " + normal.encode(), b"x"])
    add("raw key: on the internal route", raw(normal), "internal")
    # GC Notify's schemes for tokens, and its prefix matching.
    for label, scheme in [
        ("Bearer then any character", b"Bearerx"),
        ("Bearer then a tab", b"Bearer\t"),
        ("Bearer then two spaces", b"Bearer  "),
        ("Bearer with no space", b"Bearer"),
        ("BEARER", b"BEARER "),
        ("CacheClear-v1", b"CacheClear-v1 "),
        ("cypress-v1", b"cypress-v1 "),
        ("Token", b"Token "),
    ]:
        for route, secret in (("public", K1), ("internal", fx.admin_secrets[0])):
            iss = S if route == "public" else "notify-admin"
            # For GOV.UK Notify the second space begins the token: §9's foreign characters.
            add(f"schemes: {label}", lambda n, i=iss, s=secret, sc=scheme: bearer(valid(n, i, s), sc),
                route, lenient=scheme == b"Bearer  ")
    add("schemes: Bearer alone", lambda n: [b"Bearer"])
    add("schemes: Bearer, a space and nothing", lambda n: [b"Bearer   "])
    # iss as GC and VA Notify's database reads it.
    hexs = S.replace("-", "")
    for label, iss in [
        ("an integer of the digits service's 32 digits", Raw(D.replace("-", ""))),
        ("the digits service's id as a string of digits", D.replace("-", "")),
        ("a hyphen after every 4 hex digits", "-".join(hexs[i:i + 4] for i in range(0, 32, 4))),
        ("braces and no hyphens", "{" + hexs + "}"),
        ("an integer of 31 digits", Raw(D.replace("-", "")[1:])),
        ("a negative integer of 32 digits", Raw("-" + D.replace("-", ""))),
        ("a NUL at the end", S + "\u0000"),
        ("a lone surrogate", Raw('"' + S + '\\ud800"')),
        ("an empty list", []),
        ("an empty object", {}),
        ("false", False),
    ]:
        add(f"iss by database: {label}",
            lambda n, i=iss: bearer(token(Raw(f'{{"iss":{enc(i)},"iat":{n}}}'), K1)))
    add("iss by database: the digits service, signed", lambda n: bearer(valid(n, D, fx.secret("DIGITS"))))
    # CORS preflight.
    add("OPTIONS without a header", lambda n: None, method="OPTIONS")
    add("OPTIONS with a valid token", lambda n: bearer(valid(n)), method="OPTIONS")
    add("OPTIONS with a bad token", lambda n: bearer(b"x"), method="OPTIONS")
    add("OPTIONS on the internal route", lambda n: None, "internal", method="OPTIONS")
    return cat.items


def random_scenarios(fx: Fixture, rng: random.Random, count: int) -> list[Scenario]:
    S = fx.sid("S")
    hexs = S.replace("-", "")
    out = []
    for i in range(count):
        route = "internal" if rng.random() < 0.25 else "public"
        alg = rng.choices(
            ["HS256", "HS512", "none", "hs256", None, "missing", "RS256"],
            [80, 5, 4, 3, 2, 4, 2],
        )[0]
        if route == "public":
            iss_label, iss = rng.choices(
                [
                    ("S", S), ("S upper", S.upper()), ("S no hyphens", hexs),
                    ("S braces", "{" + S + "}"), ("S urn", "urn:uuid:" + S),
                    ("S2", fx.sid("S2")), ("A", fx.sid("A")), ("E", fx.sid("E")),
                    ("R", fx.sid("R")), ("AR", fx.sid("AR")), ("AE", fx.sid("AE")),
                    ("unknown", fx.unknown_service), ("notify-admin", "notify-admin"),
                    ("null", None), ("1234", 1234), ("missing", MISSING), ("bad", "bad-id"),
                ],
                [40, 5, 5, 3, 3, 5, 5, 3, 3, 2, 2, 3, 2, 2, 2, 3, 2],
            )[0]
        else:
            iss_label, iss = rng.choices(
                [("notify-admin", "notify-admin"), ("other-client", "other-client"), ("S", S),
                 ("missing", MISSING), ("null", None), ("Notify-Admin", "Notify-Admin")],
                [70, 6, 8, 6, 5, 5],
            )[0]
        signers = [(f"S.{k}", key.secret) for k, key in fx.services["S"].keys.items()]
        signers += [("S2.normal", fx.secret("S2")), ("A.normal", fx.secret("A")),
                    ("R.revoked_month", fx.secret("R", "revoked_month")),
                    ("admin1", fx.admin_secrets[0]), ("admin2", fx.admin_secrets[1]),
                    ("other-client", fx.other_client_secret), ("wrong", "wrong-secret")]
        if route == "public" and rng.random() < 0.6:
            key_label, secret = ("S.normal", fx.secret("S"))
        elif route == "internal" and rng.random() < 0.6:
            key_label, secret = rng.choice(signers[-4:-2])
        else:
            key_label, secret = rng.choice(signers)
        # iat offset
        kind = rng.random()
        if kind < 0.55:
            iat_label = rng.choice([-3600, -61, -31, -30, -29, -15, -1, 0, 1, 15, 29, 30, 31, 61])
            iat_fn = (lambda o: lambda n: n + o)(iat_label)
            iat_label = f"now{iat_label:+d}"
        elif kind < 0.75:
            o = rng.randint(-45, 45)
            iat_fn = (lambda o: lambda n: n + o)(o)
            iat_label = f"now{o:+d}"
        elif kind < 0.87:
            o = rng.choice([-30.9, -30.5, -29.5, 0.25, 29.5, 30.9, 31.1, -31.1])
            iat_fn = (lambda o: lambda n: n + o)(o)
            iat_label = f"now{o:+}"
        elif kind < 0.95:
            o = rng.choice([-31, -30, 0, 30, 31])
            form = rng.choice(["'{}'", "' {} '", "'+{}'", "'abc'"])
            iat_fn = (lambda o, f: lambda n: f.format(n + o)[1:-1] if f != "'abc'" else "abc")(o, form)
            iat_label = form.format(f"now{o:+d}")
        else:
            iat_fn = lambda n: MISSING  # noqa: E731
            iat_label = "missing"
        extras = {}
        extra_labels = []
        for name, options in (
            ("req", [("'x'", lambda n: "x")]),
            ("pay", [("'y'", lambda n: "y")]),
            ("nbf", [("now-10", lambda n: n - 10), ("now+31", lambda n: n + 31),
                     ("'abc'", lambda n: "abc"), ("now+30", lambda n: n + 30)]),
            ("exp", [("now+60", lambda n: n + 60), ("now-30", lambda n: n - 30),
                     ("now-29", lambda n: n - 29), ("'abc'", lambda n: "abc")]),
            ("aud", [("''", lambda n: ""), ("'x'", lambda n: "x"), ("[]", lambda n: []),
                     ("0", lambda n: 0), ("['a']", lambda n: ["a"])]),
            ("sub", [("'s'", lambda n: "s"), ("1", lambda n: 1), ("null", lambda n: None)]),
            ("jti", [("'j'", lambda n: "j"), ("[]", lambda n: [])]),
            ("extra", [("'z'", lambda n: "z"), ("{'a':[1]}", lambda n: {"a": [1]})]),
        ):
            if rng.random() < 0.12:
                lab, fn = rng.choice(options)
                extras[name] = fn
                extra_labels.append(f"{name}={lab}")
        # Now and then, a value class of the contract's table for a registered claim.
        for claim in ("iat", "nbf", "exp", "aud", "sub", "jti"):
            if rng.random() < 0.06:
                choices = [
                    (idx, label)
                    for idx, (label, value, flag) in enumerate(claim_value_classes(0, claim))
                    if flag is False and len(enc(value)) < 200
                ]
                idx, label = rng.choice(choices)
                fn = (lambda c, i: lambda n: claim_value_classes(n, c)[i][1])(claim, idx)
                if claim == "iat":
                    iat_fn, iat_label = fn, label
                else:
                    extras[claim] = fn
                    extra_labels = [x for x in extra_labels if not x.startswith(claim + "=")]
                    extra_labels.append(f"{claim}={label}")
        typ = rng.choices(["JWT", MISSING, "XYZ"], [85, 10, 5])[0]
        scheme = rng.choices([b"Bearer ", b"bearer ", b"BEARER ", b"Bearer\t", b"Basic "],
                             [85, 6, 5, 2, 2])[0]

        def build(n, alg=alg, iss=iss, secret=secret, iat_fn=iat_fn, extras=extras, typ=typ,
                  scheme=scheme):
            header = {}
            if alg != "missing":
                header["alg"] = alg
            if typ is not MISSING:
                header["typ"] = typ
            claims = claims_of(iss, iat_fn(n), **{k: f(n) for k, f in extras.items()})
            sig_secret = None if alg == "none" else secret
            return bearer(token(claims, sig_secret, header), scheme)

        name = (
            f"random#{i}: alg={alg} iss={iss_label} key={key_label} iat={iat_label}"
            f" typ={'missing' if typ is MISSING else typ} scheme={scheme!r}"
            + (f" {' '.join(extra_labels)}" if extra_labels else "")
        )
        out.append(Scenario(name, route, build))
    return out


# --------------------------------------------------------------------------------------------
# Judging
# --------------------------------------------------------------------------------------------


def allowed_answers(expected, lenient: bool):
    status, message = expected
    allowed = [(403, GENERAL)] if message == CRASH else [(status, message)]
    if lenient:
        for alt in ((403, GENERAL), (403, M_NOT_FOUND)):
            if alt not in allowed:
                allowed.append(alt)
    return allowed


def matches(resp: Response, route: str, status: int, message) -> bool:
    """The exact answer: status, content type and body (for a 200, the principal, or `null`
    for GC Notify's unauthenticated OPTIONS)."""
    if resp.status != status or resp.content_type != "application/json":
        return False
    if status == 200:
        try:
            return json.loads(resp.body) == message
        except ValueError:
            return False
    return resp.body == oracle.error_body(route, status, message)


SHORT = {
    GENERAL: "GENERAL",
    CLOCK: "CLOCK",
}


def show_answer(status, message) -> str:
    if message == CRASH:
        return "500 (Notify would crash)"
    if isinstance(message, dict):
        return f"{status} {json.dumps(message, sort_keys=True)}"
    label = SHORT.get(message)
    return f"{status} {label + ' ' if label else ''}{json.dumps(message)}"


def show_response(resp: Response, route: str) -> str:
    if resp.content_type == "application/json":
        try:
            body = json.loads(resp.body)
            if route == "public" and isinstance(body, dict) and "errors" in body:
                msg = body["errors"][0]["message"]
            elif route == "internal" and isinstance(body, dict) and "message" in body:
                msg = body["message"]
                msg = msg if isinstance(msg, str) else msg["token"][0]
            else:
                msg = None
            if msg is not None and resp.body == oracle.error_body(route, resp.status, msg):
                return show_answer(resp.status, msg)
        except (ValueError, KeyError, IndexError, TypeError):
            pass
    body = resp.body if len(resp.body) <= 300 else resp.body[:300] + b"..."
    return f"{resp.status} content-type={resp.content_type!r} body={body!r}"


def show_header(values) -> str:
    if values is None:
        return "(no Authorization header)"
    shown = []
    for v in values:
        r = repr(bytes(v))
        shown.append(r if len(r) <= 400 else r[:400] + f"...({len(v)} bytes)")
    return " + ".join(shown)


def show_token(values) -> str:
    """The token's header and claims, decoded leniently, for the failure line."""
    if not values or len(values) != 1 or len(values[0]) < 8:
        return ""
    tok = values[0][7:]
    parts = tok.split(b".")
    if len(parts) < 2:
        return ""
    out = []
    for seg in parts[:2]:
        try:
            raw = base64.urlsafe_b64decode(seg + b"=" * (-len(seg) % 4))
            text = raw.decode("utf-8", "backslashreplace")
        except Exception:  # noqa: BLE001
            text = "<not base64>"
        out.append(text if len(text) <= 200 else text[:200] + "...")
    return " token=" + " . ".join(out)


# --------------------------------------------------------------------------------------------
# The official clients
# --------------------------------------------------------------------------------------------


def client_cases(fx: Fixture):
    S = fx.sid("S")

    def combined(name, svc, secret):
        return f"{name}-{fx.sid(svc)}-{secret}"

    return [
        ("valid normal key", combined("my-live-key", "S", fx.secret("S", "normal")), S,
         fx.secret("S", "normal")),
        ("valid team key", combined("team", "S", fx.secret("S", "team")), S,
         fx.secret("S", "team")),
        ("test key", combined("test-key", "S", fx.secret("S", "test")), S, fx.secret("S", "test")),
        ("bare service-id-secret key", f"{S}-{fx.secret('S')}", S, fx.secret("S")),
        ("key revoked yesterday", combined("old", "S", fx.secret("S", "revoked_yesterday")), S,
         fx.secret("S", "revoked_yesterday")),
        ("key revoked a month ago", combined("older", "S", fx.secret("S", "revoked_month")), S,
         fx.secret("S", "revoked_month")),
        ("archived service", combined("archived", "A", fx.secret("A")), fx.sid("A"),
         fx.secret("A")),
        ("service without keys", combined("none", "E", fx.secret("S")), fx.sid("E"),
         fx.secret("S")),
        ("wrong secret", combined("wrong", "S", str(uuid.UUID(int=99, version=4))), S,
         str(uuid.UUID(int=99, version=4))),
    ]


def oracle_for_client(fx: Fixture, service_id: str, secret: str):
    from notifications_python_client.authentication import create_jwt_token

    now = int(time.time())
    tok = create_jwt_token(secret, service_id).encode()
    return oracle.expected([b"Bearer " + tok], "public", fx.keyfile, now, config=CONFIG)


def client_expectation(expected):
    status, message = expected
    if status == 200:
        return 200, message
    return status, [{"error": "AuthError", "message": message}]


def run_python_client(base_url: str, fx: Fixture, record):
    import logging

    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

    from notifications_python_client.errors import HTTPError
    from notifications_python_client.notifications import NotificationsAPIClient

    # The library logs every failed request; the failures here are expected ones.
    logging.getLogger("notifications_python_client").setLevel(logging.CRITICAL)

    for label, api_key, service_id, secret in client_cases(fx):
        name = f"python client: {label}"
        want = client_expectation(oracle_for_client(fx, service_id, secret))
        client = NotificationsAPIClient(api_key, base_url=base_url)
        # Never a proxy for 127.0.0.1 (older clients, GC's 6.4.1, have no session of their
        # own: NO_PROXY covers them).
        if hasattr(client, "request_session"):
            client.request_session.trust_env = False
        try:
            got = (200, client.get_all_notifications())
        except HTTPError as e:
            got = (e.status_code, e.message)
        except Exception as e:  # noqa: BLE001
            got = ("exception", f"{type(e).__name__}: {e}")
        record(name, got == want, f"api key {api_key!r}; expected {want!r}; got {got!r}")


def run_node_client(base_url: str, fx: Fixture, record, skip: bool):
    cases = client_cases(fx)
    if skip:
        print("note: --skip-node given: the official Node client was not checked")
        return
    node = shutil.which("node")
    if node is None:
        record("node client: node is installed", False,
               "node was not found on PATH (install Node.js, or pass --skip-node)")
        return
    if not (HERE / "node_modules" / "notifications-node-client").is_dir():
        record("node client: notifications-node-client is installed", False,
               f"{HERE / 'node_modules'} has no notifications-node-client: run "
               "`npm ci --prefix conformance` (or pass --skip-node)")
        return
    wants = {label: client_expectation(oracle_for_client(fx, sid, secret))
             for label, _, sid, secret in cases}
    payload = json.dumps({"base_url": base_url,
                          "cases": [{"name": c[0], "api_key": c[1]} for c in cases]})
    env = dict(os.environ, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    proc = subprocess.run([node, str(HERE / "clients.mjs")], input=payload, capture_output=True,
                          text=True, timeout=60, env=env)
    if proc.returncode != 0:
        record("node client: clients.mjs ran", False,
               f"exit {proc.returncode}: {proc.stderr.strip()[-1500:]}")
        return
    results = {r["name"]: r for r in json.loads(proc.stdout)}
    for label, api_key, _, _ in cases:
        name = f"node client: {label}"
        r = results.get(label)
        want = wants[label]
        if r is None:
            record(name, False, "no result from clients.mjs")
            continue
        if "error" in r:
            got = ("exception", r["error"])
        elif r["status"] == 200:
            got = (200, r["data"])
        else:
            data = r["data"]
            got = (r["status"], data.get("errors") if isinstance(data, dict) else data)
        # The library resolves on 2xx and rejects (throws) otherwise.
        threw_as_expected = r.get("threw") == (want[0] != 200)
        record(name, got == want and threw_as_expected,
               f"api key {api_key!r}; expected {want!r}; got {got!r}")


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


class Server:
    def __init__(self, binary: Path, keys: Path, log: Path, database_url: str | None = None,
                 secret_format: str | None = None, extra_args: list[str] | None = None):
        self.log_file = open(log, "wb")
        self.log = log
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "warn")
        env.pop("DATABASE_URL", None)
        extra = ["--database-url", database_url] if database_url else []
        if secret_format:
            extra += ["--secret-format", secret_format]
        extra += ["--dialect", DIALECT, *(extra_args or [])]
        self.proc = subprocess.Popen(
            [str(binary), "--addr", "127.0.0.1:0", "--keys", str(keys), *extra],
            stdout=subprocess.PIPE, stderr=self.log_file, stdin=subprocess.DEVNULL, env=env,
        )
        deadline = time.monotonic() + 30
        line = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if ready:
                line = self.proc.stdout.readline()
                if line.startswith(b"listening on http://"):
                    break
                if not line and self.proc.poll() is not None:
                    break
            elif self.proc.poll() is not None:
                break
        else:
            line = b""
        if not line.startswith(b"listening on http://"):
            self.stop()
            raise SystemExit(
                f"the server did not start (exit code {self.proc.returncode}); its log:\n"
                + log.read_text(errors="replace")[-3000:]
            )
        addr = line.decode().strip()[len("listening on http://"):]
        self.port = int(addr.rsplit(":", 1)[1])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()


def run_scenario(sc: Scenario, port: int, keyfile: dict):
    """Runs one scenario inside one wall-clock second: (values, expected, response)."""
    for _attempt in range(10):
        frac = time.time() % 1
        if frac > 0.9:
            time.sleep(1.0 - frac + 0.005)
        now = int(time.time())
        values = sc.build(now)
        path = sc.path or ("/service" if sc.route == "internal" else "/v2/notifications")
        resp = http(port, values, path=path, method=sc.method, header_name=sc.header_name)
        expected = oracle.expected(values, sc.route, keyfile, now, method=sc.method,
                                   config=CONFIG)
        if int(time.time()) == now:
            return values, expected, resp
    raise RuntimeError("could not keep the scenario inside one wall-clock second")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", type=Path, default=REPO / "target" / "debug" / "examples" / "server",
                    help="the demo server binary (default: target/debug/examples/server)")
    ap.add_argument("--seed", type=int, default=None,
                    help="seed for the fixture and the random combinations (default: random)")
    ap.add_argument("--random", type=int, default=300, metavar="COUNT",
                    help="number of random combinations (default 300)")
    ap.add_argument("--skip-node", action="store_true",
                    help="do not run the official Node client (it is required otherwise)")
    ap.add_argument("--skip-clients", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--database-url", default=None, metavar="URL",
                    help="serve the services and keys from PostgreSQL: load the generated key "
                         "file with the load_keys example, then start the server with "
                         "--database-url (needs both built with --features postgres)")
    ap.add_argument("--load-keys", type=Path,
                    default=REPO / "target" / "debug" / "examples" / "load_keys",
                    help="the load_keys example binary (with --database-url)")
    ap.add_argument("--secret-format", default=None, metavar="FORMAT",
                    help="with --database-url: store the secrets as plain, itsdangerous or fernet "
                         "(load_keys and the server read SECRET_KEY and DANGEROUS_SALT from the "
                         "environment)")
    ap.add_argument("--load-secret-key", default=None, metavar="KEY",
                    help="with --secret-format: the SECRET_KEY load_keys signs with, when it "
                         "differs from the server's (key rotation: rows signed by an older key)")
    ap.add_argument("--dialect", default="uk", choices=sorted(DIALECTS),
                    help="whose answers the server gives and the oracle expects (default uk); "
                         "run with that fork's pinned libraries")
    ap.add_argument("--gc-raw-keys", default=None, choices=["exact", "any"],
                    help="with --dialect gc on PostgreSQL with itsdangerous secrets: how the "
                         "server finds raw keys among several signing keys (default: GC's "
                         "exact behaviour)")
    ap.add_argument("--only", default=None, metavar="TEXT",
                    help="run only the scenarios whose name contains TEXT")
    ap.add_argument("--verbose", action="store_true", help="print every scenario")
    args = ap.parse_args(argv)

    use_dialect(args.dialect)
    if args.dialect == "gc" and args.secret_format == "itsdangerous":
        keys = [k for k in os.environ.get("SECRET_KEY", "").split(",") if k]
        CONFIG.update(signing_keys=keys, stored_with=args.load_secret_key or keys[-1],
                      lookup=args.gc_raw_keys or "exact")
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    print(f"differential: dialect {args.dialect}, seed {seed} (replay with --seed {seed})",
          flush=True)
    if sys.version_info < (3, 11):
        # Notify runs CPython 3.11, whose int() refuses strings of more than 4300 digits.
        print(f"warning: Python {sys.version.split()[0]} is older than Notify's 3.11: the oracle's "
              "answers for 4301-digit integers will differ", flush=True)
    if not args.server.exists():
        print(f"error: no server binary at {args.server}; build it with "
              "`cargo build --example server` or pass --server", file=sys.stderr)
        return 2

    now = int(time.time())
    fx = Fixture(random.Random(seed ^ 0x5EED), now, args.dialect)
    scenarios = (deterministic_scenarios(fx) + dialect_scenarios(fx, args.dialect)
                 + random_scenarios(fx, random.Random(seed), args.random))
    if args.only:
        scenarios = [s for s in scenarios if args.only in s.name]

    passed = failed = 0
    failures: list[str] = []

    def record(name: str, ok: bool, detail: str):
        nonlocal passed, failed
        if ok:
            passed += 1
            if args.verbose:
                print(f"ok   {name}: {detail}")
        else:
            failed += 1
            line = f"FAIL {name}: {detail}"
            failures.append(line)
            print(line, flush=True)

    with tempfile.TemporaryDirectory(prefix="notify-auth-diff-") as tmp:
        keys_path = Path(tmp) / "keys.json"
        keys_path.write_text(json.dumps(fx.keyfile, indent=2))
        if args.database_url:
            fmt = args.secret_format or "plain"
            print(f"differential: services and keys served from PostgreSQL, secrets {fmt}",
                  flush=True)
            load_env = dict(os.environ)
            if args.load_secret_key:
                load_env["SECRET_KEY"] = args.load_secret_key
            loaded = subprocess.run(
                [str(args.load_keys), "--database-url", args.database_url, "--keys", str(keys_path),
                 "--secret-format", fmt],
                capture_output=True, text=True, stdin=subprocess.DEVNULL, env=load_env,
            )
            if loaded.returncode != 0:
                print(f"error: load_keys failed:\n{loaded.stdout}{loaded.stderr}", file=sys.stderr)
                return 2
        server_args = ["--gc-raw-keys", args.gc_raw_keys] if args.gc_raw_keys else []
        server = Server(args.server, keys_path, Path(tmp) / "server.log", args.database_url,
                        args.secret_format, server_args)
        try:
            started = time.monotonic()
            for sc in scenarios:
                try:
                    values, expected, resp = run_scenario(sc, server.port, fx.keyfile)
                except Exception as e:  # noqa: BLE001
                    record(sc.name, False, f"[{sc.route}] the scenario itself failed: "
                           f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
                    if not server.alive():
                        print("the server died; its log:\n"
                              + server.log.read_text(errors="replace")[-3000:])
                        break
                    continue
                allowed = allowed_answers(expected, sc.lenient)
                ok = any(matches(resp, sc.route, s, m) for s, m in allowed)
                detail = f"[{sc.route}] Notify: {show_answer(*expected)}"
                if not ok:
                    want = show_answer(*expected)
                    if expected[1] == CRASH or sc.lenient:
                        want += " → accepted: " + " or ".join(show_answer(s, m) for s, m in allowed)
                    detail = (f"[{sc.route}] header={show_header(values)}{show_token(values)}"
                              f" | expected (Notify): {want} | actual (crate): "
                              f"{show_response(resp, sc.route)}")
                record(sc.name, ok, detail)
            elapsed = time.monotonic() - started
            print(f"differential: {len(scenarios)} scenarios in {elapsed:.1f}s", flush=True)

            if not args.skip_clients and not args.only:
                base_url = f"http://127.0.0.1:{server.port}"
                run_python_client(base_url, fx, record)
                run_node_client(base_url, fx, record, args.skip_node)
        finally:
            server.stop()

    if failed:
        print(f"\n{failed} failure(s); replay with --seed {seed}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
