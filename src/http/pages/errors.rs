//! Errors of the page handlers, answered as HTML pages from
//! `templates/error.html` (404, 403, 400, 429, 503, 500), or as a redirect to the
//! login page. Internal causes are logged where they happen, never shown.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use super::render::{self, query_escape, Layout};
use crate::http::ApiError;

/// Why a page could not be shown.
#[derive(Debug)]
pub enum PageError {
    /// 303 to `/login?next=…`: the page needs a signed-in user.
    LoginRequired { next: String },
    /// 400: the request makes no sense (the text says why).
    BadRequest(String),
    /// 403: not allowed (the text says why).
    Forbidden(String),
    /// 404: no such thing (names it, e.g. "auction").
    NotFound(&'static str),
    /// 405: this method is not served here.
    MethodNotAllowed,
    /// 429 with `Retry-After` (seconds) when known: too many requests.
    TooManyRequests {
        text: String,
        retry_after: Option<u64>,
    },
    /// 503: storage is down; try again.
    Unavailable,
    /// 500: a bug; logged where it happened.
    Internal,
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::LoginRequired { next } => write!(f, "login required for {next}"),
            Self::BadRequest(text) | Self::Forbidden(text) | Self::TooManyRequests { text, .. } => {
                f.write_str(text)
            }
            Self::NotFound(what) => write!(f, "no such {what}"),
            Self::MethodNotAllowed => f.write_str("method not allowed"),
            Self::Unavailable => f.write_str("unavailable"),
            Self::Internal => f.write_str("internal error"),
        }
    }
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        let message = error.error_object()["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        match error.status() {
            StatusCode::NOT_FOUND => Self::NotFound("page"),
            StatusCode::UNAUTHORIZED => Self::LoginRequired { next: "/".into() },
            StatusCode::FORBIDDEN => Self::Forbidden(sentence(&message)),
            StatusCode::TOO_MANY_REQUESTS => Self::TooManyRequests {
                text: sentence(&message),
                retry_after: error.retry_after_secs(),
            },
            StatusCode::SERVICE_UNAVAILABLE => Self::Unavailable,
            status if status.is_server_error() => Self::Internal,
            _ => Self::BadRequest(sentence(&message)),
        }
    }
}

/// `the auction has ended` → `The auction has ended.`
pub fn sentence(text: &str) -> String {
    let text = text.trim();
    let mut chars = text.chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    let mut out: String = first.to_uppercase().chain(chars).collect();
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

impl From<crate::store::StoreError> for PageError {
    fn from(error: crate::store::StoreError) -> Self {
        ApiError::from(error).into()
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    heading: String,
    detail: String,
}

impl PageError {
    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            Self::LoginRequired { .. } => (StatusCode::SEE_OTHER, "Please log in", String::new()),
            Self::BadRequest(text) => (
                StatusCode::BAD_REQUEST,
                "That did not work",
                text.clone(),
            ),
            Self::Forbidden(text) => (StatusCode::FORBIDDEN, "Not allowed", text.clone()),
            Self::NotFound(what) => (
                StatusCode::NOT_FOUND,
                "Page not found",
                format!("There is no such {what} here. It may have been moved, or the address has a typo."),
            ),
            Self::TooManyRequests { text, .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests",
                text.clone(),
            ),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "Not here",
                "This address does not take that kind of request.".into(),
            ),
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "We cannot reach our storage right now. Please try again in a moment.".into(),
            ),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Something went wrong on our side. It has been logged; please try again.".into(),
            ),
        }
    }
}

/// An error page as a response.
pub fn error_page(status: StatusCode, heading: &str, detail: String) -> HttpResponse {
    let page = ErrorPage {
        layout: Layout::minimal(heading),
        status: status.as_u16(),
        heading: heading.to_owned(),
        detail,
    };
    match page.render() {
        Ok(body) => render::html(status, body),
        Err(error) => {
            tracing::error!(error = %error, "the error page failed to render");
            HttpResponse::build(status)
                .content_type("text/plain; charset=utf-8")
                .body(heading.to_owned())
        }
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::LoginRequired { next } = self {
            return HttpResponse::SeeOther()
                .insert_header((
                    header::LOCATION,
                    format!("/login?next={}", query_escape(next)),
                ))
                .finish();
        }
        let (status, heading, detail) = self.parts();
        let mut response = error_page(status, heading, detail);
        if let Self::TooManyRequests {
            retry_after: Some(secs),
            ..
        } = self
        {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(*secs),
            );
        }
        response
    }
}

/// The HTML 404 for any unknown path outside `/api/`.
pub fn not_found_response() -> HttpResponse {
    PageError::NotFound("page").error_response()
}

/// The HTML 405 of page resources.
pub async fn method_not_allowed() -> Result<HttpResponse, PageError> {
    Err(PageError::MethodNotAllowed)
}

/// Form bodies that cannot be read become a 400 page, not plain text.
pub fn form_config() -> actix_web::web::FormConfig {
    actix_web::web::FormConfig::default()
        .limit(crate::http::extract::BODY_LIMIT)
        .error_handler(|error, _req| {
            PageError::BadRequest(format!("The form could not be read ({error}).")).into()
        })
}

/// Query strings that cannot be read become a 400 page.
pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default().error_handler(|_error, _req| {
        PageError::BadRequest("The address has a query string we do not understand.".into()).into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_become_sentences() {
        assert_eq!(sentence("the auction has ended"), "The auction has ended.");
        assert_eq!(sentence("Done!"), "Done!");
        assert_eq!(sentence(""), "");
    }
}
