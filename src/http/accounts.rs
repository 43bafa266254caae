//! `/api/v1/users`, `/api/v1/sessions`, `/api/v1/me`.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::identity::{request_token, AuthUser, SESSION_COOKIE};
use super::{ApiError, ApiResult, AppState};
use crate::store::{Role, User};

/// A username and password: registering, logging in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// 3–32 characters of `A-Z a-z 0-9 _ . -`, unique without regard to case.
    pub username: String,
    /// 8–1,024 characters; not the username, not only spaces, not a common password.
    pub password: String,
}

/// A user, as every answer that carries one shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = User)]
pub struct UserView {
    #[schema(format = Uuid)]
    pub id: String,
    pub username: String,
    #[schema(value_type = RoleName)]
    pub role: &'static str,
    pub banned: bool,
}

/// A role: `bidder` (every account made through the API) or `admin`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleName {
    Bidder,
    Admin,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            username: user.username.clone(),
            role: user.role.as_str(),
            banned: user.banned,
        }
    }
}

/// The answer to logging in: the session token and the user.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionAnswer {
    /// The session token (43 URL-safe characters), for `Authorization: Bearer`.
    pub token: String,
    pub user: UserView,
}

/// The public view of a user, as JSON.
pub fn user_json(user: &User) -> serde_json::Value {
    serde_json::to_value(UserView::from(user)).unwrap_or_default()
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
    Ok(HttpResponse::Created().json(UserView::from(&user)))
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
        .json(SessionAnswer {
            user: UserView::from(&user),
            token,
        }))
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
    HttpResponse::Ok().json(UserView::from(&user.0))
}
