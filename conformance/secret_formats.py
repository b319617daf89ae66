"""Test vectors for how Notify-family databases store `api_keys.secret`, made by the real libraries.

Run with a venv holding itsdangerous==2.2.0 (the version every fork pins) and cryptography:

    python3 -m venv /tmp/secret-venv
    /tmp/secret-venv/bin/pip install itsdangerous==2.2.0 cryptography
    /tmp/secret-venv/bin/python conformance/secret_formats.py > vectors.json

It prints one JSON document to stdout. Each case has `stored` (the column value), `secret` (what
the fork's getter returns, or null when it raises), `error` (null, "signature", "payload",
"token" or "json": see below) and `python` (the exception class the fork would see, or null).
No Notify file is copied; the calls below restate what each fork does:

- GOV.UK Notify: alphagov/notifications-utils notifications_utils/clients/signing/signing_client.py
  (Signing: `URLSafeSerializer(SECRET_KEY)`, `.dumps(x, salt=DANGEROUS_SALT)` /
  `.loads(x, salt=DANGEROUS_SALT)`), used by alphagov/notifications-api app/models.py
  ApiKey.secret with `str(secret)`. SECRET_KEY is one string.
- GC Notify: cds-snc/notification-api app/encryption.py (CryptoSigner: `URLSafeSerializer(keys)`
  where keys is SECRET_KEY, a comma-separated env list, oldest first; the LAST key signs, all
  keys verify, newest first), set up in app/__init__.py with salt="api_key" for api keys (not
  DANGEROUS_SALT). Lookup by secret re-signs the token with every key (`sign_with_all_keys`,
  newest first) and looks for an exact match: see `gc_sign_with_all_keys` below.
- Notify.gov: GSA/notifications-api notifications_utils/clients/encryption/encryption_client.py
  (Encryption: Fernet keyed by urlsafe_b64encode(PBKDF2HMAC(SHA256, length=32,
  salt=DANGEROUS_SALT.encode(), iterations=600_000).derive(SECRET_KEY.encode())), plaintext
  `json.dumps(str(secret)).encode("utf-8")`, decrypt then `json.loads`), used by app/models.py
  ApiKey.secret.

Errors: "signature" = itsdangerous.BadSignature (wrong key/salt, tampering, no '.');
"payload" = itsdangerous.BadPayload (valid signature, undecodable body; NOT a BadSignature
subclass, so the loads loop does not catch it); "token" = cryptography InvalidToken (GSA wraps it
as EncryptionError); "json" = valid Fernet token whose plaintext is not JSON (GSA lets the
JSONDecodeError through). A case with `error: null` whose `secret` is not a string documents
what Python returns for a signed non-string JSON value (Notify only ever stores strings).

Deterministic: itsdangerous is deterministic. Fernet has a random IV and a timestamp; this
script fixes both through Fernet._encrypt_from_parts when it exists (else real randomness),
which changes nothing about the format.
"""

import base64
import json
import uuid
import zlib
from importlib.metadata import version

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from itsdangerous import BadPayload, BadSignature, URLSafeSerializer
from itsdangerous.encoding import base64_encode

# Fixed inputs. Secrets are str(uuid4()) in every fork; these are fixed UUIDs.
SECRET = str(uuid.UUID("6f1c2a4e-9b3d-4c5e-8a7f-0123456789ab"))
SECRET2 = str(uuid.UUID("0b8e5d2c-1a4f-4e6b-9c3d-fedcba987654"))
LONG_SECRET = "notify-" * 40  # repetitive: zlib output is shorter, so itsdangerous compresses
NON_ASCII_SECRET = "clé-secrète-ключ-秘密-\u00e9\U0001f511\"\\\n"
SECRET_KEYS = ["notify-secret-key-2023", "notify-secret-key-2024"]  # oldest first, newest last
SALT = "dev-notify-salt-0123"  # UK: DANGEROUS_SALT; GC: the literal "api_key"
WRONG_KEY = "some-other-secret-key"
WRONG_SALT = "api_key"

FERNET_SECRET_KEY = "dev-notify-secret-key"
FERNET_SALT = "development-notify-salt"  # GSA requires >= 16 bytes
FERNET_WRONG_KEY = "some-other-secret-key"
FERNET_WRONG_SALT = "some-other-salt-16+bytes"
FIXED_TIME = 1_700_000_000
FIXED_IV = bytes(range(16))


# ---- itsdangerous (GOV.UK Notify / GC Notify) ----------------------------------------------

def its_load(stored, keys=SECRET_KEYS, salt=SALT):
    """What ApiKey.secret returns: serializer.loads(stored, salt=salt)."""
    try:
        return {"secret": URLSafeSerializer(keys).loads(stored, salt=salt), "error": None, "python": None}
    except BadPayload as e:  # check first: BadPayload and BadSignature are siblings under BadData
        return {"secret": None, "error": "payload", "python": type(e).__name__}
    except BadSignature as e:
        return {"secret": None, "error": "signature", "python": type(e).__name__}


