//! What one client may hold of the server, below the handlers:
//!
//! - **Body deadline** ([`limit_body_time`]): a request body must arrive
//!   within a deadline of the request's start. A body announced but not sent
//!   (a `Content-Length` larger than what comes, a chunked body with no last
//!   chunk) used to hold its connection for minutes; now it is answered 408
//!   `request_timeout` and the connection is closed. Headers have their own
//!   limit (`client_request_timeout`); WebSocket upgrades are streams, not
//!   bodies, and are left alone.
//! - **Connections per IP** ([`ConnectionCap`]): every accepted TCP
//!   connection takes a slot for its peer's address for its whole life; past
//!   the cap the connection is shut down at once, before it can send a byte.

use std::cell::RefCell;
use std::future::Future as _;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Extensions, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::HttpMessage as _;
use actix_web::{web, ResponseError as _};
use bytes::Bytes;
use futures_util::Stream;
use tokio::time::Sleep;

use super::{ApiError, AppState};
use crate::auth::rate_limit::{ConnectionLimiter, ConnectionSlot};

/// Whether a request says a body follows (and is not a protocol upgrade).
fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    if headers.contains_key(header::UPGRADE) {
        return false;
    }
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .is_some_and(|length| length > 0);
    announced || headers.contains_key(header::TRANSFER_ENCODING)
}

/// Gives each request body [`AppState::body_deadline`] to arrive.
pub async fn limit_body_time(
    mut req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let deadline = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.body_deadline)
        .filter(|deadline| !deadline.is_zero());
    let Some(deadline) = deadline.filter(|_| has_body(&req)) else {
        return next.call(req).await;
    };
    let expired: ExpiredBody = Rc::new(RefCell::new(None));
    let body = DeadlinePayload {
        inner: Some(req.take_payload()),
        timer: Box::pin(tokio::time::sleep(deadline)),
        expired: Rc::clone(&expired),
    };
    let body: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(body);
    req.set_payload(actix_web::dev::Payload::from(body));
    let response = next.call(req).await;
    let Some(unread) = expired.borrow_mut().take() else {
        return response;
    };
    metrics::counter!("gavel_slow_bodies_total").increment(1);
    tracing::info!(
        deadline_secs = deadline.as_secs(),
        "request body not received in time; closing"
    );
    let request = match &response {
        Ok(response) => response.request().clone(),
        Err(_) => return response,
    };
    let timeout = ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        format!(
            "the request body did not arrive within {} s",
            deadline.as_secs()
        ),
    )
    .error_response();
    // The unread body travels with the answer: while it is alive, actix
    // closes the connection after the answer instead of waiting to drain a
    // body that is never coming.
    let timeout = timeout.map_body(|_, body| {
        BoxBody::new(HoldingBody {
            body,
            _unread: unread,
        })
    });
    Ok(ServiceResponse::new(request, timeout))
}

/// Where a body past its deadline leaves what is left of it.
type ExpiredBody = Rc<RefCell<Option<actix_web::dev::Payload>>>;

/// A request body that fails with a timeout once its deadline passes.
struct DeadlinePayload {
    inner: Option<actix_web::dev::Payload>,
    timer: Pin<Box<Sleep>>,
    expired: ExpiredBody,
}

impl Stream for DeadlinePayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(inner).poll_next(cx) {
            Poll::Pending => {}
            ready => return ready,
        }
        match this.timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                *this.expired.borrow_mut() = this.inner.take();
                Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "request body deadline passed",
                )))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// An answer's body that keeps the unread request body alive until sent.
struct HoldingBody {
    body: BoxBody,
    _unread: actix_web::dev::Payload,
}

impl MessageBody for HoldingBody {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

/// Counts open TCP connections per peer address (see the module docs).
#[derive(Clone)]
pub struct ConnectionCap {
    limiter: Arc<ConnectionLimiter>,
}

/// Held in a connection's extensions for its whole life.
struct HeldSlot {
    _slot: ConnectionSlot,
}

impl ConnectionCap {
    /// `max_per_ip == 0` turns the cap off.
    pub fn new(max_per_ip: usize) -> Self {
        Self {
            limiter: Arc::new(ConnectionLimiter::new(max_per_ip)),
        }
    }

    /// For `HttpServer::on_connect`: takes a slot for the peer or shuts the
    /// connection down.
    pub fn on_connect(&self, connection: &dyn std::any::Any, extensions: &mut Extensions) {
        let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() else {
            return;
        };
        let Ok(peer) = stream.peer_addr() else {
            return;
        };
        match self.limiter.try_open(peer.ip()) {
            Some(slot) => {
                extensions.insert(HeldSlot { _slot: slot });
            }
            None => {
                metrics::counter!("gavel_connections_refused_total").increment(1);
                tracing::warn!(peer = %peer.ip(), "too many connections from one address; refusing");
                let _ = socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Both);
            }
        }
    }
}
