#!/usr/bin/env python3
"""Writes the shipped seed corpus of the fuzz targets (standard library only).

    python3 fuzz/seeds/make_seeds.py

One file per row of shared/spec/cases.md that a public-route header can express, plus the
official clients' tokens, for the fixture of tests/common/mod.rs at the fixed now
1795394922. Files are raw bytes:

- decision/: the Authorization header values, several separated by "\n" (an empty file is
  "no header"); header/ has the same for the rows about the header step only;
- token_parse/: the bytes after "Bearer " (the token alone), including internal tokens;
- differential/: a few structured inputs for `arbitrary` (any bytes decode to an input).

Running it again rewrites the same files (the tokens depend only on the constants below).
"""

import base64
import hashlib
import hmac
import json
import os
import shutil

NOW = 1795394922
S = "26785a09-ab16-4eb0-8407-a37497a57506"
A = "0f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c"
E = "7d6c5b4a-3f2e-4d1c-8b0a-9f8e7d6c5b4a"
OLD = "11111111-2222-4333-8444-555555555555"
UNKNOWN = "99999999-8888-4777-8666-555555555555"
K1 = "3d844edf-8d35-48ac-975b-e847b4f122b0"
K2 = "8b1e6f2a-4c3d-4b5e-a6f7-0e9d8c7b6a51"
K3 = "c0ffee00-1234-4abc-8def-0123456789ab"
K4 = "0badcafe-4321-4cba-8fed-ba9876543210"
KA = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
WRONG = "ffffffff-ffff-4fff-8fff-ffffffffffff"

HEADER = '{"alg":"HS256","typ":"JWT"}'


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(header: str, claims: str, secret: str) -> str:
    signing_input = b64(header.encode()) + "." + b64(claims.encode())
    sig = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(sig)


def claims(iss=S, iat=NOW) -> str:
    return '{"iss":"%s","iat":%d}' % (iss, iat)


def token(iss=S, iat=NOW, secret=K1) -> str:
    return jwt(HEADER, claims(iss, iat), secret)


def python_client_token(secret: str, client_id: str) -> str:
    # What notifications-python-client's create_jwt_token makes with PyJWT 2.x: header keys
    # sorted, claims {"iss": ..., "iat": ...} as json.dumps(separators=(",", ":")) writes them.
    return jwt('{"alg":"HS256","typ":"JWT"}', json.dumps({"iss": client_id, "iat": NOW}, separators=(",", ":")), secret)


def bearer(t: str) -> str:
    return "Bearer " + t


VALID = token()

