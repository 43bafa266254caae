//! The OpenAPI document (docs/openapi.json): served as committed, covering
//! every mounted route both ways, rendered at /api/docs, and describing the
//! answers the server really gives.
//!
//! `GAVEL_WRITE_OPENAPI=1 cargo test --test api openapi` rewrites
//! docs/openapi.json from the server first (then review the diff).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, AuctionBuilder, Backend, TestApp};

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");

/// Every method a route could be asked with.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

async fn app() -> TestApp {
    spawn_app(Backend::Sqlite).await.expect("a SQLite app")
}

async fn served_document(app: &TestApp) -> String {
    let response = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("GET openapi.json");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().ok(),
        Some("application/json")
    );
    response.text().await.expect("text")
}

#[actix_web::test]
async fn the_served_document_equals_the_committed_file() {
    let app = app().await;
    let served = served_document(&app).await;
    if std::env::var("GAVEL_WRITE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(COMMITTED, &served).expect("write docs/openapi.json");
    }
    let committed = std::fs::read_to_string(COMMITTED).expect("docs/openapi.json exists");
    assert!(
        served == committed,
        "docs/openapi.json differs from the served document: run \
         GAVEL_WRITE_OPENAPI=1 cargo test --test api openapi, and review the diff"
    );
    let document: Value = serde_json::from_str(&served).expect("JSON");
    assert_eq!(document["openapi"], "3.1.0");
}

/// A concrete path for a route: `{id}` becomes a fresh UUID.
fn concrete(path: &str) -> String {
    path.replace("{id}", "0193a5e2-7c4b-7d31-9a8e-2f6b1c3d4e5f")
}

/// Whether an answer is the server's own "no such route" or "no such method".
fn is_default_answer(status: StatusCode, body: &str) -> bool {
    let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    status == StatusCode::METHOD_NOT_ALLOWED
        || (status == StatusCode::NOT_FOUND && value["error"]["message"] == "no such route")
}

#[actix_web::test]
async fn every_mounted_route_is_documented_and_every_documented_one_is_mounted() {
    let app = app().await;
    let document: Value = serde_json::from_str(&served_document(&app).await).expect("JSON");
    let mounted = gavel::startup::api_routes();
    assert!(mounted.len() >= 25, "{mounted:?}");

    // Mounted → documented, and really answered by the server.
    for (method, path) in &mounted {
        let operation = &document["paths"][*path][method.as_str().to_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {path} is mounted but not in docs/openapi.json"
        );
        let response = app
            .client
            .request(
                Method::from_bytes(method.as_str().as_bytes()).expect("a method"),
                app.url(&concrete(path)),
            )
            .send()
            .await
            .expect("request");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(
            !is_default_answer(status, &body),
            "{method} {path} is listed but not answered: {status} {body}"
        );
    }

    // Documented → mounted; and a documented path answers 405 to every
    // method it does not list (so nothing is mounted there undocumented).
    let paths = document["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for method in METHODS {
            let documented = item.get(method.to_lowercase()).is_some();
            let listed = mounted
                .iter()
                .any(|(m, p)| m.as_str() == method && p == path);
            assert_eq!(
                documented, listed,
                "{method} {path}: documented {documented}, mounted {listed}"
            );
            if !documented {
                let response = app
                    .client
                    .request(
                        Method::from_bytes(method.as_bytes()).expect("a method"),
                        app.url(&concrete(path)),
                    )
                    .send()
                    .await
                    .expect("request");
                assert_eq!(
                    response.status(),
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is not documented but answers"
                );
            }
        }
    }
    app.stop().await;
}

#[actix_web::test]
async fn the_docs_page_lists_every_operation_without_scripts_from_elsewhere() {
    let app = app().await;
    let document: Value = serde_json::from_str(&served_document(&app).await).expect("JSON");
    let response = app
        .client
        .get(app.url("/api/docs"))
        .send()
        .await
        .expect("GET /api/docs");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .is_ok_and(|t| t.starts_with("text/html")));
    let page = response.text().await.expect("text");
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("an item") {
            let id = operation["operationId"].as_str().expect("an operationId");
            assert!(page.contains(&format!("id=\"{id}\"")), "no section {id}");
            assert!(
                page.contains(&format!("{} {path}", method.to_uppercase())),
                "{method} {path} missing"
            );
        }
    }
    for name in document["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .keys()
    {
        assert!(
            page.contains(&format!("id=\"schema-{name}\"")),
            "no schema {name}"
        );
    }
    assert!(page.contains("gavel_session") && page.contains("Request body"));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no outside links"
    );
    app.stop().await;
}

// --- real answers against the documented schemas ---------------------------

