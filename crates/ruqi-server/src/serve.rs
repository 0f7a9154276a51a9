//! Running the server: database, scheduler, admin API, and a graceful stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::endpoint::make_sync;
use poem::listener::{Acceptor, BoxAcceptor, Listener, TcpListener};
use poem::middleware::Tracing;
use poem::web::Redirect;
use poem::{EndpointExt, Route};
use ruqi::Registry;
use ruqi_api::AdminApi;
use ruqi_xxl::{XxlCenter, XxlOptions};
use sea_orm::Database;

use crate::builtin::{BuiltinOptions, register_builtins};
use crate::connections::{ConnectionLimits, serve_connections};
use crate::outbound::GuardedWebhooks;
use crate::request_rules::{HostRule, RequestRules};
use crate::{Error, Options, OwnAddresses};

/// Where the admin API is mounted.
const API_PREFIX: &str = "/api";

/// Where the admin page is, under the API: `/` leads a browser there.
const PAGE_PATH: &str = "/api/ui/";

/// How long requests in flight may take to finish once a stop was asked for.
const REQUEST_GRACE: Duration = Duration::from_secs(10);

/// Runs the server until Ctrl-C or SIGTERM: binds the listen address, opens
/// (and migrates) the database, starts the scheduler with the built-in
/// functions, serves the admin API under `/api` (with the admin page at
/// `/api/ui/`, where `/` leads) and the API for XXL-JOB executors under
/// `--xxl-prefix` (`/xxl-job-admin/api`), and on the signal stops taking requests,
/// then lets running jobs finish (or records them as cancelled).
///
/// Connections are served under the limits of `options` (header read and
/// idle timeouts, a connection cap), requests under its rules (a body size
/// limit, a cap on event streams, JSON-only writes, and without a token a
/// `Host` naming the server); `http` jobs and alert webhooks refuse the
/// server's own address unless `--allow-self-requests` is given.
///
/// A start that fails leaves the node registry as it found it: a port in
/// use, or a database that cannot be opened or migrated, fails the start
/// before the scheduler registers the node.
pub async fn serve(options: Options) -> Result<(), Error> {
    let options = options.read_token_files()?;
    let stop = StopSignals::install()?;
    let addrs = resolve(&options.listen).await?;
    options.check_exposure(&addrs)?;
    let acceptor = bind(&options.listen, &addrs).await?;
    let bound: Vec<SocketAddr> = acceptor
        .local_addr()
        .iter()
        .filter_map(|addr| addr.as_socket_addr().copied())
        .collect();
    let own = if options.allow_self_requests {
        OwnAddresses::none()
    } else {
        OwnAddresses::new(bound.clone())
    };

    let db = Database::connect(&options.database_url).await?;
    ruqi::migrate(&db).await?;

    let mut xxl = XxlOptions {
        access_token: options.xxl_access_token.clone(),
        ..XxlOptions::default()
    };
    if let Some(wait) = options.xxl_lost_after {
        xxl.lost_after = wait;
    }
    let center = XxlCenter::new(db.clone(), xxl);
    let mut registry = Registry::new();
    center.register(&mut registry);
    register_builtins(
        &mut registry,
        &BuiltinOptions {
            allow_shell: options.allow_shell,
            refused_targets: own.clone(),
        },
    );
    let mut feed = ruqi::FeedConfig::default();
    if let Some(interval) = options.poll_interval {
        feed.poll_interval = interval;
    }
    let store = ruqi::SeaOrmStore::new(db.clone()).change_feed(feed);
    let mut builder = ruqi::Scheduler::builder(std::sync::Arc::new(store), registry);
    if let Some(name) = &options.node_name {
        builder = builder.node_name(name);
    }
    if let Some(interval) = options.heartbeat_interval {
        builder = builder.heartbeat_interval(interval);
    }
    if let Some(wait) = options.takeover_after {
        builder = builder.takeover_after(wait);
    }
    builder = builder.alerts(ruqi::AlertConfig {
        default_url: options.alert_webhook.clone(),
        transport: Some(std::sync::Arc::new(GuardedWebhooks::new(own))),
        ..Default::default()
    });
    let scheduler = builder.start().await?;

    let auth = options.auth();
    if !auth.is_enabled() {
        tracing::warn!(
            "no token configured: the admin API is open to whoever can reach {}",
            options.listen
        );
    }
    // Without a token the API trusts whoever reaches it, so the Host must
    // name this server; with tokens, only when hosts are listed.
    let hosts = (!auth.is_enabled() || !options.allowed_hosts.is_empty())
        .then(|| HostRule::new(bound.clone(), &options.allowed_hosts));
    let rules = Arc::new(RequestRules::new(
        hosts,
        API_PREFIX,
        options.max_body_size,
        usize::try_from(options.max_event_streams).unwrap_or(usize::MAX),
    ));
    let executors = center.executor_api();
    let app = Route::new()
        .nest(
            API_PREFIX,
            AdminApi::new(db, scheduler.clone()).auth(auth).endpoint(API_PREFIX),
        )
        .nest(&options.xxl_prefix, executors.endpoint())
        .at("/", make_sync(|_| Redirect::see_other(PAGE_PATH)))
        // Outside the API (and before it: a path that does not decode) the
        // answers are JSON of the API's shape too.
        .catch_all_error(ruqi_api::error_to_json)
        .around(move |ep, req| {
            let rules = rules.clone();
            async move { rules.apply(&ep, req).await }
        })
        .with(Tracing)
        .map_to_response()
        .boxed();

    for addr in &bound {
        tracing::info!(
            node = %scheduler.status().node,
            shell = options.allow_shell,
            "ruqi-server listening on http://{addr} (admin page at http://{addr}{PAGE_PATH}, Swagger UI at http://{addr}{API_PREFIX}/docs, XXL-JOB executors at http://{addr}{}/)",
            options.xxl_prefix
        );
    }
    let limits = ConnectionLimits {
        header_read_timeout: options.header_read_timeout,
        idle_timeout: options.idle_timeout,
        max_connections: usize::try_from(options.max_connections).unwrap_or(usize::MAX),
    };
    serve_connections(acceptor, app, limits, stop.received(), REQUEST_GRACE).await;
    tracing::info!("no longer taking requests; stopping the scheduler");
    scheduler.shutdown().await;
    Ok(())
}

