//! Routes that take both a service's credential and the internal client's token:
//! [`ServiceOrInternal`].

use http::{Extensions, Request};

use super::internal::{Internal, InternalCaller};
use super::log::record_on_span;
use super::private::Now;
use super::public::{Continue, Found, Public, decide_now};
use super::{Rejection, Scheme, authorization};
use crate::core::Presented;
use crate::model::Principal;

/// Who a request to a route that takes both service credentials and an internal client was
/// authenticated as. The layer puts it in the request's extensions, with the [`Principal`] or
/// the [`InternalCaller`] it holds, so handlers take whichever they need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A service, by one of its API keys.
    Service(Principal),
    /// The internal client.
    Internal(InternalCaller),
}

/// Routes that take a service's credential or the internal client's token: a token whose
/// `iss` is exactly the client's id is judged as [`Internal`] judges it, anything else as
/// [`Public`] does, after one parse of the header. Made by
/// [`AuthLayer::or_internal`](super::AuthLayer::or_internal).
#[derive(Clone, Debug)]
pub struct ServiceOrInternal {
    pub(super) public: Public,
    pub(super) internal: Internal,
}

impl<B: Send + 'static> Scheme<B> for ServiceOrInternal {
    /// Rejections are counted as the public route's: a token is the internal client's only
    /// once its `iss` is read.
    const ROUTE: &'static str = "public";

    type Granted = Caller;
    type Body = B;
    type Pending = Continue;

    fn authorize_now(&self, request: &Request<B>, now: i64) -> Now<Caller, Continue> {
        if let Some(why) = self.public.passes_unauthenticated(request) {
            return Now::Unauthenticated(why);
        }
        let authorization = authorization(request.headers());
        let (internal, dialect) = (&self.internal, self.public.dialect);
        let presented =
            Presented::parse(&authorization, dialect, internal.client.id(), internal.role);
        let parsed = match presented {
            Ok(Presented::Internal(token)) => {
                return Now::Decided(internal.judge(&token, now).map(Caller::Internal));
            }
            Ok(Presented::Service(credential)) => Ok(credential),
            Err(e) => Err(e),
        };
        decide_now(parsed, &self.public, now, |authorized| {
            Ok(Caller::Service(authorized.principal()))
        })
    }

    async fn authorize_after(
        &self,
        request: Request<B>,
        now: i64,
        pending: Continue,
    ) -> Result<(Request<B>, Caller), Rejection> {
        let mut found = Found::default();
        let authorized = self
            .public
            .authorize_pending(pending, now, &mut found)
            .await?;
        Ok((request, Caller::Service(authorized.principal())))
    }

    fn log_success<Head>(&self, caller: &Caller, request: &Request<Head>, now: i64) {
        match caller {
            Caller::Service(p) => self.public.succeeded(p, request, now),
            Caller::Internal(caller) => Internal::log_success(caller, request),
        }
    }

    fn counted(caller: &Caller) -> (&'static str, &'static str) {
        match caller {
            Caller::Service(p) => {
                record_on_span(p);
                ("public", p.key_type.as_str())
            }
            Caller::Internal(_) => ("internal", "internal"),
        }
    }

    fn extend(caller: Caller, extensions: &mut Extensions) {
        match &caller {
            Caller::Service(p) => extensions.insert(*p).map(drop),
            Caller::Internal(c) => extensions.insert(c.clone()).map(drop),
        };
        extensions.insert(caller);
    }

    fn pass_on(request: Request<B>) -> Request<B> {
        request
    }
}
