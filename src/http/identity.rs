//! Who is asking: the session token from `Authorization: Bearer …` or the
//! session cookie, resolved to a user. Cookie-authenticated requests that
//! change something must not come from a foreign `Origin` (a CSRF guard on
//! top of SameSite=Lax).

use std::future::Future;
use std::pin::Pin;

use actix_web::http::Method;
use actix_web::{web, FromRequest, HttpRequest};

use super::{ApiError, AppState};
use crate::store::User;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "gavel_session";

/// Where the token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    Bearer,
    Cookie,
}

/// The token of a request, if any.
pub fn request_token(req: &HttpRequest) -> Option<(String, TokenSource)> {
    if let Some(header) = req.headers().get(actix_web::http::header::AUTHORIZATION) {
        let value = header.to_str().ok()?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))?;
        return Some((token.trim().to_owned(), TokenSource::Bearer));
    }
    req.cookie(SESSION_COOKIE)
        .map(|cookie| (cookie.value().to_owned(), TokenSource::Cookie))
}

/// Resolves the request's user (None when anonymous or the token is dead).
pub async fn resolve_user(req: &HttpRequest) -> Result<Option<User>, ApiError> {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Err(ApiError::internal(&std::io::Error::other(
            "app state missing",
        )));
    };
    let Some((token, source)) = request_token(req) else {
        return Ok(None);
    };
    let changes_something = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if source == TokenSource::Cookie && changes_something {
        if let Some(origin) = req.headers().get(actix_web::http::header::ORIGIN) {
            let allowed = origin.to_str().is_ok_and(|o| state.origin_allowed(o));
            if !allowed {
                let seen = String::from_utf8_lossy(origin.as_bytes());
                return Err(ApiError::forbidden(state.refuse_origin(
                    req,
                    &seen,
                    "a cross-origin request with the session cookie",
                )));
            }
        }
    }
    Ok(state.accounts.user_for_token(&token).await?)
}

/// The user, if the request is authenticated.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<User>);

/// An authenticated user (else 401 `unauthenticated`).
#[derive(Debug, Clone)]
pub struct AuthUser(pub User);

/// An authenticated admin (else 401, or 403 `forbidden`).
#[derive(Debug, Clone)]
pub struct AdminUser(pub User);

type Extracting<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

impl FromRequest for MaybeUser {
    type Error = ApiError;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(MaybeUser(resolve_user(&req).await?)) })
    }
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            resolve_user(&req)
                .await?
                .map(AuthUser)
                .ok_or_else(ApiError::unauthenticated)
        })
    }
}

impl FromRequest for AdminUser {
    type Error = ApiError;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let user = resolve_user(&req)
                .await?
                .ok_or_else(ApiError::unauthenticated)?;
            if user.is_admin() {
                Ok(AdminUser(user))
            } else {
                Err(ApiError::forbidden("this needs an admin"))
            }
        })
    }
}
