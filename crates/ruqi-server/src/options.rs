//! The server's flags, each with an environment variable to fall back on.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use ruqi_api::Auth;

use crate::Error;

/// Where the server keeps its jobs unless told otherwise: `ruqi.db` in the
/// working directory, created if missing.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://ruqi.db?mode=rwc";

/// Where the server listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8200";

/// ruqi as a standalone service: the rows of `job_info` are the schedule,
/// managed in a browser at / and over HTTP at /api (Swagger UI at /api/docs).
///
/// ```
/// use clap::Parser;
/// use ruqi_server::Options;
///
/// let options = Options::try_parse_from(["ruqi-server", "--token", "s3cret", "--allow-shell"]).unwrap();
/// assert!(options.allow_shell);
/// assert!(options.auth().is_enabled());
///
/// // Tokens are better kept out of the command line, which every user of the host can read.
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("admin"), "first\n\n  second  \n").unwrap();
/// let file = dir.path().join("admin");
/// let options = Options::try_parse_from(["ruqi-server", "--token-file", file.to_str().unwrap()])
///     .unwrap()
///     .read_token_files()
///     .unwrap();
/// assert_eq!(options.token, ["first", "second"]);
/// ```
#[derive(Debug, Clone, Parser)]
#[command(name = "ruqi-server", version, about, long_about = None)]
pub struct Options {
    /// Database URL: sqlite://…, postgres://… or mysql://…
    #[arg(long, env = "RUQI_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: String,

    /// Address to listen on (host:port).
    #[arg(long, env = "RUQI_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: String,

    /// Bearer token with the admin scope (comma-separated for several).
    /// Without any token the API is open, and only a loopback address is allowed.
    /// On a shared host prefer --token-file or RUQI_TOKEN: every user can read
    /// a process's command line.
    #[arg(long, env = "RUQI_TOKEN", value_delimiter = ',', hide_env_values = true)]
    pub token: Vec<String>,

    /// File holding admin-scope tokens, one per line (blank lines and
    /// surrounding spaces ignored); adds to --token.
    #[arg(long, env = "RUQI_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,

    /// Bearer token with the read-only scope (comma-separated for several).
    #[arg(long, env = "RUQI_READ_TOKEN", value_delimiter = ',', hide_env_values = true)]
    pub read_token: Vec<String>,

    /// File holding read-only tokens, one per line; adds to --read-token.
    #[arg(long, env = "RUQI_READ_TOKEN_FILE")]
    pub read_token_file: Option<PathBuf>,

    /// This process's name in job_execution.node [default: host name and process id]
    #[arg(long, env = "RUQI_NODE_NAME")]
    pub node_name: Option<String>,

    /// Register the `shell` function: whoever can write a job can then run any
    /// command as this server's user.
    #[arg(long, env = "RUQI_ALLOW_SHELL")]
    pub allow_shell: bool,

    /// The time unit of this node's lease (500ms, 2s, 1m…): it renews the
    /// lease twice per interval, fences itself after two intervals without a
    /// renewal, and its peers take it for dead after three [default: 1s]
    #[arg(long, env = "RUQI_HEARTBEAT_INTERVAL", value_parser = parse_duration)]
    pub heartbeat_interval: Option<Duration>,

    /// How long the other nodes sharing the database leave a fire to the node
    /// that owns it before they claim it themselves (500ms, 2s…) [default: 2s]
    #[arg(long, env = "RUQI_TAKEOVER_AFTER", value_parser = parse_duration)]
    pub takeover_after: Option<Duration>,

    /// How often the change feed reads the `job_change` log: the poll on
    /// SQLite and MySQL, the safety poll behind LISTEN on PostgreSQL [default: 1s]
    #[arg(long, env = "RUQI_POLL_INTERVAL", value_parser = parse_duration)]
    pub poll_interval: Option<Duration>,

    /// Listen on a non-loopback address without any token: anyone who can
    /// reach the server can then change its jobs.
    #[arg(long, env = "RUQI_ALLOW_UNAUTHENTICATED")]
    pub allow_unauthenticated: bool,

