//! `/register`, `/login`, `/logout`: accounts through forms. A successful
//! registration or login sets the same session cookie as the JSON API
//! (HttpOnly, SameSite=Lax, Secure under https), replaces the anonymous
//! CSRF cookie and redirects to `next` (a local path only, see
//! [`safe_next`]). Over the login or registration limit, the form comes back
//! with 429, `Retry-After` and the message.

use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::context::PageCtx;
use super::errors::PageError;
use super::render::{safe_next, Flash, Layout, Section};
use crate::auth::accounts::{validate_password, validate_username};
use crate::auth::AccountError;
use crate::http::accounts::{expired_session_cookie, session_cookie};
use crate::http::identity::request_token;
use crate::http::ApiError;
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
    error: Option<String>,
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
        error: None,
        username: String::new(),
        username_error: None,
        password_error: None,
    })
}

/// `POST /register`: creates a bidder and signs them in.
pub async fn register(
    mut ctx: PageCtx,
    req: HttpRequest,
    form: web::Form<AccountForm>,
) -> Result<HttpResponse, PageError> {
    ctx.check_csrf(&form.csrf)?;
    let next = safe_next(Some(&form.next));
    let username = form.username.trim().to_owned();
    let page = |status: StatusCode, fields: FieldErrors| {
        ctx.page_with_status(
            status,
            &RegisterPage {
                layout: ctx.layout("Create an account", Section::Account),
                next: next.clone(),
                error: fields.form,
                username: username.clone(),
                username_error: fields.username,
                password_error: fields.password,
            },
        )
    };
    if let Err(limited) = ctx.state.check_registration_rate(&req) {
        let fields = FieldErrors::form(rate_limited_message(&limited));
        return with_retry_after(page(StatusCode::TOO_MANY_REQUESTS, fields), &limited);
    }
    // Every problem at once, not only the first: each field checked alone.
    let username_problem = validate_username(&username).err();
    let password_problem = crate::auth::accounts::check_credentials_text("ok-name", &form.password)
        .and_then(|()| validate_password(&username, &form.password))
        .err();
    if username_problem.is_some() || password_problem.is_some() {
        let mut fields = FieldErrors::default();
        for problem in username_problem.iter().chain(password_problem.iter()) {
            if let Some(found) = FieldErrors::of(problem) {
                fields.username = fields.username.or(found.username);
                fields.password = fields.password.or(found.password);
                fields.form = fields.form.or(found.form);
            }
        }
        return page(StatusCode::UNPROCESSABLE_ENTITY, fields);
    }
    let accounts = &ctx.state.accounts;
    match accounts
        .register(&username, &form.password, Role::Bidder)
        .await
    {
        Ok(user) => tracing::info!(user.id = %user.id, "user registered through the page"),
        Err(error) => match FieldErrors::of(&error) {
            Some(fields) => return page(StatusCode::UNPROCESSABLE_ENTITY, fields),
            None => return Err(ApiError::from(error).into()),
        },
    }
    let (token, user) = accounts
        .login(&username, &form.password)
        .await
        .map_err(|error| PageError::from(ApiError::from(error)))?;
    ctx.renew_csrf();
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

/// What a refused account form says, field by field.
#[derive(Debug, Default)]
struct FieldErrors {
    /// Above the form (not about one field).
    form: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

impl FieldErrors {
    fn form(message: String) -> Self {
        Self {
            form: Some(message),
            ..Self::default()
        }
    }

    /// The form's answer to a refused registration or login; None for
    /// errors that are not about the input (storage, hashing).
    fn of(error: &AccountError) -> Option<Self> {
        let mut fields = Self::default();
        match error {
            AccountError::ControlCharacter {
                field: "username", ..
            } => {
                fields.username =
                    Some("Use letters and digits only: no control characters.".into());
            }
            AccountError::ControlCharacter { .. } => {
                fields.password = Some("The password must not contain control characters.".into());
            }
            AccountError::InvalidUsername | AccountError::UsernameTaken => {
                fields.username = Some(username_message(error));
            }
            AccountError::PasswordTooLong => fields.password = Some(password_message(error)),
            error if error.is_weak_password() => fields.password = Some(password_message(error)),
            _ => return None,
        }
        Some(fields)
    }
}

/// The 429 message of a page.
fn rate_limited_message(limited: &ApiError) -> String {
    match limited.retry_after_secs() {
        Some(secs) => {
            format!("Too many attempts from your address. Please wait {secs} s and try again.")
        }
        None => "Too many attempts from your address. Please wait a minute and try again.".into(),
    }
}

/// Adds the `Retry-After` of `limited` to a rendered page.
fn with_retry_after(
    page: Result<HttpResponse, PageError>,
    limited: &ApiError,
) -> Result<HttpResponse, PageError> {
    let mut response = page?;
    if let Some(secs) = limited.retry_after_secs() {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs));
    }
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
        AccountError::PasswordIsUsername => "Your password must not be your username.".into(),
        AccountError::BlankPassword => "Your password must not be only spaces.".into(),
        AccountError::CommonPassword => {
            "That password is one of the most common ones, so it is easy to guess. Choose another."
                .into()
        }
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
    mut ctx: PageCtx,
    req: HttpRequest,
    form: web::Form<AccountForm>,
) -> Result<HttpResponse, PageError> {
    ctx.check_csrf(&form.csrf)?;
    let next = safe_next(Some(&form.next));
    let username = form.username.trim();
    let page = |status: StatusCode, error: String| {
        ctx.page_with_status(
            status,
            &LoginPage {
                layout: ctx.layout("Log in", Section::Account),
                next: next.clone(),
                username: username.to_owned(),
                error: Some(error),
            },
        )
    };
    if let Err(limited) = ctx.state.check_login_rate(&req, username) {
        let refused = page(
            StatusCode::TOO_MANY_REQUESTS,
            rate_limited_message(&limited),
        );
        return with_retry_after(refused, &limited);
    }
    match ctx.state.accounts.login(username, &form.password).await {
        Ok((token, user)) => {
            ctx.renew_csrf();
            let mut response = ctx.redirect(
                &next,
                Some(Flash::info(format!("Signed in as {}.", user.username))),
            );
            add_cookie(&mut response, session_cookie(&token, ctx.secure_cookies()));
            Ok(response)
        }
        Err(AccountError::InvalidCredentials) => page(
            StatusCode::UNAUTHORIZED,
            "Wrong username or password.".into(),
        ),
        Err(AccountError::ControlCharacter { field, .. }) => page(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("The {field} must not contain control characters."),
        ),
        Err(other) => Err(ApiError::from(other).into()),
    }
}

/// `POST /logout`: ends the session, clears its cookie and renews the CSRF cookie.
pub async fn logout(
    mut ctx: PageCtx,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    ctx.check_csrf(&form.csrf)?;
    if let Some((token, _)) = request_token(&ctx.req) {
        ctx.state
            .end_session(&token)
            .await
            .map_err(|error| PageError::from(ApiError::from(error)))?;
    }
    ctx.renew_csrf();
    let mut response = ctx.redirect("/", Some(Flash::info("You are logged out.")));
    add_cookie(&mut response, expired_session_cookie(ctx.secure_cookies()));
    Ok(response)
}

fn add_cookie(response: &mut HttpResponse, cookie: actix_web::cookie::Cookie<'static>) {
    if let Err(error) = response.add_cookie(&cookie) {
        tracing::error!(error = %error, "could not set a cookie");
    }
}
