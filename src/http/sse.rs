//! placeholder until the SSE feed lands
use actix_web::HttpResponse;
pub async fn events() -> HttpResponse { HttpResponse::NotImplemented().finish() }