    /// Webhook (http:// or https://) that receives a JSON POST for each failed,
    /// timed-out, missed or lost run of a job without an alert_url of its own
    #[arg(long, env = "RUQI_ALERT_WEBHOOK", value_parser = parse_webhook, hide_env_values = true)]
    pub alert_webhook: Option<String>,

    /// Let `http` jobs and alert webhooks send requests to this server's own
    /// listen address (its admin API), directly or through a redirect.
    #[arg(long, env = "RUQI_ALLOW_SELF_REQUESTS")]
    pub allow_self_requests: bool,

    /// Host names (host or host:port, comma-separated) the `Host` header may
    /// name besides the listen address and, on loopback, `localhost`. Without
    /// a token the `Host` header is always checked (against DNS rebinding);
    /// with tokens, only when this flag is given.
    #[arg(long = "allowed-host", env = "RUQI_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// How long a client has to send a request's headers, from the moment
    /// the connection opens or the previous answer was sent; a connection
    /// that has not sent them by then is closed (an idle keep-alive one too).
    #[arg(long, env = "RUQI_HEADER_READ_TIMEOUT", value_parser = parse_duration, default_value = "10s")]
    pub header_read_timeout: Duration,

    /// How long a connection may go without a byte read or written (a body
    /// sent too slowly, an answer not read) before it is closed. Keep it
    /// above 15s, the keep-alive of `/api/events`.
    #[arg(long, env = "RUQI_IDLE_TIMEOUT", value_parser = parse_duration, default_value = "60s")]
    pub idle_timeout: Duration,

    /// The largest request body accepted (bytes, or with KiB, MiB or GiB);
    /// a larger one is answered 413.
    #[arg(long, env = "RUQI_MAX_BODY_SIZE", value_parser = parse_size, default_value = "1MiB")]
    pub max_body_size: usize,

    /// How many connections are served at once; further ones wait to be
    /// accepted until one closes (requests on open connections go on).
    #[arg(long, env = "RUQI_MAX_CONNECTIONS", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// How many clients may follow `/api/events` at once; one more is
    /// answered 503.
    #[arg(long, env = "RUQI_MAX_EVENT_STREAMS", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_event_streams: u32,

    /// Where XXL-JOB executors find this center's executor API (registry,
    /// registryRemove, callback). A Java executor's admin address is this
    /// without its last `/api`; pyxxl's `xxl_admin_baseurl` is this with a
    /// trailing `/`. It may not lie under /api.
    #[arg(long, env = "RUQI_XXL_PREFIX", default_value = ruqi_xxl::DEFAULT_PREFIX, value_parser = parse_xxl_prefix)]
    pub xxl_prefix: String,

    /// The token XXL-JOB executors must send (their `accessToken`, header
    /// XXL-JOB-ACCESS-TOKEN); without it any executor that reaches the
    /// server may register.
    #[arg(long, env = "RUQI_XXL_ACCESS_TOKEN", hide_env_values = true)]
    pub xxl_access_token: Option<String>,

    /// How long an `xxl` run waits for its callback once its executor has
    /// left the registry before it fails as lost (30s, 10m…) [default: 10m]
    #[arg(long, env = "RUQI_XXL_LOST_AFTER", value_parser = parse_duration)]
    pub xxl_lost_after: Option<Duration>,
}

impl Options {
    /// Reads `--token-file` and `--read-token-file` (if given) into `token` and
    /// `read_token`. A file that cannot be read, or holds no token, fails: a
    /// server meant to be protected must not start open, or with a token
    /// nobody has.
    pub fn read_token_files(mut self) -> Result<Self, Error> {
        if let Some(path) = self.token_file.take() {
            self.token.extend(tokens_in_file("--token-file", &path)?);
        }
        if let Some(path) = self.read_token_file.take() {
            self.read_token.extend(tokens_in_file("--read-token-file", &path)?);
        }
        Ok(self)
    }

    /// The tokens as the admin API checks them; no token at all disables the check.
    pub fn auth(&self) -> Auth {
        let tokens = || self.token.iter().chain(&self.read_token).filter(|t| !t.is_empty());
        if tokens().next().is_none() {
            return Auth::disabled();
        }
        let auth = self
            .token
            .iter()
            .fold(Auth::bearer(), |auth, t| auth.admin_token(t.as_str()));
        self.read_token.iter().fold(auth, |auth, t| auth.read_token(t.as_str()))
    }

