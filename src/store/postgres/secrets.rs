//! How the `api_keys.secret` column holds each key's secret, and reading it back (feature
//! `postgres`): [`SecretFormat`].
//!
//! Decoding follows the Python libraries (itsdangerous 2.2.0, which every fork pins, and
//! cryptography's Fernet) wherever it matters; `conformance/secret_formats.py` makes vectors
//! with them and `tests/secret_formats.rs` checks every one. The few inputs Python accepts and
//! this module refuses are spelled out where they are decoded; no fork ever writes them.

use std::fmt;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use aes::Aes128;
use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, KeyInit, Mac};
use miniz_oxide::inflate::TINFLStatus;
use sha1::{Digest, Sha1};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::model::Secret;

/// PBKDF2 iterations of Notify.gov's key derivation (since GSA's b3efeb2, 2023-02-13; it was
/// 480 000 before).
const FERNET_PBKDF2_ITERATIONS: u32 = 600_000;

/// The shortest salt Notify.gov's `Encryption` accepts, in bytes.
const FERNET_MIN_SALT: usize = 16;

/// The largest decompressed itsdangerous payload accepted: a secret is a few dozen bytes, and
/// the cap keeps a small stored value from inflating into a large allocation (a zip bomb).
const MAX_DECOMPRESSED: usize = 64 * 1024;

/// The version byte that opens every Fernet token.
const FERNET_VERSION: u8 = 0x80;

/// The shortest Fernet token with room for its parts: version (1), timestamp (8), IV (16) and
/// HMAC (32). A valid one also has at least one ciphertext block.
const FERNET_MIN_TOKEN: usize = 1 + 8 + 16 + 32;

/// The length of a Fernet HMAC-SHA256 tag.
const FERNET_TAG: usize = 32;

/// Base64url as itsdangerous reads it: padding optional, and the spare low bits of the last
/// character ignored (Python's decoder ignores them too).
const ITSDANGEROUS_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Base64url as cryptography's Fernet reads a token: the `=` padding is required (Python's
/// `urlsafe_b64decode` raises "Incorrect padding" without it, which Fernet turns into
/// `InvalidToken`), and the spare low bits of the last character are ignored.
const FERNET_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

type Aes128CbcEnc = cbc::Encryptor<Aes128>;
type Aes128CbcDec = cbc::Decryptor<Aes128>;

/// An itsdangerous signer key: SHA1(salt + "signer" + secret key), itsdangerous's default
/// "django-concat" derivation.
type SignerKey = Zeroizing<[u8; 20]>;

/// How the secret column holds each key's secret, and decoding it.
///
/// Clients sign their tokens with the secret itself, but the Notify forks do not store it as it
/// is. Each keeps it in a form made with the application's own settings:
///
/// | fork | column | format |
/// |---|---|---|
/// | GOV.UK Notify (alphagov) | itsdangerous `URLSafeSerializer(SECRET_KEY).dumps(secret, salt=DANGEROUS_SALT)` | [`SecretFormat::itsdangerous`] with the one `SECRET_KEY` (the whole value, commas included) and `DANGEROUS_SALT` (`"itsdangerous"` if it is unset) |
/// | GC Notify (cds-snc) | the same, with `SECRET_KEY` a comma-separated list (oldest first, the last one signs) and the salt `"api_key"` | [`SecretFormat::itsdangerous`] with the list and `"api_key"` |
/// | Notify.gov (GSA) | Fernet, keyed by PBKDF2-HMAC-SHA256(`SECRET_KEY`, `DANGEROUS_SALT`, 600 000 iterations), over `json.dumps(secret)` | [`SecretFormat::fernet`] |
/// | anything else | the secret itself | [`SecretFormat::plain`] (the default) |
///
/// The itsdangerous form is signed, not encrypted: whoever reads the column reads the secrets
/// (they are base64 of JSON). Fernet encrypts them.
///
/// ```
/// use notify_auth::store::SecretFormat;
///
/// let format = SecretFormat::itsdangerous(["dev-notify-secret-key"], "dev-notify-salt")?;
/// let stored = format.encode("6f1c2a4e-9b3d-4c5e-8a7f-0123456789ab");
/// assert_eq!(format.decode(&stored)?.expose(), "6f1c2a4e-9b3d-4c5e-8a7f-0123456789ab");
/// # Ok::<(), notify_auth::store::SecretFormatError>(())
/// ```
///
/// The keys are derived once, when the format is made, and zeroized when it is dropped.
/// `Debug` shows only the format's name and its number of keys.
#[derive(Clone)]
pub struct SecretFormat {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Plain,
    ItsDangerous {
        /// Oldest first; the last one signs.
        keys: Vec<SignerKey>,
    },
    Fernet {
        /// The first half of the derived key: HMAC-SHA256.
        signing: Zeroizing<[u8; 16]>,
        /// The second half: AES-128-CBC.
        encryption: Zeroizing<[u8; 16]>,
    },
}

impl Default for SecretFormat {
    /// [`SecretFormat::plain`].
    fn default() -> Self {
        SecretFormat::plain()
    }
}

impl fmt::Debug for SecretFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretFormat")
            .field("name", &self.name())
            .field("keys", &self.key_count())
            .finish()
    }
}

impl SecretFormat {
    /// The column holds the secret itself, as clients sign with it (the default).
    pub fn plain() -> Self {
        SecretFormat {
            inner: Inner::Plain,
        }
    }

    /// GOV.UK Notify and GC Notify: the column holds itsdangerous
    /// `URLSafeSerializer(secret_keys).dumps(secret, salt=salt)`.
    ///
    /// Give the keys oldest first and newest last, as GC Notify's `SECRET_KEY` list and
    /// itsdangerous's own key rotation have them (GOV.UK Notify has exactly one). A stored value
    /// signed with any of them is accepted (the newest is tried first); [`encode`](Self::encode)
    /// signs with the newest. The salt is GOV.UK Notify's `DANGEROUS_SALT` (itsdangerous uses
    /// `"itsdangerous"` when it is unset) or GC Notify's `"api_key"`.
    ///
    /// Fails if there is no key, or if a key is empty.
    pub fn itsdangerous<I, K>(secret_keys: I, salt: &str) -> Result<Self, SecretFormatError>
    where
        I: IntoIterator<Item = K>,
        K: AsRef<str>,
    {
        let mut keys = Vec::new();
        for key in secret_keys {
            let key = key.as_ref();
            if key.is_empty() {
                return Err(SecretFormatError::EmptySecretKey);
            }
            keys.push(signer_key(salt.as_bytes(), key.as_bytes()));
        }
        if keys.is_empty() {
            return Err(SecretFormatError::NoSecretKey);
        }
        Ok(SecretFormat {
            inner: Inner::ItsDangerous { keys },
        })
    }

