//! Connections for [`PostgresKeyStore`](super::PostgresKeyStore) and its invalidation listener:
//! the connection URL's `sslmode` and `sslrootcert` as libpq reads them, over rustls.
//!
//! tokio-postgres knows `sslmode=disable|prefer|require` only, refuses `verify-ca`,
//! `verify-full` and any `sslrootcert`, and leaves what is verified to the TLS connector. So the
//! two settings are taken out of the URL here, and the connector (tokio-postgres-rustls, with
//! rustls on `ring`) is built to verify what libpq would:
//!
//! | `sslmode` | TLS | certificate check |
//! |---|---|---|
//! | `disable` | never | — |
//! | `allow` | only if the server refuses a plain connection | as `require` |
//! | `prefer` (the default) | if the server offers it; a failed handshake falls back to plain | as `require` |
//! | `require` | always | none, or the chain when `sslrootcert` is given (libpq does the same) |
//! | `verify-ca` | always | the chain, to `sslrootcert`'s certificates (required) |
//! | `verify-full` | always | the chain and the host name, to `sslrootcert`, or to the well-known roots (Mozilla's, compiled in) without it |
//!
//! `sslrootcert=system` means the well-known roots, and as in libpq 16 it allows
//! `verify-full` only (and makes it the default). Where rustls is stricter than OpenSSL: host
//! names are matched against the certificate's subject alternative names only (never its common
//! name), and a CA certificate cannot serve as the server's own.
//!
//! (Read from tokio-postgres 0.7's `connect_tls.rs` and libpq's `fe-connect.c` and
//! `fe-secure-openssl.c`.)

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::task::JoinHandle;
use tokio_postgres::config::SslMode as WireMode;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, Connection, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::KeyStoreError;

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = KeyStoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => {
                return Err(KeyStoreError::new(format!(
                    "PostgreSQL: invalid sslmode {s:?} (expected disable, allow, prefer, \
                     require, verify-ca or verify-full)"
                )));
            }
        })
    }
}

/// The stream type of every connection, TLS or not.
type Stream = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream;

/// How to open a connection: the settings tokio-postgres reads, the `sslmode`, and the TLS
/// connector that checks what the `sslmode` asks.
#[derive(Clone)]
pub(crate) struct Connector {
    config: tokio_postgres::Config,
    mode: SslMode,
    tls: MakeRustlsConnect,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("sslmode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Reads `sslmode` and `sslrootcert` out of `url` (a `postgres://` URL or a `key=value`
    /// connection string); `configure` reads the rest. The root certificates are read now.
    pub(crate) fn new(
        url: &str,
        configure: impl FnOnce(&str) -> Result<tokio_postgres::Config, KeyStoreError>,
    ) -> Result<Connector, KeyStoreError> {
        let (rest, params) = take_tls_params(url)?;
        let root_cert = params.root_cert.as_deref();
        let mode = match (params.mode.as_deref(), root_cert) {
            (Some(mode), _) => mode.parse()?,
            (None, Some("system")) => SslMode::VerifyFull,
            (None, _) => SslMode::Prefer,
        };
        let roots = match root_cert {
            Some("system") if mode != SslMode::VerifyFull => {
                return Err(KeyStoreError::new(format!(
                    "PostgreSQL: sslrootcert=system needs sslmode=verify-full (not {})",
                    params.mode.as_deref().unwrap_or("prefer")
                )));
            }
            Some("system") => Some(well_known_roots()),
            Some(path) => Some(roots_from_pem(path)?),
            None if mode == SslMode::VerifyFull => Some(well_known_roots()),
            None if mode == SslMode::VerifyCa => {
                return Err(KeyStoreError::new(
                    "PostgreSQL: sslmode=verify-ca needs sslrootcert (the certificates the \
                     server's chain must lead to); with the well-known roots, use verify-full",
                ));
            }
            None => None,
        };
        let mut config = configure(&rest)?;
        config.ssl_mode(match mode {
            SslMode::Disable | SslMode::Allow => WireMode::Disable,
            SslMode::Prefer => WireMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => WireMode::Require,
        });
        Ok(Connector {
            config,
            mode,
            tls: MakeRustlsConnect::new(client_config(mode, roots)?),
        })
    }

    /// The settings tokio-postgres reads (`sslmode` as it understands it).
    pub(crate) fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// Opens a connection as libpq would for the `sslmode`: `prefer` retries once without TLS
    /// when the TLS attempt fails, `allow` retries once with TLS when the plain one is refused.
    pub(crate) async fn connect(
        &self,
    ) -> Result<(Client, Connection<Socket, Stream>), tokio_postgres::Error> {
        let first = self.config.connect(self.tls.clone()).await;
        let retry = match (self.mode, &first) {
            (SslMode::Prefer, Err(_)) => WireMode::Disable,
            (SslMode::Allow, Err(e)) if e.as_db_error().is_some() => WireMode::Require,
            _ => return first,
        };
        let mut config = self.config.clone();
        config.ssl_mode(retry);
        config.connect(self.tls.clone()).await
    }
}

/// The pool's way of opening connections (deadpool's own would know only tokio-postgres's
/// three modes).
impl deadpool_postgres::Connect for Connector {
    fn connect(
        &self,
        _: &tokio_postgres::Config,
    ) -> Pin<
        Box<
            dyn Future<Output = Result<(Client, JoinHandle<()>), tokio_postgres::Error>>
                + Send
                + '_,
        >,
    > {
        Box::pin(async move {
            let (client, connection) = Connector::connect(self).await?;
            let task = tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!("notify-auth PostgreSQL connection: {e}");
                }
            });
            Ok((client, task))
        })
    }
}