    /// Refuses to serve an open API (no token) on anything but loopback,
    /// unless `--allow-unauthenticated` says the network is trusted.
    pub fn check_exposure(&self, addrs: &[SocketAddr]) -> Result<(), Error> {
        if self.auth().is_enabled() || self.allow_unauthenticated {
            return Ok(());
        }
        match addrs.iter().find(|addr| !addr.ip().is_loopback()) {
            Some(addr) => Err(Error::Unprotected {
                addr: *addr,
                shell: if self.allow_shell {
                    ", and run commands through `shell`"
                } else {
                    ""
                },
            }),
            None => Ok(()),
        }
    }
}

/// The tokens in the file at `path`: one per line, blank lines and the spaces
/// around each token ignored.
fn tokens_in_file(flag: &'static str, path: &Path) -> Result<Vec<String>, Error> {
    let failed = |reason: String| Error::TokenFile {
        flag,
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| failed(format!("cannot be read: {e}")))?;
    let tokens: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    if tokens.is_empty() {
        return Err(failed("holds no token (one per line expected)".to_owned()));
    }
    Ok(tokens)
}

/// A webhook address: `http://` or `https://`, a host, no spaces.
fn parse_webhook(text: &str) -> Result<String, String> {
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
        .ok_or("must start with http:// or https://")?;
    if rest.is_empty() || rest.starts_with('/') || text.chars().any(char::is_whitespace) {
        return Err("is not a valid web address".to_owned());
    }
    Ok(text.to_owned())
}

/// A path to mount the executor API at: starts with `/`, is not `/`, and
/// keeps clear of the admin API at `/api`; a trailing `/` is dropped.
fn parse_xxl_prefix(text: &str) -> Result<String, String> {
    let prefix = text.trim().trim_end_matches('/');
    if !prefix.starts_with('/') {
        return Err("must start with /".to_owned());
    }
    if prefix == "/api" || prefix.starts_with("/api/") {
        return Err("may not lie under /api, where the admin API is".to_owned());
    }
    if prefix.chars().any(|c| c.is_whitespace() || c == '?' || c == '#') {
        return Err("is not a path".to_owned());
    }
    Ok(prefix.to_owned())
}