# name -> list of header values (public route). Token-only seeds are derived from these.
CASES = {
    "valid": [bearer(VALID)],
    "valid-lowercase-scheme": ["bearer " + VALID],
    "valid-uppercase-scheme": ["BEARER " + VALID],
    "valid-mixed-scheme": ["bEaReR " + VALID],
    "valid-padded-with-blanks": [" \t" + bearer(VALID) + " \t"],
    "no-header": [],
    # An empty value cannot be framed (an empty file is "no header"); a blank one trims to it.
    "empty-header": [" "],
    "basic": ["Basic 1234"],
    "bearer-no-space": ["Bearer" + VALID],
    "bearer-alone": ["Bearer "],
    "bearer-tab": ["Bearer\t" + VALID],
    "bearer-two-spaces": ["Bearer  " + VALID],
    "bearer-1234": ["Bearer 1234"],
    "two-segments": [bearer(VALID.rsplit(".", 1)[0])],
    "four-segments": [bearer(VALID + ".x")],
    "header-not-json": [bearer(b64(b"nope") + "." + VALID.split(".", 1)[1])],
    "header-json-array": [bearer(jwt("[1]", claims(), K1))],
    "payload-not-json": [bearer(jwt(HEADER, "nope", K1))],
    "payload-json-array": [bearer(jwt(HEADER, '["iss"]', K1))],
    "no-iss": [bearer(jwt(HEADER, '{"iat":%d}' % NOW, K1))],
    "iss-not-uuid": [bearer(jwt(HEADER, '{"iss":"not-a-valid-id","iat":%d}' % NOW, K1))],
    "iss-number": [bearer(jwt(HEADER, '{"iss":1234,"iat":%d}' % NOW, K1))],
    "iss-null": [bearer(jwt(HEADER, '{"iss":null,"iat":%d}' % NOW, K1))],
    "iss-upper": [bearer(token(S.upper()))],
    "iss-simple": [bearer(token(S.replace("-", "")))],
    "iss-braced": [bearer(token("{" + S + "}"))],
    "iss-urn": [bearer(token("urn:uuid:" + S))],
    "iss-unknown": [bearer(token(UNKNOWN))],
    "iss-no-keys": [bearer(token(E))],
    "iss-archived": [bearer(token(A, secret=KA))],
    "iss-only-old-key": [bearer(token(OLD))],
    "wrong-secret": [bearer(token(secret=WRONG))],
    "signed-k2-test": [bearer(token(secret=K2))],
    "signed-k3-revoked": [bearer(token(secret=K3))],
    "signed-k4-revoked-long-ago": [bearer(token(secret=K4))],
    "alg-hs512": [bearer(jwt('{"alg":"HS512","typ":"JWT"}', claims(), K1))],
    "alg-none": [bearer(jwt('{"alg":"none","typ":"JWT"}', claims(), K1).rsplit(".", 1)[0] + ".")],
    "alg-lower": [bearer(jwt('{"alg":"hs256","typ":"JWT"}', claims(), K1))],
    "alg-empty": [bearer(jwt('{"alg":"","typ":"JWT"}', claims(), K1))],
    "alg-missing": [bearer(jwt('{"typ":"JWT"}', claims(), K1))],
    "alg-hs512-wrong-secret-old": [bearer(jwt('{"alg":"HS512","typ":"JWT"}', claims(iat=NOW - 3600), WRONG))],
    "alg-hs512-iss-unknown": [bearer(jwt('{"alg":"HS512","typ":"JWT"}', claims(UNKNOWN), K1))],
    "typ-missing": [bearer(jwt('{"alg":"HS256"}', claims(), K1))],
    "typ-xyz": [bearer(jwt('{"alg":"HS256","typ":"XYZ"}', claims(), K1))],
    "kid-of-k2": [bearer(jwt('{"alg":"HS256","kid":"5a2d7c1e-0f4b-4e8a-9b6c-3d2e1f0a9b8c"}', claims(), K2))],
    "kid-not-string": [bearer(jwt('{"alg":"HS256","kid":1}', claims(), K1))],
    "crit": [bearer(jwt('{"alg":"HS256","crit":["exp"]}', claims(), K1))],
    "iat-minus-30": [bearer(token(iat=NOW - 30))],
    "iat-plus-30": [bearer(token(iat=NOW + 30))],
    "iat-minus-31": [bearer(token(iat=NOW - 31))],
    "iat-plus-31": [bearer(token(iat=NOW + 31))],
    "iat-minus-60-k3": [bearer(token(iat=NOW - 60, secret=K3))],
    "iat-hour-old-wrong-secret": [bearer(token(iat=NOW - 3600, secret=WRONG))],
    "iat-missing": [bearer(jwt(HEADER, '{"iss":"%s"}' % S, K1))],
    "iat-abc": [bearer(jwt(HEADER, '{"iss":"%s","iat":"abc"}' % S, K1))],
    "iat-float": [bearer(jwt(HEADER, '{"iss":"%s","iat":%d.75}' % (S, NOW), K1))],
    "iat-string-int": [bearer(jwt(HEADER, '{"iss":"%s","iat":" +1_795_394_922 "}' % S, K1))],
    "iat-null": [bearer(jwt(HEADER, '{"iss":"%s","iat":null}' % S, K1))],
    "iat-true": [bearer(jwt(HEADER, '{"iss":"%s","iat":true}' % S, K1))],
    "nbf-string": [bearer(jwt(HEADER, '{"iss":"%s","iat":%d,"nbf":"x"}' % (S, NOW), K1))],
    "exp-expired": [bearer(jwt(HEADER, '{"iss":"%s","iat":%d,"exp":%d}' % (S, NOW, NOW - 30), K1))],
    "req-and-pay": [bearer(jwt(HEADER, '{"iss":"%s","iat":%d,"req":"abc","pay":"def"}' % (S, NOW), K1))],
    "aud": [bearer(jwt(HEADER, '{"iss":"%s","iat":%d,"aud":"notifications.service.gov.uk"}' % (S, NOW), K1))],
    "sub-not-string": [bearer(jwt(HEADER, '{"iss":"%s","iat":%d,"sub":1}' % (S, NOW), K1))],
    "python-client": [bearer(python_client_token(K1, S))],
    "deep-json": [bearer(jwt(HEADER, '{"iss":"%s","iat":%d,"x":%s}' % (S, NOW, "[" * 200 + "]" * 200), K1))],
    "two-headers": [bearer(VALID), bearer(VALID)],
    "two-headers-first-empty": ["", bearer(VALID)],
    "trailing-bits-signature": [bearer(VALID[:-1] + chr(ord(VALID[-1]) ^ 1))],
}

