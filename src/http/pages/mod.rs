//! Server-rendered pages (bidders, watchers, admins). Owned by the web UI work.

use actix_web::web;

/// Page routes, mounted at the root by `crate::startup::routes`.
pub fn routes(_cfg: &mut web::ServiceConfig) {}