/// A size in bytes: `1048576`, `512KiB`, `1MiB`, `2GiB` (`K`, `M`, `G`, `KB`… read the same).
fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: usize = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size (such as 1048576, 512KiB or 1MiB)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        other => return Err(format!("`{other}` is not a size unit (KiB, MiB or GiB)")),
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// A period written as a job's interval rule is: `500ms`, `10s`, `1m30s`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let period = ruqi::trigger::parse_interval(text).map_err(|e| e.reason)?;
    period.to_std().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Options {
        Options::try_parse_from(std::iter::once("ruqi-server").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn the_xxl_prefix_is_a_path_clear_of_the_admin_api() {
        assert_eq!(parse(&[]).xxl_prefix, "/xxl-job-admin/api");
        assert_eq!(parse(&["--xxl-prefix", "/center/api/"]).xxl_prefix, "/center/api");
        for refused in ["center", "/", "/api", "/api/xxl", "/a b"] {
            let args = ["ruqi-server", "--xxl-prefix", refused];
            assert!(Options::try_parse_from(args).is_err(), "{refused}");
        }
    }

    #[test]
    fn defaults() {
        let options = parse(&[]);
        assert_eq!(options.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(options.listen, DEFAULT_LISTEN);
        assert!(!options.auth().is_enabled());
        assert!(!options.allow_shell);
        assert_eq!(options.heartbeat_interval, None);
        assert_eq!(options.takeover_after, None);
        assert_eq!(options.poll_interval, None);
        assert_eq!(options.alert_webhook, None);
        assert_eq!(options.header_read_timeout, Duration::from_secs(10));
        assert_eq!(options.idle_timeout, Duration::from_secs(60));
        assert_eq!(options.max_body_size, 1024 * 1024);
        assert_eq!(options.max_connections, 256);
        assert_eq!(options.max_event_streams, 32);
        assert!(options.allowed_hosts.is_empty());
        assert!(!options.allow_self_requests);
    }

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("2 MiB"), Ok(2 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
        assert!(parse_size("99999999999999999999GiB").is_err());
        assert!(Options::try_parse_from(["ruqi-server", "--max-connections", "0"]).is_err());
    }

    #[test]
    fn the_alert_webhook_is_a_web_address() {
        let options = parse(&["--alert-webhook", "https://hooks.example.com/ruqi"]);
        assert_eq!(options.alert_webhook.as_deref(), Some("https://hooks.example.com/ruqi"));
        for bad in ["hooks.example.com", "ftp://x", "https://", "http://a b"] {
            assert!(
                Options::try_parse_from(["ruqi-server", "--alert-webhook", bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn periods_read_like_interval_rules() {
        let options = parse(&["--heartbeat-interval", "1500ms"]);
        assert_eq!(options.heartbeat_interval, Some(Duration::from_millis(1500)));
        let options = parse(&["--takeover-after", "500ms"]);
        assert_eq!(options.takeover_after, Some(Duration::from_millis(500)));
        let options = parse(&["--poll-interval", "250ms"]);
        assert_eq!(options.poll_interval, Some(Duration::from_millis(250)));
        let options = parse(&["--xxl-lost-after", "30s"]);
        assert_eq!(options.xxl_lost_after, Some(Duration::from_secs(30)));
        assert!(Options::try_parse_from(["ruqi-server", "--heartbeat-interval", "soon"]).is_err());
    }

    #[test]
    fn tokens_get_their_scopes() {
        let auth = parse(&["--token", "a,b", "--read-token", "r"]).auth();
        assert_eq!(auth.scope_of("a"), Some(ruqi_api::Scope::Admin));
        assert_eq!(auth.scope_of("b"), Some(ruqi_api::Scope::Admin));
        assert_eq!(auth.scope_of("r"), Some(ruqi_api::Scope::Read));
        assert!(parse(&["--read-token", "r"]).auth().is_enabled());
    }

    #[test]
    fn token_files_add_one_token_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let admin = dir.path().join("admin");
        let read = dir.path().join("read");
        std::fs::write(&admin, "  a1  \r\n\n\ta2\n").unwrap();
        std::fs::write(&read, "r1").unwrap();
        let options = parse(&[
            "--token",
            "cli",
            "--token-file",
            admin.to_str().unwrap(),
            "--read-token-file",
            read.to_str().unwrap(),
        ])
        .read_token_files()
        .unwrap();
        assert_eq!(options.token, ["cli", "a1", "a2"]);
        assert_eq!(options.read_token, ["r1"]);
        let auth = options.auth();
        assert_eq!(auth.scope_of("a2"), Some(ruqi_api::Scope::Admin));
        assert_eq!(auth.scope_of("r1"), Some(ruqi_api::Scope::Read));
    }

    #[test]
    fn an_empty_or_missing_token_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let blank = dir.path().join("blank");
        std::fs::write(&blank, "\n   \n").unwrap();
        let err = parse(&["--read-token-file", blank.to_str().unwrap()])
            .read_token_files()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--read-token-file") && err.contains("holds no token"),
            "{err}"
        );
        let missing = dir.path().join("missing");
        let err = parse(&["--token-file", missing.to_str().unwrap()])
            .read_token_files()
            .unwrap_err()
            .to_string();
        assert!(err.contains("--token-file") && err.contains("cannot be read"), "{err}");
    }

    #[test]
    fn an_open_api_stays_on_loopback_unless_allowed() {
        let any: SocketAddr = "0.0.0.0:8200".parse().unwrap();
        let loopback: SocketAddr = "127.0.0.1:8200".parse().unwrap();
        let v6: SocketAddr = "[::1]:8200".parse().unwrap();
        assert!(parse(&[]).check_exposure(&[loopback, v6]).is_ok());
        let err = parse(&["--allow-shell"]).check_exposure(&[loopback, any]).unwrap_err();
        assert!(err.to_string().contains("--allow-unauthenticated"), "{err}");
        assert!(err.to_string().contains("shell"), "{err}");
        assert!(parse(&["--allow-unauthenticated"]).check_exposure(&[any]).is_ok());
        assert!(parse(&["--token", "t"]).check_exposure(&[any]).is_ok());
    }
}
