//! Builds the application: store, accounts, hub, registry and the HTTP
//! server with every route (this is the one place to read them all). The
//! server binds its own listener, so tests ask for port 0 and read it back.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::http::Method;
use actix_web::{middleware, web, App, HttpResponse, HttpServer};
use anyhow::Context as _;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::sync::watch;

use crate::auction::{Registry, RegistryConfig};
use crate::auth::rate_limit::{AuthLimits, BidRateLimiter, ConnectionLimiter, ReplayLimiter};
use crate::auth::Accounts;
use crate::cluster::redis::{RedisCluster, RedisConfig};
use crate::cluster::{Hub, Publisher};
use crate::config::ServeConfig;
use crate::http::client_limits::{self, ConnectionCap};
use crate::http::{self, extract, ApiError, AppState};
use crate::store::{self, Store, TimedStore};

/// The longest any store call may take before it is answered `unavailable`.
const STORE_CALL_LIMIT: Duration = Duration::from_secs(4);

/// A replay budget holds this many seconds of its rate.
const REPLAY_BURST_SECS: u32 = 5;

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    /// `/metrics` on a listener of its own (`GAVEL_METRICS_BIND`).
    metrics_server: Option<(u16, Server)>,
    state: web::Data<AppState>,
    shutdown_tx: watch::Sender<bool>,
}

/// The process-wide Prometheus recorder (installed once).
fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                // Durations, in seconds.
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0,
                ])
                .ok()?
                // Bids per commit: up to GAVEL_MAX_BATCH (1,024 by default).
                .set_buckets_for_metric(
                    Matcher::Full("gavel_commit_batch_size".into()),
                    &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1024.0],
                )
                .ok()?
                // Auctions and rows per node-wide pipeline transaction.
                .set_buckets_for_metric(
                    Matcher::Full("gavel_commit_auctions_per_tx".into()),
                    &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1024.0],
                )
                .ok()?
                .set_buckets_for_metric(
                    Matcher::Full("gavel_commit_rows_per_tx".into()),
                    &[
                        1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1024.0, 2048.0,
                    ],
                )
                .ok()?
                .install_recorder()
                .ok()
                .inspect(|_| crate::telemetry::register_metrics())
        })
        .clone()
}

