//! CSRF protection for every form: a token plus an origin check.
//!
//! Which token a form must carry depends on who sends it:
//! - signed in: a token derived from the session token (SHA-256 of it with
//!   a label of its own), so every login starts a new one and the token of
//!   any earlier session, or from before logging in, no longer works;
//! - anonymous (the login and registration forms): a double-submit token,
//!   32 random bytes kept in its own cookie (`gavel_csrf`, HttpOnly,
//!   SameSite=Lax, Secure under https). Logging in and out replace it.
//!
//! Either way it is repeated in a hidden `csrf` field of every form, and a
//! POST is accepted only when
//! - its `Origin` (or, without one, its `Sec-Fetch-Site`) says it comes from
//!   this site, and
//! - the field equals the expected token (compared in constant time).
//!
//! Another site can read neither the cookies nor the pages, so it cannot
//! forge the field; SameSite=Lax already keeps the session cookie off
//! cross-site POSTs, and this makes the refusal explicit.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::header;
use actix_web::HttpRequest;
use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest, Sha256};

use super::errors::PageError;
use crate::http::identity::request_token;
use crate::http::AppState;

/// The cookie holding the token.
pub const CSRF_COOKIE: &str = "gavel_csrf";
/// The form field repeating it.
pub const CSRF_FIELD: &str = "csrf";

/// A fresh random token (43 URL-safe characters).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The token of a signed-in session: derived from its session token, so it
/// changes with every login and cannot be computed without that token.
pub fn session_token(session: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"gavel csrf v1\0");
    hasher.update(session.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hasher.finalize())
}

/// The token a form from this request must carry: the session's when
/// `signed_in`, else the anonymous cookie's (None when there is none).
pub fn expected_token(req: &HttpRequest, signed_in: bool) -> Option<String> {
    if signed_in {
        request_token(req).map(|(token, _)| session_token(&token))
    } else {
        cookie_token(req)
    }
}

/// The request's token cookie, when it looks like one of ours.
pub fn cookie_token(req: &HttpRequest) -> Option<String> {
    req.cookie(CSRF_COOKIE)
        .map(|cookie| cookie.value().to_owned())
        .filter(|value| value.len() == 43 && value.bytes().all(is_token_byte))
}

fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'
}

/// The cookie that stores `token`.
pub fn token_cookie(token: &str, secure: bool) -> Cookie<'static> {
    Cookie::build(CSRF_COOKIE, token.to_owned())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(CookieDuration::days(14))
        .finish()
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut difference = 0u8;
    for (x, y) in a.iter().zip(b) {
        difference |= x ^ y;
    }
    difference == 0
}

/// Whether the request says it comes from this site; when not, what it
/// says instead (`Origin …` or `Sec-Fetch-Site …`).
fn same_site_request(req: &HttpRequest, state: &AppState) -> Result<(), String> {
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let allowed = origin
            .to_str()
            .is_ok_and(|origin| origin != "null" && state.origin_allowed(origin));
        return if allowed {
            Ok(())
        } else {
            Err(format!(
                "Origin {}",
                String::from_utf8_lossy(origin.as_bytes())
            ))
        };
    }
    // No Origin (old browsers, some privacy modes): trust the browser's
    // own statement when it makes one.
    match req.headers().get("sec-fetch-site") {
        None => Ok(()),
        Some(site) if matches!(site.to_str(), Ok("same-origin" | "none")) => Ok(()),
        Some(site) => Err(format!(
            "Sec-Fetch-Site {}",
            String::from_utf8_lossy(site.as_bytes())
        )),
    }
}

/// Checks a POST: same site, and the form's token equals the expected one
/// (the session's when `signed_in`, else the cookie's).
pub fn verify(
    req: &HttpRequest,
    state: &AppState,
    signed_in: bool,
    form_token: &str,
) -> Result<(), PageError> {
    if let Err(seen) = same_site_request(req, state) {
        let allowed = state.allowed_origins();
        tracing::warn!(
            path = %req.path(),
            seen = %seen,
            allowed = %allowed,
            "cross-site form POST refused: {seen}; allowed origins: {allowed}"
        );
        return Err(PageError::Forbidden(format!(
            "This form was sent from another site ({seen}), so it was refused. \
             This server takes forms from {allowed}. If you reached it through \
             another address, its operator must add that address to GAVEL_PUBLIC_ORIGINS."
        )));
    }
    let Some(expected) = expected_token(req, signed_in) else {
        return Err(PageError::Forbidden(
            "This form has expired. Go back, reload the page and try again.".into(),
        ));
    };
    if form_token.is_empty() || !constant_time_eq(expected.as_bytes(), form_token.as_bytes()) {
        tracing::warn!(path = %req.path(), "form POST with a bad CSRF token refused");
        return Err(PageError::Forbidden(
            "This form has expired. Go back, reload the page and try again.".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_cookie_safe() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a.bytes().all(is_token_byte));
    }

    #[test]
    fn session_tokens_are_derived_per_session_and_look_like_cookie_tokens() {
        let a = session_token("session-a");
        assert_eq!(a, session_token("session-a"));
        assert_ne!(a, session_token("session-b"));
        assert_eq!(a.len(), 43);
        assert!(a.bytes().all(is_token_byte));
        assert_ne!(a, crate::auth::token::hash_token("session-a"));
    }

    #[test]
    fn comparison_needs_equal_bytes() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