    /// Notify.gov: the column holds a Fernet token over `json.dumps(secret)`, keyed by
    /// `urlsafe_b64encode(PBKDF2-HMAC-SHA256(secret_key, salt, 600 000 iterations, 32 bytes))`
    /// (`SECRET_KEY` and `DANGEROUS_SALT`). Tokens do not expire (Notify.gov sets no TTL).
    ///
    /// The PBKDF2 derivation runs here, once (it takes a noticeable fraction of a second, far
    /// longer in an unoptimized build), never per lookup.
    ///
    /// Fails if the salt is shorter than 16 bytes (Notify.gov refuses such a salt too), or if
    /// the key is empty.
    pub fn fernet(secret_key: &str, salt: &str) -> Result<Self, SecretFormatError> {
        if secret_key.is_empty() {
            return Err(SecretFormatError::EmptySecretKey);
        }
        if salt.len() < FERNET_MIN_SALT {
            return Err(SecretFormatError::SaltTooShort { len: salt.len() });
        }
        let mut derived = Zeroizing::new([0u8; 32]);
        pbkdf2::pbkdf2_hmac::<Sha256>(
            secret_key.as_bytes(),
            salt.as_bytes(),
            FERNET_PBKDF2_ITERATIONS,
            derived.as_mut_slice(),
        );
        // Fernet's key split: the signing key first, then the encryption key.
        let mut signing = Zeroizing::new([0u8; 16]);
        let mut encryption = Zeroizing::new([0u8; 16]);
        signing.copy_from_slice(&derived[..16]);
        encryption.copy_from_slice(&derived[16..]);
        Ok(SecretFormat {
            inner: Inner::Fernet {
                signing,
                encryption,
            },
        })
    }

    /// The format named `name` (`plain`, `itsdangerous` or `fernet`), keyed by the two
    /// settings the forks' configurations read from their environment: `secret_key` is
    /// `SECRET_KEY` (for `itsdangerous`, several keys separated by commas, oldest first and
    /// newest last, as GC Notify's list; for `fernet`, one key, commas included) and `salt` is
    /// `DANGEROUS_SALT` (GC Notify signs API keys with the salt `api_key`). `plain` needs
    /// neither. A missing setting is an error naming it. (A GOV.UK Notify `SECRET_KEY` that
    /// contains a comma cannot be given here: use [`SecretFormat::itsdangerous`] with the
    /// whole key.)
    ///
    /// ```
    /// use notify_auth::store::SecretFormat;
    ///
    /// let format = SecretFormat::from_settings("itsdangerous", Some("old,new"), Some("salt"))?;
    /// assert_eq!(format.name(), "itsdangerous");
    /// let missing = SecretFormat::from_settings("fernet", None, Some("a-salt-of-16-bytes"));
    /// assert_eq!(missing.unwrap_err().to_string(), "SECRET_KEY is not set");
    /// # Ok::<(), notify_auth::store::SecretFormatError>(())
    /// ```
    pub fn from_settings(
        name: &str,
        secret_key: Option<&str>,
        salt: Option<&str>,
    ) -> Result<Self, SecretFormatError> {
        let settings = || match (secret_key, salt) {
            (None, _) => Err(SecretFormatError::MissingSetting("SECRET_KEY")),
            (_, None) => Err(SecretFormatError::MissingSetting("DANGEROUS_SALT")),
            (Some(key), Some(salt)) => Ok((key, salt)),
        };
        match name {
            "plain" => Ok(SecretFormat::plain()),
            "itsdangerous" => {
                let (keys, salt) = settings()?;
                SecretFormat::itsdangerous(keys.split(','), salt)
            }
            "fernet" => {
                let (key, salt) = settings()?;
                SecretFormat::fernet(key, salt)
            }
            _ => Err(SecretFormatError::UnknownFormat),
        }
    }

    /// The format's name: `plain`, `itsdangerous` or `fernet`.
    pub fn name(&self) -> &'static str {
        match self.inner {
            Inner::Plain => "plain",
            Inner::ItsDangerous { .. } => "itsdangerous",
            Inner::Fernet { .. } => "fernet",
        }
    }

    /// The number of secret keys (0 for `plain`).
    fn key_count(&self) -> usize {
        match &self.inner {
            Inner::Plain => 0,
            Inner::ItsDangerous { keys } => keys.len(),
            Inner::Fernet { .. } => 1,
        }
    }

    /// Decodes one stored value into the secret clients sign with.
    ///
    /// Fails if the value does not verify with the keys, cannot be read, holds a JSON value
    /// other than a string, or holds an empty secret. The error names the problem, never any
    /// part of the value.
    pub fn decode(&self, stored: &str) -> Result<Secret, SecretFormatError> {
        match &self.inner {
            Inner::Plain if stored.is_empty() => Err(SecretFormatError::EmptySecret),
            Inner::Plain => Ok(Secret::new(stored)),
            Inner::ItsDangerous { keys } => decode_itsdangerous(keys, stored),
            Inner::Fernet {
                signing,
                encryption,
            } => decode_fernet(signing, encryption, stored),
        }
    }

    /// Encodes a secret as the fork stores it (for loading keys into a database, and for tests).
    ///
    /// - `plain`: the secret itself.
    /// - `itsdangerous`: exactly what Python's `dumps` writes with the newest key, byte for byte,
    ///   for every value Python does not compress, which includes every UUID (every secret a
    ///   fork makes). Compression follows Python's rule (used when the zlib stream is more than
    ///   one byte shorter than the JSON), but the stream comes from miniz_oxide, whose bytes can
    ///   differ from CPython's zlib (and CPython's own differ between zlib builds); Python
    ///   reads either.
    /// - `fernet`: a token with a random IV and the current time, as `Fernet.encrypt` makes.
    ///
    /// An empty secret encodes, but [`decode`](Self::decode) refuses it.
    ///
    /// # Panics
    ///
    /// For `fernet`, if the operating system's random number generator fails.
    pub fn encode(&self, secret: &str) -> String {
        match &self.inner {
            Inner::Plain => secret.to_owned(),
            Inner::ItsDangerous { keys } => match keys.last() {
                Some(newest) => encode_itsdangerous(newest, secret),
                // Unreachable: `itsdangerous` refuses an empty key list.
                None => String::new(),
            },
            Inner::Fernet {
                signing,
                encryption,
            } => encode_fernet(signing, encryption, secret),
        }
    }
}

impl SecretFormat {
    /// The values the secret column may hold for `secret`, to find its row by equality (GC
    /// Notify's raw keys): `secret` itself when plain; when itsdangerous, its signature by
    /// each key, newest first, as GC Notify's `sign_with_all_keys` makes them (see
    /// [`SecretFormat::encode`] on compression); `None` when Fernet-encrypted (random, so
    /// never found by equality).
    pub fn stored_forms(&self, secret: &str) -> Option<Vec<String>> {
        match &self.inner {
            Inner::Plain => Some(vec![secret.to_owned()]),
            Inner::ItsDangerous { keys } => Some(
                keys.iter()
                    .rev()
                    .map(|key| encode_itsdangerous(key, secret))
                    .collect(),
            ),
            Inner::Fernet { .. } => None,
        }
    }
}

