//! Extractor configuration: malformed JSON, unknown fields, wrong types and
//! bad query strings become 400 in the API's error shape; bodies over 64 KiB
//! become 413.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{web, HttpRequest};

use super::ApiError;

/// The largest request body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(BODY_LIMIT)
        .error_handler(|error, _req: &HttpRequest| json_error(error).into())
}

fn json_error(error: JsonPayloadError) -> ApiError {
    match error {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::payload_too_large(BODY_LIMIT)
        }
        JsonPayloadError::ContentType => {
            ApiError::bad_request("send the body as Content-Type: application/json")
        }
        JsonPayloadError::Deserialize(error) => {
            ApiError::bad_request(format!("invalid JSON body: {error}"))
        }
        JsonPayloadError::Payload(actix_web::error::PayloadError::Overflow) => {
            ApiError::payload_too_large(BODY_LIMIT)
        }
        other => ApiError::bad_request(format!("unreadable body: {other}")),
    }
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _req| {
        let message = match error {
            QueryPayloadError::Deserialize(error) => format!("invalid query string: {error}"),
            other => format!("invalid query string: {other}"),
        };
        ApiError::bad_request(message).into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|error: PathError, _req| {
        ApiError::bad_request(format!("invalid path: {error}")).into()
    })
}

pub fn payload_config() -> web::PayloadConfig {
    web::PayloadConfig::default().limit(BODY_LIMIT)
}

/// Parses an id from the path; anything that is not one is simply not found.
pub fn parse_id(text: &str, what: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(text).map_err(|_| ApiError::not_found(what))
}

/// A JSON body that may be left out: an empty (or all-whitespace) body is
/// `T::default()`, anything else must parse (400 in the API's shape).
pub fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|error| ApiError::bad_request(format!("invalid JSON body: {error}")))
}