/// `sslmode` and `sslrootcert`, as given.
#[derive(Default)]
struct TlsParams {
    mode: Option<String>,
    root_cert: Option<String>,
}

impl TlsParams {
    /// Keeps the value if `key` is one of the two; false if it is another setting.
    fn take(&mut self, key: &str, value: String) -> bool {
        match key {
            "sslmode" => self.mode = Some(value),
            "sslrootcert" => self.root_cert = Some(value),
            _ => return false,
        }
        true
    }
}

/// Splits `url` into the URL without `sslmode` and `sslrootcert`, and those two.
fn take_tls_params(url: &str) -> Result<(String, TlsParams), KeyStoreError> {
    let mut params = TlsParams::default();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        // The query starts at the first `?` after the credentials, which end at the first `@`
        // (tokio-postgres reads them so; an `@` in a password must be percent-encoded).
        let authority = url.find('@').unwrap_or(0);
        let Some(query_at) = url[authority..].find('?').map(|i| authority + i) else {
            return Ok((url.to_owned(), params));
        };
        let mut kept = Vec::new();
        for pair in url[query_at + 1..].split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .map(|s| s.into_owned())
                    .map_err(|_| KeyStoreError::new("PostgreSQL: the URL is not valid UTF-8"))
            };
            if !params.take(&decode(key)?, decode(value)?) {
                kept.push(pair);
            }
        }
        let base = &url[..query_at];
        let rest = match kept.is_empty() {
            true => base.to_owned(),
            false => format!("{base}?{}", kept.join("&")),
        };
        return Ok((rest, params));
    }
    let mut kept = String::new();
    for (key, value) in key_value_pairs(url)? {
        if !params.take(&key, value.clone()) {
            let quoted = value.replace('\\', "\\\\").replace('\'', "\\'");
            kept.push_str(&format!("{key}='{quoted}' "));
        }
    }
    Ok((kept.trim_end().to_owned(), params))
}

/// The pairs of a `key=value` connection string, as libpq and tokio-postgres read them:
/// separated by white space, spaces allowed around `=`, a value bare or in single quotes, and
/// `\` escaping the next character in either.
fn key_value_pairs(s: &str) -> Result<Vec<(String, String)>, KeyStoreError> {
    let invalid = || KeyStoreError::new("PostgreSQL: invalid connection string");
    let mut chars = s.chars().peekable();
    let mut pairs = Vec::new();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(invalid());
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        let quoted = chars.next_if_eq(&'\'').is_some();
        loop {
            match chars.next() {
                Some('\\') => value.push(chars.next().ok_or_else(invalid)?),
                Some('\'') if quoted => break,
                Some(c) if !quoted && c.is_whitespace() => break,
                Some(c) => value.push(c),
                None if quoted => return Err(invalid()),
                None => break,
            }
        }
        pairs.push((key, value));
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Mozilla's roots, as the webpki-roots crate compiles them in.
fn well_known_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// The certificates of a PEM file (libpq reads PEM only).
fn roots_from_pem(path: &str) -> Result<RootCertStore, KeyStoreError> {
    let fail = |what: &dyn fmt::Display| {
        KeyStoreError::new(format!("PostgreSQL: sslrootcert {path}: {what}"))
    };
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| fail(&e))? {
        store
            .add(cert.map_err(|e| fail(&e))?)
            .map_err(|e| fail(&e))?;
    }
    if store.is_empty() {
        return Err(fail(&"no certificate in the file"));
    }
    Ok(store)
}

