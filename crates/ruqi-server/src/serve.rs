//! Running the server: database, scheduler, admin API, and a graceful stop.

use std::net::SocketAddr;
use std::time::Duration;

use poem::endpoint::make_sync;
use poem::listener::{Acceptor, BoxAcceptor, Listener, TcpListener};
use poem::middleware::Tracing;
use poem::web::Redirect;
use poem::{EndpointExt, Route, Server};
use ruqi::Registry;
use ruqi_api::AdminApi;
use sea_orm::Database;

use crate::builtin::{BuiltinOptions, register_builtins};
use crate::{Error, Options};

/// Where the admin API is mounted.
const API_PREFIX: &str = "/api";

/// Where the admin page is, under the API: `/` leads a browser there.
const PAGE_PATH: &str = "/api/ui/";

/// How long requests in flight may take to finish once a stop was asked for.
const REQUEST_GRACE: Duration = Duration::from_secs(10);

/// Runs the server until Ctrl-C or SIGTERM: binds the listen address, opens
/// (and migrates) the database, starts the scheduler with the built-in
/// functions, serves the admin API under `/api` (with the admin page at
/// `/api/ui/`, where `/` leads), and on the signal stops taking requests,
/// then lets running jobs finish (or records them as cancelled).
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

    let db = Database::connect(&options.database_url).await?;
    ruqi::migrate(&db).await?;

    let mut registry = Registry::new();
    register_builtins(
        &mut registry,
        &BuiltinOptions {
            allow_shell: options.allow_shell,
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
        transport: Some(std::sync::Arc::new(ruqi::HttpTransport::new())),
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
    let app = Route::new()
        .nest(
            API_PREFIX,
            AdminApi::new(db, scheduler.clone()).auth(auth).endpoint(API_PREFIX),
        )
        .at("/", make_sync(|_| Redirect::see_other(PAGE_PATH)))
        // Outside the API (and before it: a path that does not decode) the
        // answers are JSON of the API's shape too.
        .catch_all_error(ruqi_api::error_to_json)
        .with(Tracing);

    for addr in acceptor
        .local_addr()
        .iter()
        .filter_map(|addr| addr.as_socket_addr().copied())
    {
        tracing::info!(
            node = %scheduler.status().node,
            shell = options.allow_shell,
            "ruqi-server listening on http://{addr} (admin page at http://{addr}{PAGE_PATH}, Swagger UI at http://{addr}{API_PREFIX}/docs)"
        );
    }
    let served = Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(app, stop.received(), Some(REQUEST_GRACE))
        .await;
    tracing::info!("no longer taking requests; stopping the scheduler");
    scheduler.shutdown().await;
    served.map_err(Error::Serve)
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
