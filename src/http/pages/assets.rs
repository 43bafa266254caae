//! The static files under `static/`, compiled into the binary (no build
//! step, nothing to find on disk at run time). Pages link them with
//! `?v=<version>`, a hash of their contents, so a matching request may be
//! cached forever and a new release is fetched at once.

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use super::errors::PageError;

/// `(name, content type, contents)` of every static file.
const FILES: &[(&str, &str, &str)] = &[
    (
        "gavel.css",
        "text/css; charset=utf-8",
        include_str!("../../../static/gavel.css"),
    ),
    (
        "live.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../static/live.js"),
    ),
    (
        "auction.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../static/auction.js"),
    ),
    (
        "list.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../static/list.js"),
    ),
    (
        "admin_log.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../static/admin_log.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../../../static/favicon.svg"),
    ),
];

/// A short hash of every static file together.
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut hasher = Sha256::new();
        for (name, _, body) in FILES {
            hasher.update(name.as_bytes());
            hasher.update(body.as_bytes());
        }
        let digest = hasher.finalize();
        digest[..6].iter().map(|b| format!("{b:02x}")).collect()
    })
}

/// `GET /static/{name}`
pub async fn serve(req: HttpRequest, name: web::Path<String>) -> Result<HttpResponse, PageError> {
    let Some((_, content_type, body)) = FILES.iter().find(|(file, _, _)| *file == name.as_str())
    else {
        return Err(PageError::NotFound("file"));
    };
    let versioned = req
        .query_string()
        .split('&')
        .any(|pair| pair == format!("v={}", version()));
    let cache = if versioned {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Ok(HttpResponse::Ok()
        .content_type(*content_type)
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(*body))
}