/// The rustls settings for `mode`: TLS 1.2 and 1.3, and the check the mode asks for.
fn client_config(
    mode: SslMode,
    roots: Option<RootCertStore>,
) -> Result<ClientConfig, KeyStoreError> {
    let provider = provider();
    let fail = |e: &dyn fmt::Display| KeyStoreError::new(format!("PostgreSQL: TLS settings: {e}"));
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(&e))?;
    Ok(match (mode, roots) {
        (SslMode::VerifyFull, Some(roots)) => {
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        (_, roots) => {
            let chain = match roots {
                Some(roots) => Some(
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| fail(&e))?,
                ),
                None => None,
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Lenient { chain, provider }))
                .with_no_client_auth()
        }
    })
}

/// What every mode but `verify-full` checks: the chain, when there are roots (`verify-ca`, and
/// the others with `sslrootcert`), without the name (rustls's verifier checks the chain before
/// the name, so a name error means the chain was good); nothing otherwise, as libpq. The
/// handshake's signatures are checked always, so the server holds the key of the certificate
/// it sent (which channel binding relies on).
#[derive(Debug)]
struct Lenient {
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(url: &str) -> (String, Option<String>, Option<String>) {
        let (rest, params) = take_tls_params(url).unwrap();
        (rest, params.mode, params.root_cert)
    }

    #[test]
    fn tls_settings_are_taken_out_of_urls() {
        assert_eq!(
            split(
                "postgres://u:p%3F@h:5432/db?sslmode=verify-full&application_name=x&sslrootcert=%2Ftmp%2Fca.crt"
            ),
            (
                "postgres://u:p%3F@h:5432/db?application_name=x".to_owned(),
                Some("verify-full".to_owned()),
                Some("/tmp/ca.crt".to_owned())
            )
        );
        assert_eq!(
            split("postgresql://h/db?sslmode=require"),
            (
                "postgresql://h/db".to_owned(),
                Some("require".to_owned()),
                None
            )
        );
        assert_eq!(
            split("postgres://h/db"),
            ("postgres://h/db".to_owned(), None, None)
        );
        // A `?` in a password is not the query, and an `@` in the query is not the end of
        // the credentials.
        assert_eq!(
            split("postgres://u:a?b@h/db").0,
            "postgres://u:a?b@h/db".to_owned()
        );
        assert_eq!(
            split("postgres://u@h/db?sslmode=require&application_name=a@b"),
            (
                "postgres://u@h/db?application_name=a@b".to_owned(),
                Some("require".to_owned()),
                None
            )
        );
    }

    #[test]
    fn tls_settings_are_taken_out_of_connection_strings() {
        assert_eq!(
            split(
                "host=h  user = u sslmode=require sslrootcert='/my dir/ca.crt' password='it\\'s'"
            ),
            (
                "host='h' user='u' password='it\\'s'".to_owned(),
                Some("require".to_owned()),
                Some("/my dir/ca.crt".to_owned())
            )
        );
        assert!(take_tls_params("host=h password='open").is_err());
        assert!(take_tls_params("host").is_err());
        // What is left reads as before.
        let (rest, _) = take_tls_params("host=h user=u password='a b' sslmode=disable").unwrap();
        let config = tokio_postgres::Config::from_str(&rest).unwrap();
        assert_eq!(config.get_password(), Some(&b"a b"[..]));
    }

    #[test]
    fn modes_and_root_certificates_as_libpq_allows_them() {
        let plain = |url: &str| {
            Connector::new(url, |rest| {
                tokio_postgres::Config::from_str(rest).map_err(KeyStoreError::new)
            })
        };
        assert_eq!(plain("postgres://h/db").unwrap().mode, SslMode::Prefer);
        assert_eq!(
            plain("postgres://h/db?sslrootcert=system").unwrap().mode,
            SslMode::VerifyFull
        );
        assert_eq!(
            plain("postgres://h/db?sslmode=verify-full")
                .unwrap()
                .config
                .get_ssl_mode(),
            WireMode::Require
        );
        assert_eq!(
            plain("postgres://h/db?sslmode=allow")
                .unwrap()
                .config
                .get_ssl_mode(),
            WireMode::Disable
        );
        let error = |url: &str| plain(url).unwrap_err().to_string();
        assert!(error("postgres://h/db?sslmode=verify-ca").contains("needs sslrootcert"));
        assert!(
            error("postgres://h/db?sslmode=require&sslrootcert=system").contains("verify-full")
        );
        assert!(error("postgres://h/db?sslmode=sometimes").contains("invalid sslmode"));
        assert!(
            error("postgres://h/db?sslmode=verify-ca&sslrootcert=/nonexistent/ca.crt")
                .contains("sslrootcert /nonexistent/ca.crt")
        );
    }
}