impl Application {
    /// Connects the store (applying migrations), creates the start-up admin,
    /// binds the listener and assembles the server. Call inside an actix system.
    pub async fn build(config: ServeConfig) -> anyhow::Result<Self> {
        let store: Arc<dyn Store> = Arc::new(TimedStore::new(
            store::connect_seeded(&config.database_url, config.alias_key_seed.as_deref())
                .await
                .context("opening the database")?,
            STORE_CALL_LIMIT,
        ));
        let accounts = Accounts::new(
            Arc::clone(&store),
            chrono::Duration::hours(config.session_hours.max(1)),
        )
        .await?;
        if let (Some(user), Some(password)) = (&config.admin_user, &config.admin_password) {
            if accounts
                .ensure_admin(user, password)
                .await
                .with_context(|| {
                    format!(
                        "creating the start-up admin {user} (GAVEL_ADMIN_USER, GAVEL_ADMIN_PASSWORD)"
                    )
                })?
            {
                tracing::info!(username = %user, "start-up admin created");
            } else {
                tracing::info!(
                    username = %user,
                    "start-up admin {user} already exists; GAVEL_ADMIN_PASSWORD was not applied \
                     and its password and role are unchanged (gavel admin set-password {user} \
                     changes the password)"
                );
            }
        }

        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let hub = Hub::new();
        let node_id = config.node_name();
        let cluster = match &config.redis_url {
            None => None,
            Some(url) => Some(
                RedisCluster::start(
                    RedisConfig {
                        url: url.clone(),
                        node_id: node_id.clone(),
                        prefix: config.redis_prefix.clone(),
                        lease_ttl: Duration::from_millis(config.lease_ttl_ms.max(300)),
                        forward_timeout: Duration::from_secs(3),
                    },
                    Arc::clone(&hub),
                    Arc::clone(&store),
                    shutdown_rx.clone(),
                )
                .context("setting up Redis coordination")?,
            ),
        };
        let publisher: Arc<dyn Publisher> = match &cluster {
            Some(cluster) => Arc::clone(cluster) as Arc<dyn Publisher>,
            None => Arc::clone(&hub) as Arc<dyn Publisher>,
        };
        let registry = Registry::new(
            Arc::clone(&store),
            publisher,
            cluster.clone(),
            RegistryConfig {
                max_batch: config.max_batch.max(1),
                idle_timeout: config.actor_idle(),
                commit_pipeline: config.commit_pipeline.is_on(),
                store_deadline: STORE_CALL_LIMIT,
                ..RegistryConfig::default()
            },
        );

        let listener =
            TcpListener::bind(config.bind).with_context(|| format!("binding {}", config.bind))?;
        let local = listener.local_addr()?;
        let origins = if config.public_origins.is_empty() {
            vec![
                format!("http://{local}"),
                format!("http://localhost:{}", local.port()),
            ]
        } else {
            config.origins()
        };

        registry.spawn_sweeper(shutdown_rx.clone());
        forget_bans_on_change(&hub, &registry, shutdown_rx.clone());

        let state = web::Data::new(AppState {
            store,
            accounts,
            registry,
            hub,
            bid_limiter: BidRateLimiter::new(config.bid_rate_per_sec, config.bid_burst),
            auth_limits: AuthLimits::per_minute(
                config.login_rate_per_min,
                config.auth_ip_rate_per_min,
                config.auth_rate_per_min,
            ),
            stream_limiter: ConnectionLimiter::new(config.max_streams_per_ip),
            body_deadline: Duration::from_secs(config.body_timeout_secs),
            replay_limiter: ReplayLimiter::new(
                config.replay_events_per_sec_per_ip,
                config
                    .replay_events_per_sec_per_ip
                    .saturating_mul(REPLAY_BURST_SECS),
            ),
            secure_cookies: config
                .secure_cookies
                .unwrap_or_else(|| origins.iter().all(|o| o.starts_with("https://"))),
            origins,
            metrics: metrics_handle(),
            metrics_token: config
                .metrics_token
                .clone()
                .filter(|token| !token.is_empty()),
            cluster,
            node_id: node_id.clone(),
            accepting: AtomicBool::new(true),
            shutdown: shutdown_rx,
        });

        let metrics_place = web::Data::new(if config.metrics_bind.is_some() {
            http::ops::MetricsPlace::Elsewhere
        } else {
            http::ops::MetricsPlace::Here
        });
        let metrics_server = match config.metrics_bind {
            None => None,
            Some(address) => Some(metrics_server(address, state.clone())?),
        };
        let app_state = state.clone();
        let connection_cap = ConnectionCap::new(config.max_connections_per_ip);
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(metrics_place.clone())
                .app_data(extract::json_config())
                .app_data(extract::query_config())
                .app_data(extract::path_config())
                .app_data(extract::payload_config())
                .wrap(middleware::from_fn(client_limits::limit_body_time))
                .wrap(middleware::from_fn(http::request_id::assign_request_id))
                .wrap(middleware::from_fn(http::headers::default_headers))
                .configure(routes)
                .default_service(web::to(not_found))
        })
        .on_connect(move |connection, extensions| {
            bound_send_buffer(connection);
            connection_cap.on_connect(connection, extensions);
        })
        // Slow clients: headers must arrive within 10 s of connecting.
        .client_request_timeout(Duration::from_secs(10))
        .client_disconnect_timeout(Duration::from_secs(5))
        .listen(listener)?
        .disable_signals()
        .shutdown_timeout(config.shutdown_timeout_secs);
        if let Some(workers) = config.workers {
            server = server.workers(workers.max(1));
        }
        let server = server.run();
        tracing::info!(address = %local, node = %node_id, "gavel listening");
        Ok(Self {
            port: local.port(),
            server,
            metrics_server,
            state,
            shutdown_tx,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address to open in a browser: the first allowed origin
    /// (`GAVEL_PUBLIC_ORIGINS`, else `http://<bound address>`).
    pub fn url(&self) -> String {
        self.state
            .origins
            .first()
            .cloned()
            .unwrap_or_else(|| format!("http://127.0.0.1:{}", self.port))
    }

    /// The port of `/metrics`' own listener, when it has one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(port, _)| *port)
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// A handle to stop the server from elsewhere (tests).
    pub fn handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            server: self.server.handle(),
            metrics_server: self
                .metrics_server
                .as_ref()
                .map(|(_, server)| server.handle()),
            state: self.state.clone(),
            shutdown_tx: self.shutdown_tx.clone(),
        }
    }

    /// Runs until stopped through a [`ShutdownHandle`] (tests).
    pub async fn run(mut self) -> std::io::Result<()> {
        self.spawn_metrics_server();
        self.server.await
    }

    /// Runs `/metrics`' own listener beside the main one (stopped by the
    /// [`ShutdownHandle`], which holds its handle).
    fn spawn_metrics_server(&mut self) {
        if let Some((_, server)) = self.metrics_server.take() {
            actix_web::rt::spawn(async move {
                if let Err(error) = server.await {
                    tracing::error!(error = %error, "the metrics listener failed");
                }
            });
        }
    }

    /// Runs until SIGINT/SIGTERM (or a [`ShutdownHandle`]), then drains.
    pub async fn run_until_stopped(mut self) -> std::io::Result<()> {
        let handle = self.handle();
        self.spawn_metrics_server();
        actix_web::rt::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown signal received; draining");
            handle.shutdown().await;
        });
        self.server.await
    }
}