/// What is wrong with a stored value or a format's setting. The text names the problem only,
/// never a stored value, a key, a salt or a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretFormatError {
    /// No secret key was given.
    #[error("no secret key was given")]
    NoSecretKey,
    /// A setting [`SecretFormat::from_settings`] needs is missing (`SECRET_KEY` or
    /// `DANGEROUS_SALT`).
    #[error("{0} is not set")]
    MissingSetting(&'static str),
    /// [`SecretFormat::from_settings`] was given a name other than `plain`, `itsdangerous` or
    /// `fernet`.
    #[error("unknown secret format (expected plain, itsdangerous or fernet)")]
    UnknownFormat,
    /// A secret key is empty.
    #[error("a secret key (SECRET_KEY) is empty")]
    EmptySecretKey,
    /// The Fernet salt is shorter than the 16 bytes Notify.gov requires.
    #[error(
        "the salt (DANGEROUS_SALT) is {len} bytes long; Notify.gov's Fernet format needs at \
         least 16"
    )]
    SaltTooShort {
        /// The salt's length in bytes.
        len: usize,
    },
    /// The itsdangerous signature does not verify with any of the keys: a wrong secret key or
    /// salt, an altered value, or a value in another format.
    #[error(
        "the itsdangerous signature does not verify with any of the secret keys (wrong key or \
         salt, an altered value, or another format)"
    )]
    BadSignature,
    /// The value is authentic (its signature or HMAC verifies) but what it holds cannot be
    /// read; the text names the step that failed.
    #[error("the stored secret cannot be read: {0}")]
    BadPayload(&'static str),
    /// The value is not a Fernet token made with this key: a wrong secret key or salt, an
    /// altered value, or a value in another format.
    #[error(
        "the value is not a Fernet token made with this key (wrong key or salt, an altered \
         value, or another format)"
    )]
    BadToken,
    /// The value holds a JSON value other than a string (Notify only ever stores strings).
    #[error("the stored value holds a JSON value that is not a string")]
    NotAString,
    /// The secret is empty.
    #[error("the secret is empty")]
    EmptySecret,
}

// ---- itsdangerous ----------------------------------------------------------------------------

/// SHA1(salt + "signer" + secret key): itsdangerous's `Signer.derive_key` with its defaults
/// (`key_derivation="django-concat"`, `digest_method=sha1`).
fn signer_key(salt: &[u8], secret_key: &[u8]) -> SignerKey {
    let mut hasher = <Sha1 as Digest>::new();
    Digest::update(&mut hasher, salt);
    Digest::update(&mut hasher, b"signer");
    Digest::update(&mut hasher, secret_key);
    let mut digest = Digest::finalize(hasher);
    let mut key = Zeroizing::new([0u8; 20]);
    key.copy_from_slice(digest.as_slice());
    digest.as_mut_slice().zeroize();
    key
}

/// itsdangerous `URLSafeSerializer.loads(stored, salt)` for a string payload.
///
/// Python's base64 reading is looser than this in ways no fork writes: it drops any character
/// outside the alphabet (`\n`, `*`, non-ASCII…) and stops at the first complete padding. Those
/// are refused here (a signature spelled so is [`SecretFormatError::BadSignature`], a payload
/// [`SecretFormatError::BadPayload`]). `+` and `/` are read as `-` and `_`, and the spare low
/// bits of the last character are ignored, as in Python.
fn decode_itsdangerous(keys: &[SignerKey], stored: &str) -> Result<Secret, SecretFormatError> {
    // The signature follows the LAST '.'; a compressed payload keeps its leading '.', which is
    // signed with it.
    let (value, signature) = stored
        .rsplit_once('.')
        .ok_or(SecretFormatError::BadSignature)?;
    let signature =
        base64_decode(&ITSDANGEROUS_BASE64, signature).ok_or(SecretFormatError::BadSignature)?;
    // Newest key first, as itsdangerous tries them; each comparison is constant-time.
    let verified = keys.iter().rev().any(|key| {
        <Hmac<Sha1> as KeyInit>::new_from_slice(key.as_slice()).is_ok_and(|mut mac| {
            Mac::update(&mut mac, value.as_bytes());
            Mac::verify_slice(mac, signature.as_slice()).is_ok()
        })
    });
    if !verified {
        return Err(SecretFormatError::BadSignature);
    }
    // A leading '.' marks a zlib-compressed payload (whatever its size).
    let (compressed, payload) = match value.strip_prefix('.') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let decoded = base64_decode(&ITSDANGEROUS_BASE64, payload).ok_or(
        SecretFormatError::BadPayload("the signed payload is not base64url"),
    )?;
    let json = if compressed {
        inflate(decoded.as_slice())?
    } else {
        decoded
    };
    secret_from_json(json.as_slice())
}

