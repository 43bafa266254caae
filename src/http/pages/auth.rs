//! `/register`, `/login`, `/logout`: accounts through forms. A successful
//! registration or login sets the same session cookie as the JSON API
//! (HttpOnly, SameSite=Lax, Secure under https) and redirects to `next`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::context::PageCtx;
use super::errors::PageError;
use super::render::{safe_next, Flash, Layout, Section};
use crate::auth::AccountError;
use crate::http::accounts::{expired_session_cookie, session_cookie};
use crate::http::identity::request_token;
use crate::store::Role;

#[derive(Debug, Default, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AccountForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    layout: Layout,
    next: String,
    username: String,
    username_error: Option<String>,
    password_error: Option<String>,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    next: String,
    username: String,
    error: Option<String>,
}

/// `GET /register`
pub async fn register_form(
    ctx: PageCtx,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, PageError> {
    let next = safe_next(query.next.as_deref());
    if ctx.user.is_some() {
        return Ok(ctx.redirect(&next, None));
    }
    ctx.page(&RegisterPage {
        layout: ctx.layout("Create an account", Section::Account),
        next,
        username: String::new(),
        username_error: None,
        password_error: None,
    })
}

/// `POST /register`: creates a bidder and signs them in.
pub async fn register(
    ctx: PageCtx,
    req: HttpRequest,
    form: web::Form<AccountForm>,
) -> Result<HttpResponse, PageError> {
    ctx.check_csrf(&form.csrf)?;
    ctx.state.check_auth_rate(&req)?;
    let next = safe_next(Some(&form.next));
    let username = form.username.trim().to_owned();
    let refused = |username_error: Option<String>, password_error: Option<String>| {
        ctx.page_with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &RegisterPage {
                layout: ctx.layout("Create an account", Section::Account),
                next: next.clone(),
                username: username.clone(),
                username_error,
                password_error,
            },
        )
    };
    let accounts = &ctx.state.accounts;
    match accounts
        .register(&username, &form.password, Role::Bidder)
        .await
    {
        Ok(user) => tracing::info!(user.id = %user.id, "user registered through the page"),
        Err(error @ (AccountError::InvalidUsername | AccountError::UsernameTaken)) => {
            return refused(Some(username_message(&error)), None);
        }
        Err(error @ (AccountError::WeakPassword | AccountError::PasswordTooLong)) => {
            return refused(None, Some(password_message(&error)));
        }
        Err(other) => return Err(crate::http::ApiError::from(other).into()),
    }
    let (token, user) = accounts
        .login(&username, &form.password)
        .await
        .map_err(|error| PageError::from(crate::http::ApiError::from(error)))?;
    let mut response = ctx.redirect(
        &next,
        Some(Flash::success(format!(
            "Welcome, {}! Your account is ready.",
            user.username
        ))),
    );
    add_cookie(&mut response, session_cookie(&token, ctx.secure_cookies()));
    Ok(response)
}

fn username_message(error: &AccountError) -> String {
    match error {
        AccountError::UsernameTaken => "That username is taken; please choose another.".into(),
        _ => "Use 3 to 32 letters, digits, '_', '.' or '-'.".into(),
    }
}

fn password_message(error: &AccountError) -> String {
    match error {
        AccountError::PasswordTooLong => "That password is too long.".into(),
        _ => format!(
            "Use at least {} characters.",
            crate::auth::accounts::MIN_PASSWORD_LEN
        ),
    }
}

/// `GET /login`
pub async fn login_form(
    ctx: PageCtx,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, PageError> {
    let next = safe_next(query.next.as_deref());
    if ctx.user.is_some() {
        return Ok(ctx.redirect(&next, None));
    }
    ctx.page(&LoginPage {
        layout: ctx.layout("Log in", Section::Account),
        next,
        username: String::new(),
        error: None,
    })
}

/// `POST /login`
pub async fn login(
    ctx: PageCtx,
    req: HttpRequest,
    form: web::Form<AccountForm>,
) -> Result<HttpResponse, PageError> {
    ctx.check_csrf(&form.csrf)?;
    ctx.state.check_auth_rate(&req)?;
    let next = safe_next(Some(&form.next));
    let username = form.username.trim();
    match ctx.state.accounts.login(username, &form.password).await {
        Ok((token, user)) => {
            let mut response = ctx.redirect(
                &next,
                Some(Flash::info(format!("Signed in as {}.", user.username))),
            );
            add_cookie(&mut response, session_cookie(&token, ctx.secure_cookies()));
            Ok(response)
        }
        Err(AccountError::InvalidCredentials) => ctx.page_with_status(
            StatusCode::UNAUTHORIZED,
            &LoginPage {
                layout: ctx.layout("Log in", Section::Account),
                next,
                username: username.to_owned(),
                error: Some("Wrong username or password.".into()),
            },
        ),
        Err(other) => Err(crate::http::ApiError::from(other).into()),
    }
}

/// `POST /logout`: ends the session and clears the cookie.
pub async fn logout(ctx: PageCtx, form: web::Form<CsrfOnly>) -> Result<HttpResponse, PageError> {
    ctx.check_csrf(&form.csrf)?;
    if let Some((token, _)) = request_token(&ctx.req) {
        ctx.state
            .end_session(&token)
            .await
            .map_err(|error| PageError::from(crate::http::ApiError::from(error)))?;
    }
    let mut response = ctx.redirect("/", Some(Flash::info("You are logged out.")));
    add_cookie(&mut response, expired_session_cookie(ctx.secure_cookies()));
    Ok(response)
}

fn add_cookie(response: &mut HttpResponse, cookie: actix_web::cookie::Cookie<'static>) {
    if let Err(error) = response.add_cookie(&cookie) {
        tracing::error!(error = %error, "could not set a cookie");
    }
}
