//! The one error type of the HTTP edge. Every failure leaves as docs/api.md's
//! shape `{"error":{"code","message",...}}` with a fitting status; internal
//! errors are logged with their cause chain and answered as an opaque 500.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Map, Value};

use crate::auction::registry::{AdminSubmitError, SubmitError};
use crate::auction::view::error_body;
use crate::auction::AdminError;
use crate::auth::AccountError;
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    extra: Option<Map<String, Value>>,
    /// Seconds for a `Retry-After` header (429s).
    retry_after: Option<u64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            extra: None,
            retry_after: None,
        }
    }

    /// Adds a `Retry-After` header of `secs` seconds (at least 1).
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs.max(1));
        self
    }

    /// The `Retry-After` seconds, when set.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after
    }

    /// Adds a field beside `code` and `message`.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra
            .get_or_insert_with(Map::new)
            .insert(key.to_owned(), value.into());
        self
    }

    /// The `{"code","message",...}` object, for WebSocket `bid_error` frames.
    pub fn error_object(&self) -> Value {
        crate::auction::view::error_object(self.code, &self.message, self.extra.clone())
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    /// 400: malformed request (bad JSON, unknown field, wrong type).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401: no valid session or token.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "log in to do this",
        )
    }

    /// 403: authenticated but not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such {what}"),
        )
    }

    /// 413: body over the limit.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request bodies are limited to {limit} bytes"),
        )
    }

    /// 422 `validation_failed` for one field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let mut fields = Map::new();
        fields.insert(field.to_owned(), Value::String(message.into()));
        Self::validation(fields)
    }

    /// 422 with field-by-field messages.
    pub fn validation(fields: Map<String, Value>) -> Self {
        let summary = fields
            .iter()
            .map(|(field, message)| format!("{field}: {}", message.as_str().unwrap_or("invalid")))
            .collect::<Vec<_>>()
            .join("; ");
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            summary,
        )
        .with("fields", Value::Object(fields))
    }

    /// 429 for the per-user bid limit (`Retry-After: 1`).
    pub fn rate_limited() -> Self {
        Self::too_many("too many bids per second; slow down", 1)
    }

    /// 429 `rate_limited` with `Retry-After: retry_after_secs` (at least 1).
    pub fn too_many(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
            .retry_after(retry_after_secs)
    }

    /// 503: storage or coordination is down; retrying is safe.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the service is temporarily unavailable; retry with the same request_id",
        )
    }

    /// 500: logs the error with its cause chain; the client sees nothing of it.
    pub fn internal(error: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            chain.push_str(": ");
            chain.push_str(&cause.to_string());
            source = cause.source();
        }
        tracing::error!(error.chain = %chain, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side",
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.content_type("application/json");
        if let Some(secs) = self.retry_after {
            response.insert_header((actix_web::http::header::RETRY_AFTER, secs.to_string()));
        }
        response.body(error_body(self.code, &self.message, self.extra.clone()))
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        if error.is_transient() {
            tracing::warn!(error = ?error, "storage unavailable");
            Self::unavailable()
        } else {
            Self::internal(&error)
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(error: AccountError) -> Self {
        let message = error.to_string();
        match error {
            AccountError::ControlCharacter { field, source } => {
                Self::invalid_field(field, source.to_string())
            }
            AccountError::InvalidUsername => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_username",
                message,
            ),
            AccountError::WeakPassword
            | AccountError::PasswordIsUsername
            | AccountError::BlankPassword
            | AccountError::CommonPassword => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "weak_password", message)
            }
            AccountError::PasswordTooLong => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_password",
                message,
            ),
            AccountError::UsernameTaken => {
                Self::new(StatusCode::CONFLICT, "username_taken", message)
            }
            AccountError::InvalidCredentials => {
                Self::new(StatusCode::UNAUTHORIZED, "invalid_credentials", message)
            }
            AccountError::NoSuchUser(_) => Self::not_found("user"),
            AccountError::Store(store) => store.into(),
            AccountError::Hashing(ref cause) => Self::internal(cause.as_ref()),
        }
    }
}

impl From<SubmitError> for ApiError {
    fn from(error: SubmitError) -> Self {
        match error {
            SubmitError::NotFound => Self::not_found("auction"),
            SubmitError::Store(store) => store.into(),
            SubmitError::Unavailable => Self::unavailable(),
        }
    }
}

impl From<AdminSubmitError> for ApiError {
    fn from(error: AdminSubmitError) -> Self {
        match error {
            AdminSubmitError::Submit(submit) => submit.into(),
            AdminSubmitError::Refused(AdminError::AlreadyEnded) => Self::new(
                StatusCode::CONFLICT,
                "auction_ended",
                "the auction has already ended",
            ),
            AdminSubmitError::Refused(AdminError::Unavailable) => Self::unavailable(),
            AdminSubmitError::Refused(AdminError::NotVoidable(message)) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "not_voidable", message)
            }
            AdminSubmitError::Refused(AdminError::NothingToDo(message)) => {
                Self::new(StatusCode::CONFLICT, "nothing_to_void", message)
            }
            AdminSubmitError::Refused(AdminError::NotEditable(message)) => {
                Self::new(StatusCode::CONFLICT, "not_editable", message)
            }
            AdminSubmitError::Refused(AdminError::AlreadyPaused) => Self::new(
                StatusCode::CONFLICT,
                "auction_paused",
                "the auction is already paused",
            ),
            AdminSubmitError::Refused(AdminError::NotPaused) => Self::new(
                StatusCode::CONFLICT,
                "not_paused",
                "the auction is not paused",
            ),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