def flip_char(s, i):
    """Replace the character at i by another url-safe base64 character that changes its bits."""
    c = s[i]
    return s[:i] + ("A" if c != "A" else "B") + s[i + 1:]


def signed_raw(payload_bytes, keys=SECRET_KEYS, salt=SALT):
    """Sign an arbitrary payload part with the same signer dumps() uses (valid signature)."""
    return URLSafeSerializer(keys).make_signer(salt).sign(payload_bytes).decode("ascii")


def itsdangerous_section():
    newest = URLSafeSerializer(SECRET_KEYS)  # GC Notify style: the list; signs with the last key
    older = URLSafeSerializer(SECRET_KEYS[0])  # a value signed before the newest key was added
    good = newest.dumps(SECRET, salt=SALT)
    payload, sig = good.rsplit(".", 1)
    long_stored = newest.dumps(LONG_SECRET, salt=SALT)
    assert long_stored.startswith("."), "long secret did not trigger compression"
    # Same bytes as `sig`, but the last character's 2 unused low bits set: Python still accepts.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    sig_nc = sig[:-1] + alphabet[alphabet.index(sig[-1]) ^ 0b01]

    raw = [
        ("signed-by-newest", good, "newest (last) key, GC/UK"),
        ("signed-by-older-key", older.dumps(SECRET, salt=SALT), "rotation: verifies with the list"),
        ("second-secret-newest", newest.dumps(SECRET2, salt=SALT), None),
        ("tampered-payload", flip_char(payload, 5) + "." + sig, None),
        ("tampered-signature", payload + "." + flip_char(sig, 3), None),
        ("signature-truncated", good[:-1], None),
        ("signature-empty", payload + ".", None),
        ("no-separator", payload, None),
        ("signed-with-wrong-key", URLSafeSerializer(WRONG_KEY).dumps(SECRET, salt=SALT), None),
        ("signed-with-wrong-salt", newest.dumps(SECRET, salt=WRONG_SALT), None),
        ("signed-with-default-salt", newest.dumps(SECRET), "salt=None means b'itsdangerous'"),
        ("compressed-long-secret", long_stored, "leading '.' marks zlib"),
        ("non-ascii-secret", newest.dumps(NON_ASCII_SECRET, salt=SALT), "ensure_ascii=False: raw UTF-8"),
        ("signature-noncanonical-padding-bits", payload + "." + sig_nc,
         "lenient: Python's base64 ignores the 2 spare bits of the last signature character"),
        ("signature-with-junk-chars", payload + "." + sig[:10] + "\n*" + sig[10:],
         "lenient: Python's base64 drops characters outside the alphabet"),
        ("signature-with-std-base64-chars", payload + "." + sig.replace("-", "+").replace("_", "/"),
         "lenient: '+' and '/' decode like '-' and '_'"),
        ("valid-sig-payload-not-base64", signed_raw(b"A"), "1 char: invalid base64 length"),
        ("valid-sig-payload-not-json", signed_raw(base64_encode(b"not json")), None),
        ("valid-sig-payload-bad-zlib", signed_raw(b"." + base64_encode(b"not zlib data")), None),
        ("valid-sig-payload-invalid-utf8", signed_raw(base64_encode(b'"\xff"')), None),
        ("valid-sig-payload-json-number", signed_raw(base64_encode(b"12345")), "loads returns an int"),
        ("valid-sig-payload-json-escapes", signed_raw(base64_encode(b'"a\\u00e9\\ud83d\\udd11\\n"')),
         "JSON \\u escapes and surrogate pairs are decoded"),
        ("valid-sig-uncompressed-no-dot-but-zlib", signed_raw(base64_encode(zlib.compress(b'"x"'))),
         "zlib bytes without the '.' marker are parsed as JSON and fail"),
        ("compressed-marker-on-small-value", signed_raw(b"." + base64_encode(zlib.compress(b'"' + SECRET.encode() + b'"'))),
         "the reader decompresses whenever '.' leads, even if the writer would not have"),
    ]
    cases = []
    for name, stored, note in raw:
        case = {"name": name, "stored": stored, **its_load(stored)}
        if note:
            case["note"] = note
            if note.startswith("lenient"):
                case["lenient"] = True  # Python accepts it; a stricter reader may reject it
        cases.append(case)

    derived = {
        k: newest.make_signer(SALT).derive_key(k).hex() for k in SECRET_KEYS
    }
    return {
        "library": "itsdangerous==" + version("itsdangerous"),
        "secret_keys": SECRET_KEYS,
        "signing_key": SECRET_KEYS[-1],
        "salt": SALT,
        "derived_hmac_keys_hex": derived,  # sha1(salt + b"signer" + key), per key
        "cases": cases,
        # GC Notify get_api_key_by_secret: every key's signature of str(token), newest key first.
        "gc_sign_with_all_keys": {
            "secret": SECRET,
            "salt": "api_key",
            "signed": [URLSafeSerializer(k).dumps(SECRET, salt="api_key") for k in reversed(SECRET_KEYS)],
        },
    }