/// zlib decompression with an output cap.
fn inflate(compressed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SecretFormatError> {
    const NOT_ZLIB: SecretFormatError =
        SecretFormatError::BadPayload("the signed payload is not valid zlib data");
    if compressed.is_empty() {
        return Err(NOT_ZLIB);
    }
    // Checks the zlib header and the Adler-32 checksum, as Python's zlib.decompress does;
    // bytes after the end of the stream are ignored, as there.
    match miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(compressed, MAX_DECOMPRESSED) {
        Ok(decompressed) => Ok(Zeroizing::new(decompressed)),
        Err(mut error) => {
            error.output.zeroize();
            if matches!(error.status, TINFLStatus::HasMoreOutput) {
                Err(SecretFormatError::BadPayload(
                    "the signed payload decompresses to more than 64 KiB",
                ))
            } else {
                Err(NOT_ZLIB)
            }
        }
    }
}

/// itsdangerous `URLSafeSerializer.dumps(secret, salt)` signed with `key`.
fn encode_itsdangerous(key: &SignerKey, secret: &str) -> String {
    // json.dumps(secret, ensure_ascii=False, separators=(",", ":")), UTF-8.
    let json = python_json_string(secret, false);
    let json = json.as_bytes();
    let compressed = Zeroizing::new(miniz_oxide::deflate::compress_to_vec_zlib(json, 6));
    // itsdangerous: `if len(compressed) < (len(json) - 1)`, then a '.' marks it.
    let (marker, payload): (&str, &[u8]) = if compressed.len() + 1 < json.len() {
        (".", compressed.as_slice())
    } else {
        ("", json)
    };
    let mut stored = String::with_capacity(marker.len() + payload.len() * 4 / 3 + 4 + 1 + 27);
    stored.push_str(marker);
    ITSDANGEROUS_BASE64.encode_string(payload, &mut stored);
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(key.as_slice())
        .expect("HMAC accepts keys of any length");
    Mac::update(&mut mac, stored.as_bytes());
    let signature = Mac::finalize(mac).into_bytes();
    stored.push('.');
    ITSDANGEROUS_BASE64.encode_string(signature.as_slice(), &mut stored);
    stored
}

// ---- Fernet ----------------------------------------------------------------------------------

/// cryptography's `Fernet(key).decrypt(stored)` (no TTL, so no time check at all), then
/// `json.loads` of the plaintext, as Notify.gov's `Encryption.decrypt`.
///
/// Python's base64 reading is looser than this in ways no fork writes: it drops characters
/// outside the alphabet and ignores what follows a complete padding; those are refused here
/// ([`SecretFormatError::BadToken`]). `+` and `/` are read as `-` and `_`, and a missing `=`
/// padding is refused, as in Python. `json.loads` on bytes would also read UTF-16 and UTF-32
/// JSON and encoded lone surrogates; Notify.gov's plaintext is always ASCII (`json.dumps`
/// escapes the rest), and those are refused here too.
fn decode_fernet(
    signing: &[u8; 16],
    encryption: &[u8; 16],
    stored: &str,
) -> Result<Secret, SecretFormatError> {
    let token = base64_decode(&FERNET_BASE64, stored).ok_or(SecretFormatError::BadToken)?;
    if token.len() < FERNET_MIN_TOKEN || token.first() != Some(&FERNET_VERSION) {
        return Err(SecretFormatError::BadToken);
    }
    // HMAC-SHA256 over everything before the tag, compared in constant time.
    let split = token.len() - FERNET_TAG;
    let (signed, tag) = token
        .split_at_checked(split)
        .ok_or(SecretFormatError::BadToken)?;
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(signing.as_slice())
        .map_err(|_| SecretFormatError::BadToken)?;
    Mac::update(&mut mac, signed);
    Mac::verify_slice(mac, tag).map_err(|_| SecretFormatError::BadToken)?;
    // version (1) ‖ timestamp (8, not checked) ‖ IV (16) ‖ ciphertext.
    let iv: [u8; 16] = signed
        .get(9..25)
        .and_then(|iv| <[u8; 16]>::try_from(iv).ok())
        .ok_or(SecretFormatError::BadToken)?;
    let mut buffer = Zeroizing::new(
        signed
            .get(25..)
            .ok_or(SecretFormatError::BadToken)?
            .to_vec(),
    );
    // A length that is not a whole number of blocks (or no block at all) and bad PKCS7
    // padding are both errors, as in cryptography.
    let plaintext = <Aes128CbcDec as KeyIvInit>::new(&(*encryption).into(), &iv.into())
        .decrypt_padded_mut::<Pkcs7>(buffer.as_mut_slice())
        .map_err(|_| SecretFormatError::BadToken)?;
    // json.loads(bytes) decodes UTF-8 with a byte-order mark as 'utf-8-sig'.
    let plaintext = plaintext
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(plaintext);
    secret_from_json(plaintext)
}

/// Notify.gov's `Encryption.encrypt`: `Fernet.encrypt(json.dumps(secret).encode("utf-8"))`.
fn encode_fernet(signing: &[u8; 16], encryption: &[u8; 16], secret: &str) -> String {
    // json.dumps with its defaults: ensure_ascii=True.
    let plaintext = python_json_string(secret, true);
    let mut iv = [0u8; 16];
    getrandom::fill(&mut iv).expect("the operating system's random number generator failed");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let ciphertext = <Aes128CbcEnc as KeyIvInit>::new(&(*encryption).into(), &iv.into())
        .encrypt_padded_vec_mut::<Pkcs7>(plaintext.as_bytes());
    let mut token = Vec::with_capacity(1 + 8 + 16 + ciphertext.len() + FERNET_TAG);
    token.push(FERNET_VERSION);
    token.extend_from_slice(&now.to_be_bytes());
    token.extend_from_slice(&iv);
    token.extend_from_slice(&ciphertext);
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(signing.as_slice())
        .expect("HMAC accepts keys of any length");
    Mac::update(&mut mac, &token);
    token.extend_from_slice(Mac::finalize(mac).into_bytes().as_slice());
    URL_SAFE.encode(&token)
}

// ---- shared ----------------------------------------------------------------------------------

/// Decodes base64url with `engine`, reading `+` and `/` as `-` and `_` (Python's
/// `urlsafe_b64decode` accepts both alphabets). None if it is not base64.
fn base64_decode(engine: &GeneralPurpose, text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let translated = Zeroizing::new(
        text.bytes()
            .map(|b| match b {
                b'+' => b'-',
                b'/' => b'_',
                b => b,
            })
            .collect::<Vec<u8>>(),
    );
    let mut decoded = Zeroizing::new(vec![0u8; base64::decoded_len_estimate(translated.len())]);
    let len = engine
        .decode_slice(translated.as_slice(), decoded.as_mut_slice())
        .ok()?;
    decoded.truncate(len);
    Some(decoded)
}

/// The secret in a JSON document: it must be UTF-8, JSON, a string, and not empty.
fn secret_from_json(json: &[u8]) -> Result<Secret, SecretFormatError> {
    let text = std::str::from_utf8(json)
        .map_err(|_| SecretFormatError::BadPayload("the payload is not UTF-8"))?;
    // serde_json decodes every escape Python's json.loads does (\uXXXX, surrogate pairs).
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::String(secret)) if secret.is_empty() => {
            Err(SecretFormatError::EmptySecret)
        }
        Ok(serde_json::Value::String(secret)) => Ok(Secret::new(secret)),
        Ok(_) => Err(SecretFormatError::NotAString),
        Err(_) => Err(SecretFormatError::BadPayload("the payload is not JSON")),
    }
}

