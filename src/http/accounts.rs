//! `/api/v1/users`, `/api/v1/sessions`, `/api/v1/me`.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::identity::{request_token, AuthUser, SESSION_COOKIE};
use super::{ApiError, ApiResult, AppState};
use crate::store::{Role, User};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// The public view of a user.
pub fn user_json(user: &User) -> serde_json::Value {
    json!({
        "id": user.id.to_string(),
        "username": user.username,
        "role": user.role.as_str(),
        "banned": user.banned,
    })
}

/// `POST /api/v1/users`: register a bidder.
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<Credentials>,
) -> ApiResult<HttpResponse> {
    state.check_registration_rate(&req)?;
    let user = state
        .accounts
        .register(&body.username, &body.password, Role::Bidder)
        .await?;
    tracing::info!(user.id = %user.id, "user registered");
    Ok(HttpResponse::Created().json(user_json(&user)))
}

/// The session cookie for `token`.
pub fn session_cookie(token: &str, secure: bool) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token.to_owned())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(CookieDuration::days(14))
        .finish()
}

/// A cookie that removes the session cookie.
pub fn expired_session_cookie(secure: bool) -> Cookie<'static> {
    let mut cookie = session_cookie("", secure);
    cookie.make_removal();
    cookie
}

/// `POST /api/v1/sessions`: log in.
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<Credentials>,
) -> ApiResult<HttpResponse> {
    state.check_login_rate(&req, &body.username)?;
    let (token, user) = state.accounts.login(&body.username, &body.password).await?;
    Ok(HttpResponse::Ok()
        .cookie(session_cookie(&token, state.secure_cookies))
        .json(json!({ "token": token, "user": user_json(&user) })))
}

/// `DELETE /api/v1/sessions`: log out; the token stops working.
pub async fn logout(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    let Some((token, _)) = request_token(&req) else {
        return Err(ApiError::unauthenticated());
    };
    state.end_session(&token).await?;
    Ok(HttpResponse::NoContent()
        .cookie(expired_session_cookie(state.secure_cookies))
        .finish())
}

/// `GET /api/v1/me`.
pub async fn me(user: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(user_json(&user.0))
}