# The cases about the header step itself (the header target needs no more).
HEADER_STEP = ("valid", "no-header", "empty-header", "basic", "bearer", "two-headers")

# Internal-route tokens, for token_parse (it also runs the internal key loop).
INTERNAL = {
    "internal-s1": python_client_token("s1", "notify-admin"),
    "internal-s2": python_client_token("s2", "notify-admin"),
    "internal-wrong-secret": python_client_token(WRONG, "notify-admin"),
    "internal-iat-minute-old": jwt(HEADER, '{"iss":"notify-admin","iat":%d}' % (NOW - 60), "s1"),
    "internal-hs512": jwt('{"alg":"HS512","typ":"JWT"}', '{"iss":"notify-admin","iat":%d}' % NOW, "s1"),
}

# Structured inputs for `differential`: arbitrary turns any bytes into an Input; these pick a
# spread of choices (the first bytes choose secrets, the header, then the claims).
DIFFERENTIAL = {
    "zeros": bytes(64),
    "ones": bytes([1] * 64),
    "mixed": bytes(range(0, 128, 2)),
    "high": bytes(range(255, 127, -2)),
}


# GC Notify's raw keys and schemes, for `raw_key` (header values separated by newlines).
RAW_KEY = {
    "valid": f"ApiKey-v1 gcntfy-my-key-{S}-{K1}",
    "revoked": f"ApiKey-v1 gcntfy-old-{S}-{K3}",
    "archived": f"ApiKey-v1 gcntfy-a-{A}-{KA}",
    "no-prefix": f"ApiKey-v1 live-{S}-{K1}",
    "short": f"ApiKey-v1 gcntfy-{K1}",
    "scheme-case-and-skip": f"apikey-v1x gcntfy-k-{S}-{K1}",
    "unknown-secret": f"ApiKey-v1 gcntfy-k-{S}-{'f' * 36}",
    "bearer-skip": "Bearerx " + token(),
    "cacheclear": "CacheClear-v1 " + token(),
    "two-values": f"ApiKey-v1 gcntfy-k-{S}-{K1}\nx",
    "other-scheme": "Basic abc",
}


def write(folder: str, name: str, data: bytes) -> None:
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    targets = ("header", "token_parse", "decision", "differential", "raw_key")
    dirs = {t: os.path.join(here, t) for t in targets}
    for d in dirs.values():
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    for name, values in CASES.items():
        raw = "\n".join(values).encode()
        if name.startswith(HEADER_STEP):
            write(dirs["header"], name, raw)
        write(dirs["decision"], name, raw)
        if len(values) == 1 and values[0][:7].lower() == "bearer ":
            write(dirs["token_parse"], name, values[0][7:].encode())
    for name, t in INTERNAL.items():
        write(dirs["token_parse"], name, t.encode())
    for name, data in DIFFERENTIAL.items():
        write(dirs["differential"], name, data)
    for name, values in RAW_KEY.items():
        write(dirs["raw_key"], name, values.encode())


if __name__ == "__main__":
    main()
