//! placeholder until the WebSocket lands
use actix_web::HttpResponse;
pub async fn connect() -> HttpResponse { HttpResponse::NotImplemented().finish() }
