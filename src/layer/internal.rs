//! Internal routes: [`Internal`] (one client id and its secrets, Notify's admin routes).

use std::convert::Infallible;
use std::sync::Arc;

use http::{HeaderMap, Request};

use super::log::original_path;
use super::private::Now;
use super::{AUTHORISED_TARGET, Rejection, Scheme, authorization};
use crate::core::InternalToken;
use crate::dialect::Dialect;
use crate::error::InternalRole;
use crate::model::InternalClient;

/// Internal routes: the token's `iss` must be one client id, signed with one of its secrets.
#[derive(Clone, Debug)]
pub struct Internal {
    pub(super) client: Arc<InternalClient>,
    pub(super) caller: InternalCaller,
    pub(super) dialect: Dialect,
    pub(super) role: InternalRole,
}

impl Internal {
    /// The scheme for `client`, in GOV.UK Notify's words.
    pub(super) fn new(client: InternalClient) -> Self {
        Internal {
            caller: InternalCaller::new(client.id()),
            client: Arc::new(client),
            dialect: Dialect::Uk,
            role: InternalRole::Admin,
        }
    }

    fn decide(&self, headers: &HeaderMap, now: i64) -> Result<InternalCaller, Rejection> {
        let authorization = authorization(headers);
        let (id, dialect, role) = (self.client.id(), self.dialect, self.role);
        let token = InternalToken::parse_in(&authorization, id, dialect, role)?;
        self.judge(&token, now)
    }

    /// The key loop over the client's secrets for a token whose `iss` is its id.
    pub(super) fn judge(
        &self,
        token: &InternalToken<'_>,
        now: i64,
    ) -> Result<InternalCaller, Rejection> {
        token.authorize(self.client.secrets(), now)?;
        Ok(self.caller.clone())
    }

    /// The success line of an internal client.
    pub(super) fn log_success<Head>(caller: &InternalCaller, request: &Request<Head>) {
        tracing::info!(
            target: AUTHORISED_TARGET,
            client_id = caller.client_id(),
            path = original_path(request),
            "internal client authorised"
        );
    }
}

/// The internal client a request to an internal route was authenticated as.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InternalCaller {
    client_id: Arc<str>,
}

impl InternalCaller {
    pub(crate) fn new(client_id: &str) -> Self {
        InternalCaller {
            client_id: Arc::from(client_id),
        }
    }

    /// The client id (the token's `iss`).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
}

impl<B: Send + 'static> Scheme<B> for Internal {
    const ROUTE: &'static str = "internal";

    type Granted = InternalCaller;
    type Body = B;
    /// Nothing to wait for: the client's secrets are in the layer, so every request is
    /// decided in `call`.
    type Pending = Infallible;

    fn authorize_now(&self, request: &Request<B>, now: i64) -> Now<InternalCaller, Infallible> {
        Now::Decided(self.decide(request.headers(), now))
    }

    async fn authorize_after(
        &self,
        _: Request<B>,
        _: i64,
        pending: Infallible,
    ) -> Result<(Request<B>, InternalCaller), Rejection> {
        match pending {}
    }

    fn pass_on(request: Request<B>) -> Request<B> {
        request
    }

    fn counted(_: &InternalCaller) -> Option<crate::KeyType> {
        None
    }

    fn log_success<Head>(&self, caller: &InternalCaller, request: &Request<Head>, _: i64) {
        Internal::log_success(caller, request);
    }
}