/// Makes this node's actors forget a user's cached ban status whenever a
/// ban or unban is announced, here or (through Redis) on another node.
fn forget_bans_on_change(hub: &Hub, registry: &Arc<Registry>, mut shutdown: watch::Receiver<bool>) {
    use crate::cluster::identity::IdentityChange;
    use tokio::sync::broadcast::error::RecvError;
    let mut changes = hub.identity.subscribe();
    let registry = Arc::clone(registry);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                change = changes.recv() => match change {
                    Ok(IdentityChange::Banned { user } | IdentityChange::Unbanned { user }) => {
                        registry.ban_changed(user);
                    }
                    Ok(IdentityChange::SessionEnded { .. }) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                },
                _ = shutdown.changed() => return,
            }
        }
    });
}

/// Stops a running application gracefully.
#[derive(Clone)]
pub struct ShutdownHandle {
    server: ServerHandle,
    metrics_server: Option<ServerHandle>,
    state: web::Data<AppState>,
    shutdown_tx: watch::Sender<bool>,
}

impl ShutdownHandle {
    /// Readiness goes false, streams are told to end, then the server stops
    /// accepting and waits for in-flight requests.
    pub async fn shutdown(&self) {
        self.state.accepting.store(false, Ordering::SeqCst);
        let _ = self.shutdown_tx.send(true);
        // Give WebSocket and SSE loops a moment to send their goodbyes.
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.server.stop(true).await;
        if let Some(metrics_server) = &self.metrics_server {
            metrics_server.stop(false).await;
        }
        // Finish every batch already queued, then stop the actors.
        self.state.registry.drain(Duration::from_secs(10)).await;
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Kernel send buffer per connection. A fixed size turns off autotuning,
/// which on loopback grows to megabytes: with it bounded, a client that
/// stops reading fills its queue quickly and is dropped as a slow consumer,
/// and ten thousand idle watchers cost little kernel memory.
const SEND_BUFFER_BYTES: usize = 64 * 1024;

fn bound_send_buffer(connection: &dyn std::any::Any) {
    if let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
        let _ = socket2::SockRef::from(stream).set_send_buffer_size(SEND_BUFFER_BYTES);
        let _ = stream.set_nodelay(true);
    }
}

/// A server answering only `GET /metrics`, on `address`.
fn metrics_server(
    address: std::net::SocketAddr,
    state: web::Data<AppState>,
) -> anyhow::Result<(u16, Server)> {
    let listener = TcpListener::bind(address)
        .with_context(|| format!("binding the metrics listener {address}"))?;
    let port = listener.local_addr()?.port();
    let place = web::Data::new(http::ops::MetricsPlace::Here);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(place.clone())
            .service(resource("/metrics").route(web::get().to(http::ops::metrics)))
            .default_service(web::to(not_found))
    })
    .workers(1)
    .listen(listener)?
    .disable_signals()
    .shutdown_timeout(1)
    .run();
    tracing::info!(address = %address, port, "metrics listening on their own address");
    Ok((port, server))
}

/// Unknown paths: the API's JSON 404 under `/api/`, an HTML page elsewhere.
async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    if req.path() == "/api" || req.path().starts_with("/api/") {
        Err(ApiError::not_found("route"))
    } else {
        Ok(http::pages::not_found_response())
    }
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this method is not allowed here",
    ))
}