/// Checks `value` against `schema` (the subset of JSON Schema the document
/// uses), strictly: an object may carry only the properties its schema
/// names (through references and allOf). Returns the first mismatch.
fn check(document: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return check(document, resolve(document, reference, at)?, value, at);
    }
    if schema.get("oneOf").is_some() {
        return check_loose(document, schema, value, at);
    }
    check_loose(document, schema, value, at)?;
    let mut names = Vec::new();
    collect_properties(document, schema, &mut names);
    if let Some(object) = value.as_object() {
        if !names.is_empty() {
            if let Some(key) = object.keys().find(|key| !names.contains(key)) {
                return Err(format!("{at}: undocumented field {key}"));
            }
        }
    }
    Ok(())
}

fn resolve<'a>(document: &'a Value, reference: &str, at: &str) -> Result<&'a Value, String> {
    let name = reference
        .strip_prefix("#/components/schemas/")
        .ok_or_else(|| format!("{at}: unknown $ref {reference}"))?;
    let schema = &document["components"]["schemas"][name];
    if schema.is_null() {
        return Err(format!("{at}: no schema {name}"));
    }
    Ok(schema)
}

/// The property names of a schema, through references and allOf.
fn collect_properties(document: &Value, schema: &Value, names: &mut Vec<String>) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.trim_start_matches("#/components/schemas/");
        collect_properties(document, &document["components"]["schemas"][name], names);
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        names.extend(properties.keys().cloned());
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        collect_properties(document, part, names);
    }
}

