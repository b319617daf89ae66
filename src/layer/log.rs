//! What the layer logs: Notify's success lines, the rejection lines, and the principal on
//! the request's span.

use std::fmt;

use http::{Request, header};
use uuid::Uuid;

use super::Rejection;
use crate::dialect::Dialect;
use crate::error::{ErrorKind, InvalidReason};
use crate::model::Principal;

/// The `tracing` target of the success lines (Notify's "API authorised for service …", at
/// info).
pub const AUTHORISED_TARGET: &str = "notify_auth::authorised";

/// The `tracing` target of the lines that say why a request was rejected (at info; key store
/// failures are errors under the layer's own module). Under a flood of rejected tokens each
/// costs a line: `RUST_LOG=info,notify_auth::rejected=warn` keeps Notify's success lines and
/// drops these.
pub const REJECTED_TARGET: &str = "notify_auth::rejected";

/// The path the client sent, which `req` signs: axum's `OriginalUri` when the request went
/// through an axum router (under `Router::nest` the inner router sees the path without its
/// prefix), else the request's own.
pub(super) fn original_path<B>(request: &Request<B>) -> &str {
    #[cfg(feature = "axum")]
    if let Some(original) = request.extensions().get::<axum::extract::OriginalUri>() {
        return original.0.path();
    }
    request.uri().path()
}

/// Records the principal on the request's span (the current one: a tracing layer outside
/// this one, such as tower-http's `TraceLayer`, enters its span around `call` and the
/// response future), where the span declares the fields `service_id`, `api_key_id` and
/// `key_type` (as `tracing::field::Empty`): the handler's own events and exported traces
/// then carry them.
pub(super) fn record_on_span(p: &Principal) {
    let span = tracing::Span::current();
    if span.is_disabled() {
        return;
    }
    span.record("service_id", tracing::field::display(p.service_id));
    span.record("api_key_id", tracing::field::display(p.api_key_id));
    span.record("key_type", p.key_type.as_str());
}

/// Notify's success line: `API authorised for service <id> with api key <id>, using issuer
/// <User-Agent> for URL: <url>`, the URL as Flask's `request.base_url` gives it (scheme, host
/// and path, no query string) and `None` for a missing User-Agent, as Python writes it. The
/// ids are encoded once, for the message and the fields alike.
pub(super) fn log_public_success<B>(p: &Principal, request: &Request<B>, dialect: Dialect) {
    // Nothing to prepare when nobody listens (the load test's servers log at warn).
    if !tracing::enabled!(target: AUTHORISED_TARGET, tracing::Level::INFO) {
        return;
    }
    let (mut service_buf, mut key_buf) = (Uuid::encode_buffer(), Uuid::encode_buffer());
    let service_id = &*p.service_id.hyphenated().encode_lower(&mut service_buf);
    let api_key_id = &*p.api_key_id.hyphenated().encode_lower(&mut key_buf);
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()));
    let user_agent = user_agent.as_deref().unwrap_or("None");
    let url = BaseUrl(request);
    let message = SuccessMessage {
        dialect,
        service_id,
        api_key_id,
        user_agent,
        url: &url,
    };
    tracing::info!(
        target: AUTHORISED_TARGET,
        service_id = %service_id,
        api_key_id = %api_key_id,
        key_type = %p.key_type,
        user_agent,
        url = %url,
        "{message}",
    );
}

/// The success line's message, in the dialect's words (written only if the line is).
struct SuccessMessage<'a, B> {
    dialect: Dialect,
    service_id: &'a str,
    api_key_id: &'a str,
    user_agent: &'a str,
    url: &'a BaseUrl<'a, B>,
}

impl<B> fmt::Display for SuccessMessage<'_, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (service_id, api_key_id) = (self.service_id, self.api_key_id);
        let user_agent = self.user_agent;
        match self.dialect {
            Dialect::Uk | Dialect::Gov => write!(
                f,
                "API authorised for service {service_id} with api key {api_key_id}, using \
                 issuer {user_agent} for URL: {}",
                self.url
            ),
            // GC and VA Notify name the client, not the URL (VA also the service's name).
            Dialect::Gc | Dialect::Va => write!(
                f,
                "API authorised for service {service_id} with api key {api_key_id}, using \
                 client {user_agent}"
            ),
        }
    }
}

/// A request's URL without its query string, as Flask's `request.base_url`: scheme (that of
/// the request's URI, else `http`), host (the URI's authority, else the `Host` header) and
/// the path the client sent (under axum's nested routers too); the path alone when neither
/// names a host.
struct BaseUrl<'a, B>(&'a Request<B>);

impl<B> fmt::Display for BaseUrl<'_, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let uri = self.0.uri();
        let host = uri.authority().map(|a| a.as_str()).or_else(|| {
            self.0
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
        });
        match host {
            Some(host) => write!(
                f,
                "{}://{host}{}",
                uri.scheme_str().unwrap_or("http"),
                original_path(self.0)
            ),
            None => f.write_str(original_path(self.0)),
        }
    }
}

/// The line of a rejected request; for the clock rejection, with the token's `iat`, the
/// server's time (`now`, when the request arrived) and the difference, as Notify logs it (in
/// GC Notify's dialect, in GC's words, naming the client).
pub(super) fn log_rejection(
    rejection: &Rejection,
    now: i64,
    user_agent: Option<&http::HeaderValue>,
) {
    match rejection {
        Rejection::Auth(e) if e.dialect() == Dialect::Gc && e.kind() == ErrorKind::Clock => {
            if !tracing::enabled!(target: REJECTED_TARGET, tracing::Level::INFO) {
                return;
            }
            let client = user_agent.map(|v| String::from_utf8_lossy(v.as_bytes()));
            let client = client.as_deref().unwrap_or("None");
            let service_id = e.service_id().map(tracing::field::display);
            let iat = e.token_iat().unwrap_or_default();
            tracing::info!(
                target: REJECTED_TARGET,
                status = e.status().as_u16(),
                kind = e.kind().as_str(),
                service_id,
                api_key_id = e.api_key_id().map(tracing::field::display),
                token_iat = iat,
                local_unix_time = now,
                skew_seconds = iat.saturating_sub(now),
                user_agent = client,
                "Rejected expired JWT for service {}, client {client}: iat value was {iat} \
                 while server clock is {now}",
                e.service_id().map(|id| id.to_string()).unwrap_or_default()
            )
        }
        Rejection::Auth(e) => tracing::info!(
            target: REJECTED_TARGET,
            status = e.status().as_u16(),
            kind = e.kind().as_str(),
            reason = e.kind().reason().map(InvalidReason::as_str),
            service_id = e.service_id().map(tracing::field::display),
            api_key_id = e.api_key_id().map(tracing::field::display),
            token_iat = e.token_iat(),
            local_unix_time = e.token_iat().map(|_| now),
            skew_seconds = e.token_iat().map(|iat| iat.saturating_sub(now)),
            "API request rejected: {}",
            e.message()
        ),
        Rejection::KeyStore(e) => {
            tracing::error!(error = %e, "API request failed: the key store could not answer")
        }
        Rejection::KeyStoreTimeout(after) => tracing::error!(
            timeout_ms = after.as_millis(),
            "API request failed: the key store did not answer in time"
        ),
        Rejection::PayloadTooLarge(limit) => {
            tracing::info!(target: REJECTED_TARGET, limit, "API request rejected: body over the size limit")
        }
        Rejection::UnreadableBody => {
            tracing::info!(target: REJECTED_TARGET, "API request rejected: unreadable body")
        }
    }
}
