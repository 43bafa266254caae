//! Headers every response carries, set in one place (a middleware wrapped
//! around the whole app in `crate::startup`):
//! - `X-Content-Type-Options: nosniff` on every response, so no answer (an
//!   API error, a JSON body) is ever read as another type;
//! - `Cache-Control: no-store` on every response whose handler did not say
//!   otherwise, so no answer carrying a token or account data (the login
//!   answer, `/api/v1/me`, pages) is kept by a browser or a shared cache.
//!   Static assets (`public, immutable` or `no-cache`) and the SSE stream
//!   (`no-cache`) set their own.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;

/// Adds the default headers to the response. (Handler and extractor errors
/// arrive here as responses already: actix renders them inside the route.)
pub async fn default_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}
