//! The one error type of `ruqi-server`.

use std::net::SocketAddr;

/// Why the server did not start, or stopped early.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A listen address other than loopback was asked for without any token.
    #[error(
        "refusing to listen on {addr} without a token: anyone who can reach it could change jobs{shell}. \
         Give --token-file (or RUQI_TOKEN), listen on a loopback address such as 127.0.0.1, \
         or pass --allow-unauthenticated if the network is trusted"
    )]
    Unprotected {
        /// The address that is not loopback.
        addr: SocketAddr,
        /// Names `shell` when it is on (it makes the exposure worse).
        shell: &'static str,
    },
    /// A token file cannot be read or holds no token.
    #[error("{flag} {path:?} {reason}")]
    TokenFile {
        /// The flag that named the file.
        flag: &'static str,
        /// The file as given.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The listen address does not resolve or cannot be bound.
    #[error("listen address {address:?}: {source}")]
    Listen {
        /// The address as given.
        address: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The database could not be opened or migrated. (The URL is not
    /// repeated: it may hold a password.)
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// The scheduler did not start.
    #[error("scheduler: {0}")]
    Scheduler(#[from] ruqi::CoreError),
    /// Serving failed.
    #[error("serving: {0}")]
    Serve(std::io::Error),
}