# ---- Fernet (Notify.gov) -----------------------------------------------------------------

def derive_fernet_key(secret_key, salt):
    """Encryption._derive_key: PBKDF2-HMAC-SHA256, 600000 iterations, 32 bytes, url-safe b64."""
    salt_bytes = salt.encode()
    assert len(salt_bytes) >= 16, "GSA raises EncryptionError: salt must be at least 16 bytes"
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt_bytes, iterations=600_000)
    return base64.urlsafe_b64encode(kdf.derive(secret_key.encode()))


def fernet_encrypt(key, plaintext_bytes, iv=FIXED_IV):
    f = Fernet(key)
    if hasattr(f, "_encrypt_from_parts"):
        return f._encrypt_from_parts(plaintext_bytes, FIXED_TIME, iv).decode("utf-8")
    return f.encrypt(plaintext_bytes).decode("utf-8")


def gsa_encrypt(key, thing):
    """Encryption.encrypt: json.dumps (default ensure_ascii=True), UTF-8, Fernet."""
    return fernet_encrypt(key, json.dumps(thing).encode("utf-8"))


def gsa_decrypt(key, stored):
    """Encryption.decrypt: json.loads(Fernet.decrypt(stored)), InvalidToken -> EncryptionError."""
    try:
        plain = Fernet(key).decrypt(stored)
    except InvalidToken as e:
        return {"secret": None, "error": "token", "python": "EncryptionError(" + type(e).__name__ + ")"}
    try:
        return {"secret": json.loads(plain), "error": None, "python": None}
    except ValueError as e:
        return {"secret": None, "error": "json", "python": type(e).__name__}


def fernet_section():
    key = derive_fernet_key(FERNET_SECRET_KEY, FERNET_SALT)
    good = gsa_encrypt(key, SECRET)
    raw_bytes = base64.urlsafe_b64decode(good)

    def tamper(offset):
        b = bytearray(raw_bytes)
        b[offset] ^= 0x01
        return base64.urlsafe_b64encode(bytes(b)).decode()

    raw = [
        ("encrypted-right-key", good, None),
        ("encrypted-random-iv-and-now", Fernet(key).encrypt(json.dumps(SECRET).encode()).decode(),
         "the fork's own call (random IV, current time)"),
        ("non-ascii-secret", gsa_encrypt(key, NON_ASCII_SECRET), "json.dumps escapes to \\uXXXX"),
        ("encrypted-wrong-key", gsa_encrypt(derive_fernet_key(FERNET_WRONG_KEY, FERNET_SALT), SECRET), None),
        ("encrypted-wrong-salt", gsa_encrypt(derive_fernet_key(FERNET_SECRET_KEY, FERNET_WRONG_SALT), SECRET), None),
        ("tampered-ciphertext", tamper(30), None),
        ("tampered-hmac", tamper(len(raw_bytes) - 1), None),
        ("tampered-timestamp", tamper(8), "timestamp is under the HMAC; no ttl is checked"),
        ("wrong-version-byte", tamper(0), None),
        ("truncated", good[:-4], None),
        ("padded-token", gsa_encrypt(key, "short"), "73 bytes: ends in '=='; a UUID token never has '='"),
        ("unpadded-base64", gsa_encrypt(key, "short").rstrip("="), "cryptography requires the '=' padding"),
        ("token-with-junk-chars", good[:20] + "\n" + good[20:], "lenient: Python's base64 drops characters outside the alphabet"),
        ("plain-uuid", SECRET, "a plain-text (non-Fernet) value"),
        ("itsdangerous-value", URLSafeSerializer(FERNET_SECRET_KEY).dumps(SECRET, salt=FERNET_SALT), None),
        ("valid-token-plaintext-not-json", fernet_encrypt(key, b"not json"), None),
        ("valid-token-plaintext-unquoted-uuid", fernet_encrypt(key, SECRET.encode()),
         "json.loads fails on a bare UUID"),
        ("far-future-timestamp", Fernet(key)._encrypt_from_parts(json.dumps(SECRET).encode(), 2**40, FIXED_IV).decode()
         if hasattr(Fernet(key), "_encrypt_from_parts") else good, "accepted: decrypt() without ttl ignores time"),
    ]
    cases = []
    for name, stored, note in raw:
        case = {"name": name, "stored": stored, **gsa_decrypt(key, stored)}
        if note:
            case["note"] = note
            if note.startswith("lenient"):
                case["lenient"] = True  # Python accepts it; a stricter reader may reject it
        cases.append(case)
    return {
        "library": "cryptography==" + version("cryptography"),
        "secret_key": FERNET_SECRET_KEY,
        "salt": FERNET_SALT,
        "pbkdf2": {"hash": "sha256", "iterations": 600000, "length": 32},
        "derived_fernet_key": key.decode(),
        "cases": cases,
    }


if __name__ == "__main__":
    print(json.dumps({"itsdangerous": itsdangerous_section(), "fernet": fernet_section()},
                     indent=2, ensure_ascii=False))
