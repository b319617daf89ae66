//! Routes that take both a service's credential and the internal client's token:
//! [`ServiceOrInternal`].

use http::{Extensions, Request};

use super::internal::{Internal, InternalCaller};
use super::log::record_on_span;
use super::private::Now;
use super::public::{Authenticated, Continue, Found, Public, decide_now};
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

    type Granted = Granted;
    type Body = B;
    type Pending = Continue;

    fn authorize_now(&self, request: &Request<B>, now: i64) -> Now<Granted, Continue> {
        if let Some(why) = self.public.passes_unauthenticated(request) {
            return Now::Unauthenticated(why);
        }
        let authorization = authorization(request.headers());
        let (internal, dialect) = (&self.internal, self.public.dialect);
        let presented =
            Presented::parse(&authorization, dialect, internal.client.id(), internal.role);
        let parsed = match presented {
            Ok(Presented::Internal(token)) => {
                let judged = internal.judge(&token, now);
                return Now::Decided(judged.map(Granted::Internal));
            }
            Ok(Presented::Service(credential)) => Ok(credential),
            Err(e) => Err(e),
        };
        decide_now(parsed, &self.public, now, |authorized, service| {
            Ok(Granted::Service(Authenticated::of(&authorized, service)))
        })
    }

    async fn authorize_after(
        &self,
        request: Request<B>,
        now: i64,
        pending: Continue,
    ) -> Result<(Request<B>, Granted), Rejection> {
        let mut found = Found::default();
        let (authorized, service) = self
            .public
            .authorize_pending(pending, now, &mut found)
            .await?;
        let granted = Authenticated::of(&authorized, &service);
        Ok((request, Granted::Service(granted)))
    }

    fn log_success<Head>(&self, granted: &Granted, request: &Request<Head>, now: i64) {
        match granted {
            Granted::Service(granted) => self.public.succeeded(&granted.principal, request, now),
            Granted::Internal(caller) => Internal::log_success(caller, request),
        }
    }

    fn counted(granted: &Granted) -> Option<crate::KeyType> {
        match granted {
            Granted::Service(granted) => {
                record_on_span(&granted.principal);
                Some(granted.principal.key_type)
            }
            Granted::Internal(_) => None,
        }
    }

    fn extend(granted: Granted, extensions: &mut Extensions) {
        let caller = match granted {
            Granted::Service(granted) => {
                let caller = Caller::Service(granted.principal);
                granted.extend(extensions);
                caller
            }
            Granted::Internal(caller) => {
                extensions.insert(caller.clone());
                Caller::Internal(caller)
            }
        };
        extensions.insert(caller);
    }

    fn pass_on(request: Request<B>) -> Request<B> {
        request
    }
}

/// What a route taking both grants: a service (its principal and record), or the internal
/// client.
#[derive(Clone, Debug)]
pub enum Granted {
    /// A service, by one of its keys.
    Service(Authenticated),
    /// The internal client.
    Internal(InternalCaller),
}