/// `json.dumps(text)` for a str, as CPython writes it: `ensure_ascii=False` escapes `"`, `\`
/// and the C0 controls only (short forms for `\b \f \n \r \t`, else `\u00xx`, lowercase);
/// `ensure_ascii=True` also escapes everything outside `' '..='~'` (DEL included) as `\uxxxx`,
/// with a surrogate pair above U+FFFF.
fn python_json_string(text: &str, ensure_ascii: bool) -> Zeroizing<String> {
    // Room for the longest escapes (6 bytes per 1-byte control character), so the buffer is
    // never reallocated (which would leave a copy behind).
    let mut json = Zeroizing::new(String::with_capacity(
        text.len().saturating_mul(6).saturating_add(2),
    ));
    json.push('"');
    for c in text.chars() {
        match c {
            '"' => json.push_str("\\\""),
            '\\' => json.push_str("\\\\"),
            '\n' => json.push_str("\\n"),
            '\r' => json.push_str("\\r"),
            '\t' => json.push_str("\\t"),
            '\u{08}' => json.push_str("\\b"),
            '\u{0c}' => json.push_str("\\f"),
            '\u{00}'..='\u{1f}' => {
                let _ = write!(json, "\\u{:04x}", u32::from(c));
            }
            ' '..='~' => json.push(c),
            _ if ensure_ascii => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(json, "\\u{unit:04x}");
                }
            }
            _ => json.push(c),
        }
    }
    json.push('"');
    json
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    // Vectors made by conformance/secret_formats.py with itsdangerous 2.2.0 and cryptography
    // 50.0.2 (the whole set is checked by tests/secret_formats.rs).
    const SECRET: &str = "6f1c2a4e-9b3d-4c5e-8a7f-0123456789ab";
    const SECRET2: &str = "0b8e5d2c-1a4f-4e6b-9c3d-fedcba987654";
    const NON_ASCII_SECRET: &str =
        "cl\u{e9}-secr\u{e8}te-\u{43a}\u{43b}\u{44e}\u{447}-\u{79d8}\u{5bc6}-\u{e9}\u{1f511}\"\\\n";
    const KEY_2023: &str = "notify-secret-key-2023";
    const KEY_2024: &str = "notify-secret-key-2024";
    const SALT: &str = "dev-notify-salt-0123";

    const ITS_NEWEST: &str =
        "IjZmMWMyYTRlLTliM2QtNGM1ZS04YTdmLTAxMjM0NTY3ODlhYiI.xZSnuE-EZytPwgiX6aEfTowBijQ";
    const ITS_OLDER_KEY: &str =
        "IjZmMWMyYTRlLTliM2QtNGM1ZS04YTdmLTAxMjM0NTY3ODlhYiI.u7l_eAet0YEDxOUo_H5Qo57d1KY";
    const ITS_SECOND: &str =
        "IjBiOGU1ZDJjLTFhNGYtNGU2Yi05YzNkLWZlZGNiYTk4NzY1NCI.4VuAxukgmitP9I_0hwGx4P_pUBE";
    const ITS_COMPRESSED: &str = ".eJxTyssvyUyr1B2l0CglAJlzbzU.kabA_ihqe1X0qDD4QXs7CHQsb4Y";
    const ITS_NON_ASCII: &str =
        "ImNsw6ktc2VjcsOodGUt0LrQu9GO0Yct56eY5a-GLcOp8J-UkVwiXFxcbiI.iLECSpGkk_HbvRRgE-Yiby3Pgz0";
    const ITS_MARKER_ON_SMALL: &str = ".eJxTMkszTDZKNEnVtUwyTtE1STZN1bVINE_TNTA0MjYxNTO3sExMUgIAwuIJvg.ioyuBIpSZiV23jUFV34bLR0cnBA";
    const ITS_JSON_ESCAPES: &str = "ImFcdTAwZTlcdWQ4M2RcdWRkMTFcbiI.sQPl7GeJUnQcCaACAD1syrfXMu4";
    const ITS_TAMPERED_PAYLOAD: &str =
        "IjZmMAMyYTRlLTliM2QtNGM1ZS04YTdmLTAxMjM0NTY3ODlhYiI.xZSnuE-EZytPwgiX6aEfTowBijQ";
    const ITS_TAMPERED_SIGNATURE: &str =
        "IjZmMWMyYTRlLTliM2QtNGM1ZS04YTdmLTAxMjM0NTY3ODlhYiI.xZSAuE-EZytPwgiX6aEfTowBijQ";
    const ITS_TRUNCATED: &str =
        "IjZmMWMyYTRlLTliM2QtNGM1ZS04YTdmLTAxMjM0NTY3ODlhYiI.xZSnuE-EZytPwgiX6aEfTowBij";
    const ITS_NO_SEPARATOR: &str = "IjZmMWMyYTRlLTliM2QtNGM1ZS04YTdmLTAxMjM0NTY3ODlhYiI";
    const ITS_WRONG_KEY: &str =
        "IjZmMWMyYTRlLTliM2QtNGM1ZS04YTdmLTAxMjM0NTY3ODlhYiI.zQm_Uj1YwR3CsYXhAJpRqFGOYXg";
    /// Signed with the newest key and the salt "api_key" (GC Notify's).
    const ITS_WRONG_SALT: &str =
        "IjZmMWMyYTRlLTliM2QtNGM1ZS04YTdmLTAxMjM0NTY3ODlhYiI.8V-GGOTnlbonvC7xDUrYfPAIhz0";
    const ITS_DEFAULT_SALT: &str =
        "IjZmMWMyYTRlLTliM2QtNGM1ZS04YTdmLTAxMjM0NTY3ODlhYiI.AQsv6s3Y5R9v7bj7pgLLkMPwZK0";
    /// GC Notify's `sign_with_all_keys(SECRET)` with salt "api_key", newest key first.
    const GC_SIGNED: [&str; 2] = [
        "IjZmMWMyYTRlLTliM2QtNGM1ZS04YTdmLTAxMjM0NTY3ODlhYiI.8V-GGOTnlbonvC7xDUrYfPAIhz0",
        "IjZmMWMyYTRlLTliM2QtNGM1ZS04YTdmLTAxMjM0NTY3ODlhYiI.ah3ZK4Aw6WpuAFnJqNzwznkUcv0",
    ];
    const ITS_NONCANONICAL_BITS: &str =
        "IjZmMWMyYTRlLTliM2QtNGM1ZS04YTdmLTAxMjM0NTY3ODlhYiI.xZSnuE-EZytPwgiX6aEfTowBijR";
    const ITS_STD_BASE64: &str =
        "IjZmMWMyYTRlLTliM2QtNGM1ZS04YTdmLTAxMjM0NTY3ODlhYiI.xZSnuE+EZytPwgiX6aEfTowBijQ";
    const ITS_JUNK: &str =
        "IjZmMWMyYTRlLTliM2QtNGM1ZS04YTdmLTAxMjM0NTY3ODlhYiI.xZSnuE-EZy\n*tPwgiX6aEfTowBijQ";
    const ITS_NOT_BASE64: &str = "A.yeCeeL-gOWKdQ9izLupUifq9-NA";
    const ITS_NOT_JSON: &str = "bm90IGpzb24.U5GhJPMrn4hMAM8-xUcAzm9mx64";
    const ITS_BAD_ZLIB: &str = ".bm90IHpsaWIgZGF0YQ.lxjkJzoFqgFrPkDhDCqDeMnUauU";
    const ITS_INVALID_UTF8: &str = "Iv8i.caKABCzKOeiEVsotMj4y2Ekm5yw";
    const ITS_NUMBER: &str = "MTIzNDU.IvMYuRngbpid7COeGntchqU1Zi8";
    const ITS_ZLIB_WITHOUT_MARKER: &str = "eJxTqlACAAF7AL0.Jjc_7IuQEV7do0zdN2fkl33msQI";

    const FERNET_KEY: &str = "dev-notify-secret-key";
    const FERNET_SALT: &str = "development-notify-salt";
    /// urlsafe_b64encode of the PBKDF2 output, as Python derives it.
    const FERNET_DERIVED: &str = "PsRW_WtMfliRwyNtBeKcRfPxbaShmwGgmRWYRcss-1E=";
    const FERNET_RIGHT: &str = "gAAAAABlU_EAAAECAwQFBgcICQoLDA0ODyOB2JAxzosr_KpgU8HN1-QOjs7GaicrOhgeZcH1V6i_ASBviZJuIcbOeooWYyMFOGHcQ7sNCr6pgjBYluI60UrkYttjrZ4JIaMHTsLaLBGm";
    const FERNET_RANDOM_IV: &str = "gAAAAABrDhGBuCtNQcCHwe_0xQ4tTWhhrbQ6Ag-dwm6PBhLyIgbN99ef3wVbL4PiEeYoKBSMgD8oRxc7QEn6XOXvW0wPx9hTYx9CelEb5vV1EsKN74-7Bg_bS-qsgtFrNiRN1YhDzBce";
    const FERNET_NON_ASCII: &str = "gAAAAABlU_EAAAECAwQFBgcICQoLDA0OD8vEbaKlXLJ0WzaXPC7P1TQiFY_-Z7YBr1iq7q4KBl00Jx85uZLzo_szKlpzq6Jnopmhk8QmotoxXIJpGK3fQaeEXz31operg7OEEi46GVQV_ICANellxmMUDZm_r3zCvq8Pr3wgVyEPkmY0GEN3nvaaH9pM8hqw0CGKDWTQ0Pmj";
    const FERNET_WRONG_KEY: &str = "gAAAAABlU_EAAAECAwQFBgcICQoLDA0OD-bTcUMkcmkDXyK8wMalI7uL5-Ku0nQLNfEo2I7FbYulMmoKDaafMMTaOTGWTQoFRfUw26KAdmj2gmVFAgaXI09eCZkNQEdCtRxU41K1o8dA";
    const FERNET_WRONG_SALT: &str = "gAAAAABlU_EAAAECAwQFBgcICQoLDA0OD_IOvz180j-BCGK9PcJDHlvV0VuZT_oCvVxArxp0mn1Sh9sZeIPB6iomQ1uBf_956NbaAUMTkBHhzF4SCJMau_COXZuhqTSNvpyonfzEQAXA";
    const FERNET_TAMPERED_CIPHERTEXT: &str = "gAAAAABlU_EAAAECAwQFBgcICQoLDA0ODyOB2JAxz4sr_KpgU8HN1-QOjs7GaicrOhgeZcH1V6i_ASBviZJuIcbOeooWYyMFOGHcQ7sNCr6pgjBYluI60UrkYttjrZ4JIaMHTsLaLBGm";
    const FERNET_TAMPERED_HMAC: &str = "gAAAAABlU_EAAAECAwQFBgcICQoLDA0ODyOB2JAxzosr_KpgU8HN1-QOjs7GaicrOhgeZcH1V6i_ASBviZJuIcbOeooWYyMFOGHcQ7sNCr6pgjBYluI60UrkYttjrZ4JIaMHTsLaLBGn";
    const FERNET_TAMPERED_TIMESTAMP: &str = "gAAAAABlU_EBAAECAwQFBgcICQoLDA0ODyOB2JAxzosr_KpgU8HN1-QOjs7GaicrOhgeZcH1V6i_ASBviZJuIcbOeooWYyMFOGHcQ7sNCr6pgjBYluI60UrkYttjrZ4JIaMHTsLaLBGm";
    const FERNET_WRONG_VERSION: &str = "gQAAAABlU_EAAAECAwQFBgcICQoLDA0ODyOB2JAxzosr_KpgU8HN1-QOjs7GaicrOhgeZcH1V6i_ASBviZJuIcbOeooWYyMFOGHcQ7sNCr6pgjBYluI60UrkYttjrZ4JIaMHTsLaLBGm";
    const FERNET_TRUNCATED: &str = "gAAAAABlU_EAAAECAwQFBgcICQoLDA0ODyOB2JAxzosr_KpgU8HN1-QOjs7GaicrOhgeZcH1V6i_ASBviZJuIcbOeooWYyMFOGHcQ7sNCr6pgjBYluI60UrkYttjrZ4JIaMHTsLa";
    /// The secret "short": 73 bytes, so the token ends in "==".
    const FERNET_PADDED: &str = "gAAAAABlU_EAAAECAwQFBgcICQoLDA0OD-Qrvm6hvz1LZnBZVNKR1_e3PCTthJ5zBveuNAlBJWVH1PhgpNclG9B00t4zG0glAw==";
    const FERNET_FAR_FUTURE: &str = "gAAAAQAAAAAAAAECAwQFBgcICQoLDA0ODyOB2JAxzosr_KpgU8HN1-QOjs7GaicrOhgeZcH1V6i_ASBviZJuIcbOeooWYyMFONzEEKlpBUu83LWmFqbr08MlMPHC6pA9o2Y-GsIEDwJu";
    const FERNET_NOT_JSON: &str = "gAAAAABlU_EAAAECAwQFBgcICQoLDA0OD8L2ZxrfDo98WrnCBCfvq-locnU3Qx3RD7WjmwHfINe0oue48vZXK6YFUFeQG10mHw==";
    const FERNET_UNQUOTED_UUID: &str = "gAAAAABlU_EAAAECAwQFBgcICQoLDA0OD4FDoa7RHZ-00SbHWGY7dX6kHG5DNs71kNvuvHRU4audtCHOMgeHpgnR26nuEekWUBCfQkUmyjp2Th3wUb3Os-kKh2zbrO7sN5MgE_J-qRnl";
    const FERNET_ITSDANGEROUS: &str =
        "IjZmMWMyYTRlLTliM2QtNGM1ZS04YTdmLTAxMjM0NTY3ODlhYiI.8her6aR0b5y2CFvUGQtRG9lWnF0";

    /// GC Notify style: both keys, the last one signs.
    fn gc() -> SecretFormat {
        SecretFormat::itsdangerous([KEY_2023, KEY_2024], SALT).expect("valid settings")
    }

    /// GOV.UK Notify style: one key.
    fn uk() -> SecretFormat {
        SecretFormat::itsdangerous([KEY_2024], SALT).expect("valid settings")
    }

    /// Notify.gov's format for the vectors' settings; PBKDF2 runs once per test binary.
    fn gsa() -> &'static SecretFormat {
        static FORMAT: OnceLock<SecretFormat> = OnceLock::new();
        FORMAT
            .get_or_init(|| SecretFormat::fernet(FERNET_KEY, FERNET_SALT).expect("valid settings"))
    }

    fn decoded(format: &SecretFormat, stored: &str) -> String {
        match format.decode(stored) {
            Ok(secret) => secret.expose().to_owned(),
            Err(e) => panic!("{} refused a valid value: {e}", format.name()),
        }
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Signs any value with the format's newest itsdangerous key, as `Signer.sign` does.
    fn sign_raw(format: &SecretFormat, value: &str) -> String {
        let Inner::ItsDangerous { keys } = &format.inner else {
            panic!("not an itsdangerous format");
        };
        let mut mac =
            <Hmac<Sha1> as KeyInit>::new_from_slice(keys.last().unwrap().as_slice()).unwrap();
        Mac::update(&mut mac, value.as_bytes());
        let signature = Mac::finalize(mac).into_bytes();
        format!("{value}.{}", URL_SAFE_NO_PAD.encode(signature.as_slice()))
    }

    #[test]
    fn itsdangerous_signer_keys_are_derived_as_in_python() {
        let format = gc();
        let Inner::ItsDangerous { keys } = &format.inner else {
            panic!("not an itsdangerous format");
        };
        // derived_hmac_keys_hex in the vectors.
        assert_eq!(
            hex(keys[0].as_slice()),
            "f58eb01b89119080113f85e7b82fd1298809d088"
        );
        assert_eq!(
            hex(keys[1].as_slice()),
            "d10f190f1fa4650b6efdeed8739609470f68190f"
        );
    }

    #[test]
    fn itsdangerous_decodes_python_vectors() {
        let (gc, uk) = (gc(), uk());
        for format in [&gc, &uk] {
            assert_eq!(decoded(format, ITS_NEWEST), SECRET);
            assert_eq!(decoded(format, ITS_SECOND), SECRET2);
            assert_eq!(decoded(format, ITS_COMPRESSED), "notify-".repeat(40));
            assert_eq!(decoded(format, ITS_NON_ASCII), NON_ASCII_SECRET);
            assert_eq!(decoded(format, ITS_MARKER_ON_SMALL), SECRET);
            assert_eq!(decoded(format, ITS_JSON_ESCAPES), "a\u{e9}\u{1f511}\n");
        }
        // Rotation: signed before the newest key existed; the list verifies it, one key does not.
        assert_eq!(decoded(&gc, ITS_OLDER_KEY), SECRET);
        assert_eq!(
            uk.decode(ITS_OLDER_KEY),
            Err(SecretFormatError::BadSignature)
        );
        let older_only = SecretFormat::itsdangerous([KEY_2023], SALT).unwrap();
        assert_eq!(decoded(&older_only, ITS_OLDER_KEY), SECRET);
        assert_eq!(
            older_only.decode(ITS_NEWEST),
            Err(SecretFormatError::BadSignature)
        );
        // GC Notify's lookup strings (salt "api_key"), newest key first.
        let gc_api_key = SecretFormat::itsdangerous([KEY_2023, KEY_2024], "api_key").unwrap();
        for stored in GC_SIGNED {
            assert_eq!(decoded(&gc_api_key, stored), SECRET);
        }
    }

    #[test]
    fn itsdangerous_encode_is_byte_identical_to_python() {
        let (gc, uk) = (gc(), uk());
        for format in [&gc, &uk] {
            assert_eq!(format.encode(SECRET), ITS_NEWEST);
            assert_eq!(format.encode(SECRET2), ITS_SECOND);
            assert_eq!(format.encode(NON_ASCII_SECRET), ITS_NON_ASCII);
        }
        for (key, expected) in [KEY_2024, KEY_2023].into_iter().zip(GC_SIGNED) {
            let single = SecretFormat::itsdangerous([key], "api_key").unwrap();
            assert_eq!(single.encode(SECRET), expected);
        }
        let older_only = SecretFormat::itsdangerous([KEY_2023], SALT).unwrap();
        assert_eq!(older_only.encode(SECRET), ITS_OLDER_KEY);
    }

    #[test]
    fn itsdangerous_round_trips() {
        let format = gc();
        let long = "notify-".repeat(40);
        let samples = [
            SECRET,
            NON_ASCII_SECRET,
            "x",
            "a\u{0}\u{1f}\u{7f}\u{2028}\t\r\u{8}\u{c}/",
            long.as_str(),
        ];
        for secret in samples {
            let stored = format.encode(secret);
            assert_eq!(decoded(&format, &stored), secret);
        }
        // A UUID's JSON never compresses; a repetitive string does, behind a '.'.
        assert!(!format.encode(SECRET).starts_with('.'));
        assert_eq!(format.encode(SECRET).len(), 79);
        assert!(format.encode(&long).starts_with('.'));
        // An empty secret encodes as Python would, but is refused.
        assert_eq!(
            SecretFormat::itsdangerous(["k"], "s").unwrap().encode(""),
            "IiI.6dInOX96QFWE-9oq1pQBcfyk2-Q"
        );
        assert_eq!(
            format.decode(&format.encode("")),
            Err(SecretFormatError::EmptySecret)
        );
    }

    #[test]
    fn itsdangerous_refuses_wrong_keys_salts_and_tampering() {
        let format = gc();
        for stored in [
            ITS_TAMPERED_PAYLOAD,
            ITS_TAMPERED_SIGNATURE,
            ITS_TRUNCATED,
            ITS_NO_SEPARATOR,
            ITS_WRONG_KEY,
            ITS_WRONG_SALT,
            ITS_DEFAULT_SALT,
            "IjZmMWMyYTRlLTliM2QtNGM1ZS04YTdmLTAxMjM0NTY3ODlhYiI.",
            "",
            ".",
            "..",
            SECRET,
            FERNET_RIGHT,
        ] {
            assert_eq!(
                format.decode(stored),
                Err(SecretFormatError::BadSignature),
                "{stored:?}"
            );
        }
        // The right key with another salt.
        let other_salt = SecretFormat::itsdangerous([KEY_2023, KEY_2024], "api_key").unwrap();
        assert_eq!(
            other_salt.decode(ITS_NEWEST),
            Err(SecretFormatError::BadSignature)
        );
    }

    #[test]
    fn itsdangerous_base64_leniency() {
        let format = gc();
        // Python ignores the spare bits of the last character and reads '+' and '/' as '-' and '_'.
        assert_eq!(decoded(&format, ITS_NONCANONICAL_BITS), SECRET);
        assert_eq!(decoded(&format, ITS_STD_BASE64), SECRET);
        // Python drops characters outside the alphabet; this module refuses them.
        assert_eq!(
            format.decode(ITS_JUNK),
            Err(SecretFormatError::BadSignature)
        );
    }

    #[test]
    fn itsdangerous_payload_errors() {
        let format = gc();
        for stored in [
            ITS_NOT_BASE64,
            ITS_NOT_JSON,
            ITS_BAD_ZLIB,
            ITS_INVALID_UTF8,
            ITS_ZLIB_WITHOUT_MARKER,
        ] {
            assert!(
                matches!(format.decode(stored), Err(SecretFormatError::BadPayload(_))),
                "{stored:?}"
            );
        }
        // Python returns 12345; Notify only stores strings.
        assert_eq!(
            format.decode(ITS_NUMBER),
            Err(SecretFormatError::NotAString)
        );
        for value in ["bnVsbA", "W10", "e30", "dHJ1ZQ"] {
            // null, [], {}, true
            assert_eq!(
                format.decode(&sign_raw(&format, value)),
                Err(SecretFormatError::NotAString),
                "{value}"
            );
        }
        // A '.' alone: an empty compressed payload.
        assert!(matches!(
            format.decode(&sign_raw(&format, ".")),
            Err(SecretFormatError::BadPayload(_))
        ));
        // Characters Python would drop from the payload.
        assert!(matches!(
            format.decode(&sign_raw(&format, "IjZmMWMy*YTRlIg")),
            Err(SecretFormatError::BadPayload(_))
        ));
    }

    #[test]
    fn zlib_bombs_are_refused() {
        let format = gc();
        let mut json = Vec::with_capacity(256 * 1024 + 2);
        json.push(b'"');
        json.resize(256 * 1024 + 1, b'a');
        json.push(b'"');
        let compressed = miniz_oxide::deflate::compress_to_vec_zlib(&json, 6);
        assert!(compressed.len() < 4096);
        let bomb = sign_raw(
            &format,
            &format!(".{}", URL_SAFE_NO_PAD.encode(&compressed)),
        );
        assert_eq!(
            format.decode(&bomb),
            Err(SecretFormatError::BadPayload(
                "the signed payload decompresses to more than 64 KiB"
            ))
        );
        // Just under the cap is fine.
        let secret = "a".repeat(MAX_DECOMPRESSED - 1024);
        let stored = format.encode(&secret);
        assert!(stored.starts_with('.'));
        assert_eq!(decoded(&format, &stored), secret);
    }

    #[test]
    fn fernet_key_is_derived_as_in_python() {
        let Inner::Fernet {
            signing,
            encryption,
        } = &gsa().inner
        else {
            panic!("not a fernet format");
        };
        let expected = URL_SAFE.decode(FERNET_DERIVED).unwrap();
        assert_eq!(signing.as_slice(), &expected[..16]);
        assert_eq!(encryption.as_slice(), &expected[16..]);
    }

    #[test]
    fn fernet_decodes_python_vectors() {
        let format = gsa();
        assert_eq!(decoded(format, FERNET_RIGHT), SECRET);
        assert_eq!(decoded(format, FERNET_RANDOM_IV), SECRET);
        assert_eq!(decoded(format, FERNET_NON_ASCII), NON_ASCII_SECRET);
        assert_eq!(decoded(format, FERNET_PADDED), "short");
        // No TTL: any timestamp is accepted, as by Notify.gov.
        assert_eq!(decoded(format, FERNET_FAR_FUTURE), SECRET);
    }

    #[test]
    fn fernet_refuses_wrong_keys_salts_and_tampering() {
        let format = gsa();
        let with_newline = format!("{}\n{}", &FERNET_RIGHT[..20], &FERNET_RIGHT[20..]);
        for stored in [
            FERNET_WRONG_KEY,
            FERNET_WRONG_SALT,
            FERNET_TAMPERED_CIPHERTEXT,
            FERNET_TAMPERED_HMAC,
            FERNET_TAMPERED_TIMESTAMP,
            FERNET_WRONG_VERSION,
            FERNET_TRUNCATED,
            // cryptography requires the '=' padding.
            FERNET_PADDED.trim_end_matches('='),
            // Python drops the '\n'; this module refuses it.
            with_newline.as_str(),
            SECRET,
            FERNET_ITSDANGEROUS,
            "",
            "gA==",
        ] {
            assert_eq!(
                format.decode(stored),
                Err(SecretFormatError::BadToken),
                "{stored:?}"
            );
        }
        for stored in [FERNET_NOT_JSON, FERNET_UNQUOTED_UUID] {
            assert!(
                matches!(format.decode(stored), Err(SecretFormatError::BadPayload(_))),
                "{stored:?}"
            );
        }
    }

    #[test]
    fn fernet_round_trips() {
        let format = gsa();
        for secret in [
            SECRET,
            NON_ASCII_SECRET,
            "x",
            "a\u{0}\u{7f}\u{2028}\u{1f511}",
        ] {
            let stored = format.encode(secret);
            assert!(stored.starts_with("gAAAAA"), "{stored}");
            assert_eq!(decoded(format, &stored), secret);
        }
        // 105 bytes for a UUID: 140 characters, no padding. A random IV each time.
        let (a, b) = (format.encode(SECRET), format.encode(SECRET));
        assert_eq!(a.len(), 140);
        assert_ne!(a, b);
        assert_eq!(
            format.decode(&format.encode("")),
            Err(SecretFormatError::EmptySecret)
        );
    }

    #[test]
    fn plain_is_the_value_itself() {
        let format = SecretFormat::default();
        assert_eq!(format.name(), "plain");
        assert_eq!(decoded(&format, SECRET), SECRET);
        assert_eq!(decoded(&format, ITS_NEWEST), ITS_NEWEST);
        assert_eq!(format.encode(SECRET), SECRET);
        assert_eq!(format.decode(""), Err(SecretFormatError::EmptySecret));
    }

    #[test]
    fn settings_are_checked() {
        assert_eq!(
            SecretFormat::itsdangerous(Vec::<String>::new(), SALT).unwrap_err(),
            SecretFormatError::NoSecretKey
        );
        assert_eq!(
            SecretFormat::itsdangerous([KEY_2023, ""], SALT).unwrap_err(),
            SecretFormatError::EmptySecretKey
        );
        // Salts shorter than 16 bytes are refused, as by Notify.gov (before any derivation).
        assert_eq!(
            SecretFormat::fernet(FERNET_KEY, "fifteen-bytes!!").unwrap_err(),
            SecretFormatError::SaltTooShort { len: 15 }
        );
        assert_eq!(
            SecretFormat::fernet(FERNET_KEY, "").unwrap_err(),
            SecretFormatError::SaltTooShort { len: 0 }
        );
        assert_eq!(
            SecretFormat::fernet("", FERNET_SALT).unwrap_err(),
            SecretFormatError::EmptySecretKey
        );
        // Any salt goes for itsdangerous, the empty one included.
        assert!(SecretFormat::itsdangerous([KEY_2024], "").is_ok());
        assert_eq!(gc().name(), "itsdangerous");
        assert_eq!(gsa().name(), "fernet");
    }

    #[test]
    fn nothing_secret_in_errors_or_debug() {
        let (gc, gsa) = (gc(), gsa());
        let mut texts = Vec::new();
        let mut needles: Vec<String> = [
            SECRET,
            NON_ASCII_SECRET,
            KEY_2023,
            KEY_2024,
            SALT,
            FERNET_KEY,
            FERNET_SALT,
            FERNET_DERIVED,
            "f58eb01b89119080113f85e7b82fd1298809d088",
            "d10f190f1fa4650b6efdeed8739609470f68190f",
        ]
        .map(str::to_owned)
        .to_vec();
        let its_values = [
            ITS_TAMPERED_PAYLOAD,
            ITS_WRONG_SALT,
            ITS_NOT_BASE64,
            ITS_NOT_JSON,
            ITS_BAD_ZLIB,
            ITS_INVALID_UTF8,
            ITS_NUMBER,
            ITS_JUNK,
            FERNET_RIGHT,
        ];
        let fernet_values = [
            FERNET_WRONG_KEY,
            FERNET_TAMPERED_HMAC,
            FERNET_NOT_JSON,
            FERNET_UNQUOTED_UUID,
            ITS_NEWEST,
        ];
        let mut errors = Vec::new();
        for stored in its_values {
            errors.push(gc.decode(stored).unwrap_err());
        }
        for stored in fernet_values {
            errors.push(gsa.decode(stored).unwrap_err());
        }
        for stored in its_values.into_iter().chain(fernet_values) {
            needles.push(stored.to_owned());
            needles.extend(
                stored
                    .split('.')
                    .filter(|part| part.len() >= 8)
                    .map(str::to_owned),
            );
        }
        errors.push(SecretFormat::fernet(FERNET_KEY, "short-salt").unwrap_err());
        errors.push(SecretFormat::itsdangerous([""], SALT).unwrap_err());
        errors.push(SecretFormat::plain().decode("").unwrap_err());
        for error in &errors {
            texts.push(error.to_string());
            texts.push(format!("{error:?}"));
        }
        texts.push(format!("{gc:?}"));
        texts.push(format!("{gsa:?}"));
        for text in &texts {
            for needle in &needles {
                assert!(!text.contains(needle.as_str()), "{text:?} shows {needle:?}");
            }
        }
        assert_eq!(
            format!("{gc:?}"),
            r#"SecretFormat { name: "itsdangerous", keys: 2 }"#
        );
        assert_eq!(
            format!("{gsa:?}"),
            r#"SecretFormat { name: "fernet", keys: 1 }"#
        );
        assert_eq!(
            format!("{:?}", SecretFormat::plain()),
            r#"SecretFormat { name: "plain", keys: 0 }"#
        );
    }

    #[test]
    fn json_strings_are_written_as_python_writes_them() {
        let text = "a\u{0}\u{1f}\u{7f}\u{2028}\u{e9}\u{1f511}\"\\\n\t\r\u{8}\u{c}/";
        // json.dumps(text, ensure_ascii=False, separators=(",", ":")) and json.dumps(text).
        assert_eq!(
            python_json_string(text, false).as_str(),
            "\"a\\u0000\\u001f\u{7f}\u{2028}\u{e9}\u{1f511}\\\"\\\\\\n\\t\\r\\b\\f/\""
        );
        assert_eq!(
            python_json_string(text, true).as_str(),
            "\"a\\u0000\\u001f\\u007f\\u2028\\u00e9\\ud83d\\udd11\\\"\\\\\\n\\t\\r\\b\\f/\""
        );
    }
}
