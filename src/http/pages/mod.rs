//! Server-rendered pages for bidders, watchers and admins.
//!
//! Every page renders its first state on the server from `templates/`
//! (askama, compiled in, auto-escaping), so reading works without
//! JavaScript and a plain form POST can bid. The scripts in `static/`
//! (served from the binary by [`assets`]) then keep prices, countdowns and
//! bids live over the WebSocket of docs/api.md.
//!
//! - [`context`]: the request context (user, CSRF token, flash) and responses.
//! - [`csrf`]: the form token (the session's, or a double-submit cookie's
//!   before login) and the origin check on every form.
//! - [`render`]: formatting, the layout, page headers.
//! - [`errors`]: HTML error pages (404, 403, 500 …).
//! - [`auth`]: register, log in, log out.
//! - [`bidder`]: the auction list, an auction, bidding and buying now by
//!   form, my bids.
//! - [`admin`]: the admin dashboard, create, detail, cancel/close, users, audit.
//! - [`chart`]: the price chart as inline SVG.

pub mod admin;
pub mod assets;
pub mod auth;
pub mod bidder;
pub mod chart;
pub mod context;
pub mod csrf;
pub mod edit;
pub mod errors;
pub mod relist;
pub mod render;
pub mod second_chance;
pub mod watchlist;

use actix_web::{guard, web};

pub use errors::not_found_response;

/// A page resource: HTML 405 for other methods, HTML 400 for bad forms.
fn page(path: &str) -> actix_web::Resource {
    web::resource(path)
        .app_data(errors::form_config())
        .app_data(errors::query_config())
        .default_service(web::to(errors::method_not_allowed))
}

/// GET, and HEAD with the same headers and no body (actix drops the body of
/// an answer to HEAD), for link checkers and uptime monitors.
pub fn get_or_head() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// Page routes, mounted at the root by `crate::startup::routes`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(page("/").route(get_or_head().to(bidder::index)))
        .service(page("/static/{name}").route(get_or_head().to(assets::serve)))
        .service(page("/auctions/{id}").route(get_or_head().to(bidder::show)))
        .service(page("/auctions/{id}/bid").route(web::post().to(bidder::bid)))
        .service(page("/auctions/{id}/buy-now").route(web::post().to(bidder::buy_now)))
        .service(page("/me/bids").route(get_or_head().to(bidder::my_bids)))
        .service(page("/me/watching").route(get_or_head().to(watchlist::watching)))
        .service(page("/auctions/{id}/watch").route(web::post().to(watchlist::watch)))
        .service(
            page("/register")
                .route(get_or_head().to(auth::register_form))
                .route(web::post().to(auth::register)),
        )
        .service(
            page("/login")
                .route(get_or_head().to(auth::login_form))
                .route(web::post().to(auth::login)),
        )
        .service(page("/logout").route(web::post().to(auth::logout)))
        .service(page("/admin").route(get_or_head().to(admin::dashboard)))
        .service(page("/admin/auctions").route(web::post().to(admin::create)))
        .service(page("/admin/auctions/new").route(get_or_head().to(admin::new_auction_form)))
        .service(page("/admin/auctions/{id}").route(get_or_head().to(admin::auction)))
        .service(page("/admin/auctions/{id}/control").route(web::post().to(admin::control)))
        .service(
            page("/admin/auctions/{id}/edit")
                .route(get_or_head().to(edit::edit_form))
                .route(web::post().to(edit::edit)),
        )
        .service(
            page("/admin/auctions/{id}/second-chance").route(web::post().to(second_chance::make)),
        )
        .service(page("/auctions/{id}/second-chance").route(web::post().to(second_chance::answer)))
        .service(
            page("/admin/auctions/{id}/relist")
                .route(get_or_head().to(relist::relist_form))
                .route(web::post().to(relist::relist)),
        )
        .service(
            page("/admin/auctions/{id}/void")
                .route(get_or_head().to(admin::confirm_void))
                .route(web::post().to(admin::void)),
        )
        .service(
            page("/admin/auctions/{id}/{action:cancel|close}")
                .route(get_or_head().to(admin::confirm_end))
                .route(web::post().to(admin::end)),
        )
        .service(page("/admin/users").route(get_or_head().to(admin::users)))
        .service(page("/admin/users/{id}/{action:ban|unban}").route(web::post().to(admin::set_ban)))
        .service(page("/admin/audit").route(get_or_head().to(admin::audit)));
}