/// The addresses `listen` names.
async fn resolve(listen: &str) -> Result<Vec<SocketAddr>, Error> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(listen)
        .await
        .map_err(|source| Error::Listen {
            address: listen.to_owned(),
            source,
        })?
        .collect();
    Ok(addrs)
}

/// Binds every address of `addrs` (what `listen` resolved to). Connections
/// that arrive before the server runs wait in the backlog.
async fn bind(listen: &str, addrs: &[SocketAddr]) -> Result<BoxAcceptor, Error> {
    let listener = addrs
        .iter()
        .map(|addr| TcpListener::bind(*addr).boxed())
        .reduce(|all, one| all.combine(one).boxed())
        .ok_or_else(|| Error::Listen {
            address: listen.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "resolves to no address"),
        })?;
    listener.into_acceptor().await.map_err(|source| Error::Listen {
        address: listen.to_owned(),
        source,
    })
}

/// Ctrl-C and SIGTERM, listened for from the start: a stop asked for while
/// the server is still starting is kept, and honoured once it serves.
struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn install() -> Result<Self, Error> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt()).map_err(Error::Serve)?,
                terminate: signal(SignalKind::terminate()).map_err(Error::Serve)?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Resolves on the first Ctrl-C or SIGTERM.
    async fn received(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => tracing::info!("Ctrl-C: shutting down"),
            _ = self.terminate.recv() => tracing::info!("SIGTERM: shutting down"),
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            if tokio::signal::ctrl_c().await.is_ok() {
                tracing::info!("Ctrl-C: shutting down");
            } else {
                std::future::pending::<()>().await;
            }
        }
    }
}