/// Type, enum, required fields and each known property (strictly); extra
/// fields of this object allowed (the strict check is the caller's).
fn check_loose(document: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return check_loose(document, resolve(document, reference, at)?, value, at);
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = options
            .iter()
            .filter(|option| check(document, option, value, at).is_ok())
            .count();
        return if matching == 1 {
            Ok(())
        } else {
            Err(format!(
                "{at}: {value} matches {matching} of oneOf {schema}"
            ))
        };
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        check_loose(document, part, value, at)?;
    }
    if let Some(kinds) = schema.get("type") {
        let kinds: Vec<&str> = match kinds {
            Value::String(kind) => vec![kind.as_str()],
            Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let fits = kinds.iter().any(|kind| match *kind {
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "string" => value.is_string(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            _ => false,
        });
        if !fits {
            return Err(format!("{at}: {value} is not {kinds:?}"));
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            return Err(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let Some(object) = value.as_object() {
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            if !object.contains_key(name) {
                return Err(format!("{at}: required field {name} missing"));
            }
        }
        for (key, field) in object {
            if let Some(property) = schema["properties"].get(key) {
                check(document, property, field, &format!("{at}.{key}"))?;
            } else if let Some(extra) = schema.get("additionalProperties") {
                if extra.is_object() {
                    check(document, extra, field, &format!("{at}.{key}"))?;
                }
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (index, item) in array.iter().enumerate() {
            check(document, items, item, &format!("{at}[{index}]"))?;
        }
    }
    Ok(())
}

/// The schema the document gives for `method path`'s answer with `status`.
fn response_schema(document: &Value, method: &str, path: &str, status: u16) -> Value {
    let response = &document["paths"][path][method]["responses"][status.to_string()];
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} documents no JSON answer for {status}"
    );
    schema.clone()
}

/// Sends a request and checks its answer against the document.
struct Checker<'a> {
    app: &'a TestApp,
    document: Value,
    checked: usize,
}

impl Checker<'_> {
    async fn call(
        &mut self,
        method: &str,
        path: &str,
        concrete_path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let mut request = self.app.client.request(
            Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method"),
            self.app.url(concrete_path),
        );
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        let schema = response_schema(&self.document, method, path, status);
        if let Err(mismatch) = check(&self.document, &schema, &value, "answer") {
            panic!("{method} {concrete_path} {status}: {mismatch}\n{value:#}");
        }
        self.checked += 1;
        value
    }
}

#[actix_web::test]
async fn real_answers_match_their_documented_schemas() {
    let app = app().await;
    let document: Value = serde_json::from_str(&served_document(&app).await).expect("JSON");
    let admin = app.admin_token().await;
    let mut c = Checker {
        app: &app,
        document,
        checked: 0,
    };
    c.call("get", "/healthz", "/healthz", None, None).await;
    c.call("get", "/readyz", "/readyz", None, None).await;
    let creds = json!({"username": "schema-ada", "password": "tulip-84-x"});
    let user = c
        .call(
            "post",
            "/api/v1/users",
            "/api/v1/users",
            None,
            Some(creds.clone()),
        )
        .await;
    c.call(
        "post",
        "/api/v1/users",
        "/api/v1/users",
        None,
        Some(creds.clone()),
    )
    .await; // 409
    c.call(
        "post",
        "/api/v1/users",
        "/api/v1/users",
        None,
        Some(json!({"username": "x", "password": "tulip-84-x"})),
    )
    .await; // 422
    let session = c
        .call(
            "post",
            "/api/v1/sessions",
            "/api/v1/sessions",
            None,
            Some(creds),
        )
        .await;
    let token = session["token"].as_str().expect("a token").to_owned();
    c.call("get", "/api/v1/me", "/api/v1/me", Some(&token), None)
        .await;
    c.call("get", "/api/v1/me", "/api/v1/me", None, None).await; // 401
    c.call("get", "/api/v1/time", "/api/v1/time", None, None)
        .await;

    let created = c
        .call(
            "post",
            "/api/v1/admin/auctions",
            "/api/v1/admin/auctions",
            Some(&admin),
            Some(AuctionBuilder::new().reserve(5_000).buy_now(90_000).json()),
        )
        .await;
    c.call(
        "post",
        "/api/v1/admin/auctions",
        "/api/v1/admin/auctions",
        Some(&admin),
        Some(json!({"title": "", "currency": "eur", "starting_price": 1, "ends_at": "soon"})),
    )
    .await; // 422 validation_failed
    let id = created["id"].as_str().expect("an id").to_owned();
    let at = |template: &str| template.replace("{id}", &id);
    let bids = "/api/v1/auctions/{id}/bids";
    c.call(
        "post",
        bids,
        &at(bids),
        Some(&token),
        Some(json!({"request_id": "s1", "amount": 1000, "max_amount": 3000})),
    )
    .await;
    c.call(
        "post",
        bids,
        &at(bids),
        Some(&token),
        Some(json!({"request_id": "s2", "amount": 5})),
    )
    .await; // 409 already_leading or 422 below_minimum
    c.call(
        "post",
        bids,
        &at(bids),
        Some(&token),
        Some(json!({"request_id": "", "amount": 5})),
    )
    .await; // 422 invalid_request_id
    c.call("get", bids, &at(bids), None, None).await;
    c.call("get", "/api/v1/auctions", "/api/v1/auctions", None, None)
        .await;
    c.call(
        "get",
        "/api/v1/auctions",
        "/api/v1/auctions?status=nope",
        None,
        None,
    )
    .await; // 400
    let show = "/api/v1/auctions/{id}";
    let snapshot = c.call("get", show, &at(show), None, None).await;
    // The check is strict: an extra field or a missing one is a mismatch.
    let schema = response_schema(&c.document, "get", show, 200);
    let mut extra = snapshot.clone();
    extra["surprise"] = json!(1);
    assert!(check(&c.document, &schema, &extra, "answer").is_err());
    let mut missing = snapshot.clone();
    missing.as_object_mut().expect("an object").remove("seq");
    assert!(check(&c.document, &schema, &missing, "answer").is_err());
    let mut wrong = snapshot;
    wrong["status"] = json!("sold");
    assert!(check(&c.document, &schema, &wrong, "answer").is_err());
    c.call("get", show, &concrete(show), None, None).await; // 404
    let admin_show = "/api/v1/admin/auctions/{id}";
    c.call("get", admin_show, &at(admin_show), Some(&admin), None)
        .await;
    c.call("get", admin_show, &at(admin_show), Some(&token), None)
        .await; // 403
    let close = "/api/v1/admin/auctions/{id}/close";
    c.call("post", close, &at(close), Some(&admin), None).await;
    c.call("post", close, &at(close), Some(&admin), None).await; // 409
    let buy = "/api/v1/auctions/{id}/buy-now";
    c.call(
        "post",
        buy,
        &at(buy),
        Some(&token),
        Some(json!({"request_id": "b1"})),
    )
    .await; // 409 auction_not_open
    c.call(
        "get",
        "/api/v1/admin/users",
        "/api/v1/admin/users",
        Some(&admin),
        None,
    )
    .await;
    let user_id = user["id"].as_str().expect("an id").to_owned();
    let ban = "/api/v1/admin/users/{id}/ban";
    c.call(
        "post",
        ban,
        &ban.replace("{id}", &user_id),
        Some(&admin),
        None,
    )
    .await;
    let unban = "/api/v1/admin/users/{id}/unban";
    c.call(
        "post",
        unban,
        &unban.replace("{id}", &user_id),
        Some(&admin),
        None,
    )
    .await;
    c.call(
        "get",
        "/api/v1/admin/audit",
        "/api/v1/admin/audit",
        Some(&admin),
        None,
    )
    .await;
    c.call("delete", "/api/v1/sessions", "/api/v1/sessions", None, None)
        .await; // 401
    assert!(c.checked >= 29, "{} answers checked", c.checked);
    app.stop().await;
}
