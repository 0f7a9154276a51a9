//! The admin page: plain HTML, CSS and JavaScript compiled into the binary and
//! served at `<prefix>/ui/`.
//!
//! The files hold no data, so they are served without a token; the page asks
//! the operator for one and sends it with every call to the API next to it
//! (`<prefix>/…`, found relative to the page's own URL, so any prefix works).
//! Every answer carries `Cache-Control: no-cache` and a strong `ETag` computed
//! at compile time: a browser asks again on each load and gets `304 Not
//! Modified` until the binary changes.

use poem::http::{HeaderMap, Method, StatusCode, header};
use poem::{Endpoint, Request, Response, Result};

/// One file of the page.
struct Asset {
    /// Its name under `<prefix>/ui/`.
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
    /// FNV-1a of the body: the `ETag`, without a hash at run time.
    hash: u64,
}

/// FNV-1a (64 bit): cheap, evaluated by the compiler, and plenty to tell two
/// builds' files apart.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_str!(concat!("../ui/", $name)),
            hash: fnv1a(include_str!(concat!("../ui/", $name)).as_bytes()),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// The page's files; `index.html` is the page itself.
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("dialogs.css", "text/css; charset=utf-8"),
    asset!("phone.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("format.js", JS),
    asset!("chart.js", JS),
    asset!("actions.js", JS),
    asset!("bulk.js", JS),
    asset!("pager.js", JS),
    asset!("jobs.js", JS),
    asset!("job.js", JS),
    asset!("run_with.js", JS),
    asset!("form.js", JS),
    asset!("executions.js", JS),
    asset!("executors.js", JS),
    asset!("manual_addresses.js", JS),
    asset!("scheduler.js", JS),
    asset!("cleanup.js", JS),
    asset!("download.js", JS),
];

/// The page may load only its own files and call only its own origin.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The endpoint serving the page, to nest at `<prefix>/ui`.
pub(crate) fn endpoint() -> UiEndpoint {
    UiEndpoint
}

/// Serves [`ASSETS`] by name; the bare directory is `index.html`.
pub(crate) struct UiEndpoint;

impl Endpoint for UiEndpoint {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return Err(poem::Error::from_status(StatusCode::METHOD_NOT_ALLOWED));
        }
        let name = req.uri().path().trim_start_matches('/');
        if name.is_empty() {
            let path = req.original_uri().path();
            if !path.ends_with('/') {
                // The page's links are relative to `…/ui/`: `…/ui` would
                // resolve them one level too high.
                return Ok(Response::builder()
                    .status(StatusCode::PERMANENT_REDIRECT)
                    .header(header::LOCATION, format!("{path}/"))
                    .finish());
            }
        }
        let name = if name.is_empty() { "index.html" } else { name };
        let asset = ASSETS
            .iter()
            .find(|asset| asset.name == name)
            .ok_or_else(|| poem::Error::from_status(StatusCode::NOT_FOUND))?;
        Ok(answer(asset, req.headers()))
    }
}

/// The asset, or `304 Not Modified` when the browser holds this version. A
/// `HEAD` gets the same headers; the server leaves the body out.
fn answer(asset: &Asset, request_headers: &HeaderMap) -> Response {
    let etag = format!("\"{:016x}\"", asset.hash);
    let builder = Response::builder()
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::ETAG, etag.as_str())
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::REFERRER_POLICY, "no-referrer")
        .header(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    if matches_etag(request_headers, &etag) {
        return builder.status(StatusCode::NOT_MODIFIED).finish();
    }
    builder
        .header(header::CONTENT_TYPE, asset.content_type)
        .body(asset.body)
}

/// Whether `If-None-Match` names `etag` (or `*`).
fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_its_own_etag_and_a_known_type() {
        let mut hashes: Vec<u64> = ASSETS.iter().map(|a| a.hash).collect();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), ASSETS.len());
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        for asset in ASSETS {
            assert!(!asset.body.is_empty(), "{} is empty", asset.name);
        }
    }

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::IF_NONE_MATCH, value.parse().unwrap());
            headers
        };
        assert!(matches_etag(&with("\"ab\""), "\"ab\""));
        assert!(matches_etag(&with("\"x\", W/\"ab\""), "\"ab\""));
        assert!(matches_etag(&with("*"), "\"ab\""));
        assert!(!matches_etag(&with("\"abc\""), "\"ab\""));
        assert!(!matches_etag(&HeaderMap::new(), "\"ab\""));
    }
}