/// A resource whose unknown methods answer 405 in the API's error shape.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// The API's routes: each path with the methods it answers, as mounted by
/// [`routes`] and as listed by [`api_routes`] (so the list and the server
/// cannot differ). Every one is documented in docs/openapi.json
/// (`crate::http::openapi`; tests/api/openapi.rs checks both ways).
fn api_mounts() -> Vec<(&'static str, Vec<(Method, actix_web::Route)>)> {
    use http::{accounts, admin, auctions, bids, openapi, ops, pages, sse, ws};
    let get = |route| (Method::GET, route);
    let post = |route| (Method::POST, route);
    let patch = |route| (Method::PATCH, route);
    vec![
        ("/healthz", vec![get(pages::get_or_head().to(ops::healthz))]),
        ("/readyz", vec![get(pages::get_or_head().to(ops::readyz))]),
        ("/metrics", vec![get(web::get().to(ops::metrics))]),
        ("/api/docs", vec![get(web::get().to(openapi::docs_page))]),
        (
            "/api/v1/openapi.json",
            vec![get(web::get().to(openapi::openapi_json))],
        ),
        (
            "/api/v1/users",
            vec![post(web::post().to(accounts::register))],
        ),
        (
            "/api/v1/sessions",
            vec![
                post(web::post().to(accounts::login)),
                (Method::DELETE, web::delete().to(accounts::logout)),
            ],
        ),
        ("/api/v1/me", vec![get(web::get().to(accounts::me))]),
        (
            "/api/v1/me/offers",
            vec![get(web::get().to(crate::http::second_chance::mine))],
        ),
        ("/api/v1/time", vec![get(web::get().to(auctions::time))]),
        ("/api/v1/ws", vec![get(web::get().to(ws::connect))]),
        ("/api/v1/auctions", vec![get(web::get().to(auctions::list))]),
        (
            "/api/v1/auctions/{id}",
            vec![get(web::get().to(auctions::show))],
        ),
        (
            "/api/v1/auctions/{id}/bids",
            vec![
                get(web::get().to(auctions::bids)),
                post(web::post().to(bids::place_bid)),
            ],
        ),
        (
            "/api/v1/auctions/{id}/buy-now",
            vec![post(web::post().to(bids::buy_now))],
        ),
        (
            "/api/v1/auctions/{id}/events",
            vec![get(web::get().to(sse::events))],
        ),
        (
            "/api/v1/admin/auctions",
            vec![post(web::post().to(admin::create))],
        ),
        (
            "/api/v1/admin/auctions/{id}",
            vec![
                get(web::get().to(admin::show)),
                patch(web::patch().to(crate::http::edit::edit)),
            ],
        ),
        (
            "/api/v1/admin/auctions/{id}/cancel",
            vec![post(web::post().to(admin::cancel))],
        ),
        (
            "/api/v1/admin/auctions/{id}/close",
            vec![post(web::post().to(admin::close))],
        ),
        (
            "/api/v1/admin/auctions/{id}/void",
            vec![post(web::post().to(admin::void))],
        ),
        (
            "/api/v1/admin/auctions/{id}/pause",
            vec![post(web::post().to(admin::pause))],
        ),
        (
            "/api/v1/admin/auctions/{id}/resume",
            vec![post(web::post().to(admin::resume))],
        ),
        (
            "/api/v1/admin/auctions/{id}/extend",
            vec![post(web::post().to(admin::extend))],
        ),
        (
            "/api/v1/admin/auctions/{id}/withdraw",
            vec![post(web::post().to(admin::withdraw))],
        ),
        (
            "/api/v1/admin/auctions/{id}/second-chance",
            vec![post(web::post().to(crate::http::second_chance::create))],
        ),
        (
            "/api/v1/auctions/{id}/second-chance/accept",
            vec![post(web::post().to(crate::http::second_chance::accept))],
        ),
        (
            "/api/v1/auctions/{id}/second-chance/decline",
            vec![post(web::post().to(crate::http::second_chance::decline))],
        ),
        (
            "/api/v1/admin/auctions/{id}/relist",
            vec![post(web::post().to(crate::http::relist::relist))],
        ),
        (
            "/api/v1/admin/users",
            vec![get(web::get().to(admin::users))],
        ),
        (
            "/api/v1/admin/users/{id}/ban",
            vec![post(web::post().to(admin::ban))],
        ),
        (
            "/api/v1/admin/users/{id}/unban",
            vec![post(web::post().to(admin::unban))],
        ),
        (
            "/api/v1/admin/audit",
            vec![get(web::get().to(admin::audit_log))],
        ),
    ]
}

/// Every (method, path) of the API that [`routes`] mounts, paths as in
/// docs/openapi.json (`{id}` for a path parameter). `GET` routes of
/// `/healthz` and `/readyz` answer `HEAD` too. The HTML pages
/// (`crate::http::pages::routes`) are not in this list.
pub fn api_routes() -> Vec<(Method, &'static str)> {
    api_mounts()
        .into_iter()
        .flat_map(|(path, methods)| methods.into_iter().map(move |(method, _)| (method, path)))
        .collect()
}

/// Every route of the server: the pages, then the API.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(http::pages::routes);
    for (path, methods) in api_mounts() {
        let mut mounted = resource(path);
        for (_, route) in methods {
            mounted = mounted.route(route);
        }
        cfg.service(mounted);
    }
}
