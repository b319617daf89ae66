#!/usr/bin/env python3
"""Prints the crafted tokens of the load test's hostile mode: one `name<TAB>token` line per family.

The families mirror `benches/hostile.rs` (the same names and shapes, about 7.5 KiB each, near
the 8 KiB limit), each naming the demo key file's service 26785a09-… and signed with no key,
as a stranger would send them. Stdlib only.
"""
import base64
import sys

SERVICE = "26785a09-ab16-4eb0-8407-a37497a57506"
ROOM = 5600
NOW = int(sys.argv[1]) if len(sys.argv) > 1 else 1795394922
HS256 = b'{"alg":"HS256","typ":"JWT"}'


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(header: bytes, claims: bytes) -> str:
    value = f"{b64(header)}.{b64(claims)}.{b64(bytes([0x5A]) * 32)}"
    assert len(value) <= 8192, len(value)
    return value


def claims_with(extra: str) -> bytes:
    return f'{{"iss":"{SERVICE}","iat":{NOW},{extra}}}'.encode()


def fill(unit: str, room: int) -> str:
    return unit * (room // len(unit.encode()))


digits = fill("\U0001D7FF", ROOM)
families = [("ordinary_rejection", token(HS256, f'{{"iss":"{SERVICE}","iat":{NOW}}}'.encode()))]
for claim in ["jti", "sub", "aud", "nbf", "exp"]:
    families.append((f"unicode_digits_in_{claim}", token(HS256, claims_with(f'"{claim}":"{digits}"'))))
families += [
    ("unicode_digits_in_iat", token(HS256, f'{{"iss":"{SERVICE}","iat":"{digits}"}}'.encode())),
    ("unicode_digits_in_iss", token(HS256, f'{{"iss":"{digits}","iat":{NOW}}}'.encode())),
    ("unicode_digits_in_alg",
     token(f'{{"alg":"{fill(chr(0x1D7FF), 4 * ROOM // 5)}","typ":"JWT"}}'.encode(), claims_with('"x":0'))),
    ("ascii_digits_in_iat", token(HS256, f'{{"iss":"{SERVICE}","iat":"{"9" * 4300}"}}'.encode())),
    ("integer_literal_4300_digits", token(HS256, claims_with(f'"nbf":{"9" * 4300}'))),
    ("huge_exponent", token(HS256, claims_with(f'"exp":1e{"9" * (ROOM - 100)}'))),
    ("unicode_escapes", token(HS256, claims_with(f'"x":"{fill(chr(92) + "u0041", ROOM)}"'))),
    ("lone_surrogate_escapes", token(HS256, claims_with(f'"x":"{fill(chr(92) + "ud800", ROOM)}"'))),
    ("tiny_keys", token(HS256, claims_with(fill('"":0,', ROOM).rstrip(",")))),
    ("duplicate_iat", token(HS256, claims_with(fill('"iat":1,', ROOM).rstrip(",")))),
    ("deep_nesting", token(HS256, claims_with(f'"x":{"[" * 899}{"]" * 899}'))),
    ("long_header", token(f'{{"alg":"HS256","x":"{"a" * (ROOM - 40)}"}}'.encode(), claims_with('"x":0'))),
    ("utf16_claims",
     token(HS256, f'{{"iss":"{SERVICE}","iat":{NOW},"x":"{"a" * (ROOM // 2 - 100)}"}}'.encode("utf-16-le"))),
    ("encoded_surrogates", token(HS256, claims_with('"x":"')[:-1] + b"\xed\xa0\x80" * (ROOM // 3) + b'"}')),
    ("no_dots", "a" * 8192),
]
for name, value in families:
    print(f"{name}\t{value}")
