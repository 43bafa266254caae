//! [`PageCtx`]: what every page handler starts from — the app state, the
//! signed-in user, the CSRF token (the session's when signed in, else the
//! anonymous cookie's) and a pending flash message — and how a
//! handler answers: a rendered page or a 303 redirect, each carrying the
//! cookies the context needs to set or clear.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use askama::Template;
use base64::Engine as _;

use super::csrf;
use super::errors::PageError;
use super::render::{self, Flash, FlashSlot, Layout, Section, UserView};
use crate::http::identity::resolve_user;
use crate::http::AppState;
use crate::store::User;

/// The cookie carrying a flash message across one redirect.
pub const FLASH_COOKIE: &str = "gavel_flash";

/// The request context of a page.
pub struct PageCtx {
    pub state: web::Data<AppState>,
    pub req: HttpRequest,
    pub user: Option<User>,
    csrf: String,
    csrf_is_new: bool,
    flash: Option<Flash>,
}

impl PageCtx {
    /// The signed-in user, if any.
    pub fn user(&self) -> Option<&User> {
        self.user.as_ref()
    }

    /// The signed-in user, or a redirect to the login page that comes back here.
    pub fn require_user(&self) -> Result<&User, PageError> {
        self.user
            .as_ref()
            .ok_or_else(|| PageError::LoginRequired { next: self.here() })
    }

    /// The signed-in admin; others get 403, anonymous visitors the login page.
    pub fn require_admin(&self) -> Result<&User, PageError> {
        let user = self.require_user()?;
        if user.is_admin() {
            Ok(user)
        } else {
            Err(PageError::Forbidden(
                "This page is for administrators.".into(),
            ))
        }
    }

    /// Checks a form POST's CSRF token and origin.
    pub fn check_csrf(&self, form_token: &str) -> Result<(), PageError> {
        csrf::verify(&self.req, &self.state, self.user.is_some(), form_token)
    }

    /// Replaces the anonymous CSRF cookie with a fresh one in this answer
    /// (at login and logout: the token from before no longer works).
    pub fn renew_csrf(&mut self) {
        self.csrf = csrf::new_token();
        self.csrf_is_new = true;
    }

    /// The path (and query) of this request, for `next=` links.
    pub fn here(&self) -> String {
        let uri = self.req.uri();
        uri.path_and_query()
            .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned())
    }

    /// The layout of a page titled `title` in `section`.
    pub fn layout(&self, title: impl Into<String>, section: Section) -> Layout {
        Layout {
            title: title.into(),
            user: self.user.as_ref().map(UserView::from),
            csrf: self.csrf.clone(),
            flash: self.flash.clone(),
            section,
            asset_version: super::assets::version(),
            minimal: false,
            server_time: crate::auction::view::rfc3339(chrono::Utc::now()),
            path: self.here(),
        }
    }

    /// Renders a page with status 200.
    pub fn page<T: Template>(&self, template: &T) -> Result<HttpResponse, PageError> {
        self.page_with_status(StatusCode::OK, template)
    }

    /// Renders a page; sets the CSRF cookie when new and clears a shown flash.
    pub fn page_with_status<T: Template>(
        &self,
        status: StatusCode,
        template: &T,
    ) -> Result<HttpResponse, PageError> {
        let body = render::render_to_string(template)?;
        let mut response = HttpResponse::build(status);
        render::apply_page_headers(&mut response);
        if self.csrf_is_new {
            response.cookie(csrf::token_cookie(&self.csrf, self.state.secure_cookies));
        }
        if self.flash.is_some() {
            response.cookie(removal(FLASH_COOKIE, self.state.secure_cookies));
        }
        Ok(response.body(body))
    }

    /// A 303 redirect (POST → GET), optionally carrying a flash message.
    pub fn redirect(&self, to: &str, flash: Option<Flash>) -> HttpResponse {
        let mut response = HttpResponse::SeeOther();
        response
            .insert_header((header::LOCATION, to.to_owned()))
            .insert_header((header::CACHE_CONTROL, "no-store"));
        if self.csrf_is_new {
            response.cookie(csrf::token_cookie(&self.csrf, self.state.secure_cookies));
        }
        match flash {
            Some(flash) => {
                response.cookie(flash_cookie(&flash, self.state.secure_cookies));
            }
            None if self.flash.is_some() => {
                response.cookie(removal(FLASH_COOKIE, self.state.secure_cookies));
            }
            None => {}
        }
        response.finish()
    }

    pub fn secure_cookies(&self) -> bool {
        self.state.secure_cookies
    }
}

impl FromRequest for PageCtx {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
                tracing::error!("app state missing");
                return Err(PageError::Internal);
            };
            let user = resolve_user(&req).await.map_err(PageError::from)?;
            let (csrf, csrf_is_new) = match csrf::expected_token(&req, user.is_some()) {
                Some(token) => (token, false),
                None => (csrf::new_token(), true),
            };
            let flash = req
                .cookie(FLASH_COOKIE)
                .and_then(|cookie| decode_flash(cookie.value()));
            Ok(Self {
                state,
                req,
                user,
                csrf,
                csrf_is_new,
                flash,
            })
        })
    }
}

/// A cookie that removes the cookie `name`.
pub fn removal(name: &'static str, secure: bool) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .finish();
    cookie.make_removal();
    cookie
}

fn flash_cookie(flash: &Flash, secure: bool) -> Cookie<'static> {
    let kind = match flash.slot {
        FlashSlot::Page => flash.kind.to_owned(),
        FlashSlot::Bid => format!("bid-{}", flash.kind),
        FlashSlot::BuyNow => format!("buy-{}", flash.kind),
    };
    let raw = format!("{kind}:{}", flash.text);
    let value = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_bytes());
    Cookie::build(FLASH_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(CookieDuration::minutes(5))
        .finish()
}

fn decode_flash(value: &str) -> Option<Flash> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (kind, text) = text.split_once(':')?;
    let (slot, kind) = if let Some(kind) = kind.strip_prefix("bid-") {
        (FlashSlot::Bid, kind)
    } else if let Some(kind) = kind.strip_prefix("buy-") {
        (FlashSlot::BuyNow, kind)
    } else {
        (FlashSlot::Page, kind)
    };
    let kind = match kind {
        "success" => "success",
        "info" => "info",
        "error" => "error",
        _ => return None,
    };
    let text: String = text.chars().take(500).collect();
    Some(Flash {
        kind,
        text: text.trim().to_owned(),
        slot,
    })
    .filter(|flash| !flash.text.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flash_survives_its_cookie() {
        let flash = Flash::success("You are leading at EUR 12.50; “quotes” & <tags>");
        let cookie = flash_cookie(&flash, false);
        assert_eq!(decode_flash(cookie.value()), Some(flash.clone()));
        let bid = flash.clone().for_bid();
        assert_eq!(decode_flash(flash_cookie(&bid, false).value()), Some(bid));
        let bought = flash.for_buy_now();
        assert_eq!(
            decode_flash(flash_cookie(&bought, false).value()),
            Some(bought)
        );
        assert_eq!(decode_flash("not base64!"), None);
    }
}
