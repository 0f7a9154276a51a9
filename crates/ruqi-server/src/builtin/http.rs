//! `http`: sends one HTTP request and records the response.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::error::Error as _;
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Response, StatusCode, Url};
use ruqi::JobContext;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use super::seconds;
use crate::outbound::{self, OwnAddresses, SendError};

/// How much of a response body goes into the execution's output; the rest is not read.
pub const RESPONSE_BODY_LIMIT_BYTES: usize = 16 * 1024;

/// How long a request may take, headers and body, when `timeout_s` is not given.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// How much of the response body a failure message quotes.
const ERROR_BODY_PREVIEW_CHARS: usize = 200;

/// The arguments of `http`, checked: an http(s) URL, valid headers, at most one body.
///
/// In `job_info.args` they are either an object
/// `{"method", "url", "headers", "json" | "body", "timeout_s", "expect_status"}` (only `url`
/// is required) or a string: `"https://host/path"` sends a GET, and RuQi's
/// `"https://host/path#{\"k\": 1}"` POSTs the JSON after the `#`. A `#` that is not followed by
/// a JSON object or array is part of the URL.
///
/// ```
/// use ruqi_server::builtin::{HttpArgs, HttpBody, HttpMethod};
///
/// let args: HttpArgs = serde_json::from_value(serde_json::json!("https://example.com/hook#{\"k\": 1}")).unwrap();
/// assert_eq!(args.method, HttpMethod::Post);
/// assert_eq!(args.url.as_str(), "https://example.com/hook");
/// assert_eq!(args.body, Some(HttpBody::Json(serde_json::json!({"k": 1}))));
///
/// let refused = serde_json::from_value::<HttpArgs>(serde_json::json!({"url": "ftp://example.com/"}));
/// assert!(refused.unwrap_err().to_string().contains("only http and https"));
/// ```
#[derive(Debug, Clone)]
pub struct HttpArgs {
    /// The request method: `GET` unless given, or `POST` when there is a body.
    pub method: HttpMethod,
    /// The URL, always `http` or `https`.
    pub url: Url,
    /// Headers sent with the request.
    pub headers: HeaderMap,
    /// The request body, if any.
    pub body: Option<HttpBody>,
    /// How long the whole exchange may take, response body included.
    pub timeout: Duration,
    /// The statuses that count as success; `None` means any 2xx.
    pub expect_status: Option<Vec<StatusCode>>,
}

/// The body of an `http` request.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpBody {
    /// Sent as JSON, with `Content-Type: application/json` unless the headers name another.
    Json(Value),
    /// Sent as it is, with `Content-Type: text/plain; charset=utf-8` unless the headers name another.
    Text(String),
}

/// The HTTP methods `http` sends; written in upper case in `args`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `OPTIONS`
    Options,
}

impl HttpMethod {
    const ALL: [HttpMethod; 7] = [
        Self::Get,
        Self::Head,
        Self::Post,
        Self::Put,
        Self::Patch,
        Self::Delete,
        Self::Options,
    ];

    /// The method as it goes on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
        }
    }

    fn to_reqwest(self) -> reqwest::Method {
        match self {
            Self::Get => reqwest::Method::GET,
            Self::Head => reqwest::Method::HEAD,
            Self::Post => reqwest::Method::POST,
            Self::Put => reqwest::Method::PUT,
            Self::Patch => reqwest::Method::PATCH,
            Self::Delete => reqwest::Method::DELETE,
            Self::Options => reqwest::Method::OPTIONS,
        }
    }
}

// Written by hand: the derive would describe each documented variant in a `oneOf`,
// whose validation errors say far less than a plain `enum`'s.
impl JsonSchema for HttpMethod {
    fn schema_name() -> Cow<'static, str> {
        "HttpMethod".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = Self::ALL.iter().map(|m| m.as_str()).collect();
        json_schema!({ "type": "string", "enum": names })
    }
}

/// The object form of the arguments as written in `job_info.args`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct HttpFields {
    /// `GET` by default, `POST` when `json` or `body` is given.
    method: Option<HttpMethod>,
    /// The `http://` or `https://` URL to request.
    url: HttpUrl,
    /// Request headers, by name. Secret: a read-only token sees the names, not the values.
    #[serde(default)]
    #[schemars(extend("x-ruqi-secret" = true))]
    headers: BTreeMap<String, String>,
    /// A JSON body, sent as `application/json` unless `headers` name another content type.
    json: Option<Value>,
    /// A text body, sent as `text/plain; charset=utf-8` unless `headers` name another content type.
    body: Option<String>,
    /// Seconds the whole request may take, response body included (default 30).
    #[schemars(extend("exclusiveMinimum" = 0))]
    timeout_s: Option<f64>,
    /// The statuses that count as success (default: any 2xx).
    #[schemars(inner(range(min = 100, max = 599)))]
    expect_status: Option<Vec<u16>>,
}

impl HttpFields {
    fn check(self) -> Result<HttpArgs, String> {
        let body = match (self.json, self.body) {
            (Some(_), Some(_)) => return Err("give `json` or `body`, not both".to_owned()),
            (Some(json), None) => Some(HttpBody::Json(json)),
            (None, Some(text)) => Some(HttpBody::Text(text)),
            (None, None) => None,
        };
        let method = self.method.unwrap_or(if body.is_some() {
            HttpMethod::Post
        } else {
            HttpMethod::Get
        });
        let mut headers = HeaderMap::new();
        for (name, value) in self.headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("headers: `{name}` is not a valid header name"))?;
            let value = HeaderValue::from_str(&value)
                .map_err(|_| format!("headers.{name}: the value holds characters a header cannot carry"))?;
            headers.append(header, value);
        }
        let timeout = match self.timeout_s {
            Some(s) => seconds("timeout_s", s)?,
            None => DEFAULT_HTTP_TIMEOUT,
        };
        let expect_status = self
            .expect_status
            .map(|codes| {
                codes
                    .into_iter()
                    .map(|code| match StatusCode::from_u16(code) {
                        Ok(status) if (100..600).contains(&code) => Ok(status),
                        _ => Err(format!("expect_status: {code} is not an HTTP status (100 to 599)")),
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        Ok(HttpArgs {
            method,
            url: self.url.0,
            headers,
            body,
            timeout,
            expect_status,
        })
    }
}

impl HttpArgs {
    /// Reads RuQi's string form: a URL, optionally followed by `#` and a JSON object or array to POST.
    fn from_shorthand(text: &str) -> Result<Self, String> {
        let (url, body) = split_shorthand(text)?;
        Ok(Self {
            method: if body.is_some() {
                HttpMethod::Post
            } else {
                HttpMethod::Get
            },
            url,
            headers: HeaderMap::new(),
            body: body.map(HttpBody::Json),
            timeout: DEFAULT_HTTP_TIMEOUT,
            expect_status: None,
        })
    }

    fn is_success(&self, status: StatusCode) -> bool {
        match &self.expect_status {
            Some(expected) => expected.contains(&status),
            None => status.is_success(),
        }
    }
}

/// Splits `url#{json}` at the first `#` followed by a JSON object or array; otherwise it is all URL.
fn split_shorthand(text: &str) -> Result<(Url, Option<Value>), String> {
    for (at, _) in text.match_indices('#') {
        let rest = text[at + 1..].trim_start();
        if !(rest.starts_with('{') || rest.starts_with('[')) {
            continue;
        }
        if let Ok(body) = serde_json::from_str::<Value>(rest) {
            return Ok((parse_http_url(&text[..at])?, Some(body)));
        }
    }
    Ok((parse_http_url(text)?, None))
}

fn parse_http_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("url `{text}` is not a valid URL: {e}"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!(
            "url `{text}` uses the {other} scheme; only http and https URLs are supported"
        )),
    }
}

/// An `http` or `https` URL, checked when the row is written.
struct HttpUrl(Url);

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_http_url(&text).map(HttpUrl).map_err(D::Error::custom)
    }
}

impl JsonSchema for HttpUrl {
    fn schema_name() -> Cow<'static, str> {
        "HttpUrl".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "uri" })
    }
}

impl<'de> Deserialize<'de> for HttpArgs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Through `Value` rather than an untagged enum, so a mistake in the object form is
        // reported as itself instead of as "matched no variant".
        match Value::deserialize(deserializer)? {
            Value::String(text) => Self::from_shorthand(&text).map_err(D::Error::custom),
            object @ Value::Object(_) => HttpFields::deserialize(object)
                .map_err(D::Error::custom)?
                .check()
                .map_err(D::Error::custom),
            other => Err(D::Error::custom(format!(
                "expected a URL string or an object with `url`, not {other}"
            ))),
        }
    }
}

// One schema for both forms, without `anyOf`: `properties` and `required` only constrain
// objects, so a string passes them, and errors in the object form still name the field.
impl JsonSchema for HttpArgs {
    fn schema_name() -> Cow<'static, str> {
        "HttpArgs".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = HttpFields::json_schema(generator);
        schema.insert("type".to_owned(), json!(["object", "string"]));
        schema.insert(
            "description".to_owned(),
            json!(
                "An object with at least `url`, or a URL string: `https://host/path` sends a GET, \
                 `https://host/path#{\"k\": 1}` POSTs the JSON after the `#`."
            ),
        );
        schema
    }
}

/// Sends the request and writes `HTTP <status>` and the response body (at most
/// [`RESPONSE_BODY_LIMIT_BYTES`]) to the execution's output.
///
/// A status outside `expect_status` (by default, any non-2xx) fails the run with a message
/// naming the status and quoting the start of the body; the body is in the output either way.
/// Connection errors and the timeout fail it with their reason. When the run is cancelled the
/// request is dropped at once and the run fails with `cancelled`. Redirects are followed (at
/// most 10); any address may be reached: see [`run_http_guarded`] for the server's own rule.
pub async fn run_http(ctx: &JobContext, args: HttpArgs) -> Result<(), String> {
    run_http_guarded(ctx, args, &OwnAddresses::none()).await
}

/// [`run_http`], refusing to reach `own` (the server's own admin API) on the first request
/// or on any redirect: the run fails with a message saying so, and nothing is sent there.
/// Other ports of the same host stay reachable.
pub async fn run_http_guarded(ctx: &JobContext, args: HttpArgs, own: &OwnAddresses) -> Result<(), String> {
    // Deserialized args are checked already; these fields are public, so check again.
    parse_http_url(args.url.as_str())?;
    let client = shared_client()?;
    tracing::debug!(
        job_id = ctx.job_id(),
        execution_id = ctx.execution_id(),
        method = args.method.as_str(),
        url = %args.url,
        "sending http request"
    );
    tokio::select! {
        // `biased` so a token cancelled before the run started stops it before any request.
        biased;
        () = ctx.cancellation_token().cancelled() => Err(format!("cancelled before {} {} finished", args.method.as_str(), args.url)),
        result = exchange(client, ctx, &args, own) => result,
    }
}

async fn exchange(client: &Client, ctx: &JobContext, args: &HttpArgs, own: &OwnAddresses) -> Result<(), String> {
    let mut request = client
        .request(args.method.to_reqwest(), args.url.clone())
        .headers(args.headers.clone());
    match &args.body {
        Some(HttpBody::Json(json)) => request = request.json(json),
        Some(HttpBody::Text(text)) => {
            if !args.headers.contains_key(CONTENT_TYPE) {
                request = request.header(CONTENT_TYPE, "text/plain; charset=utf-8");
            }
            request = request.body(text.clone());
        }
        None => {}
    }
    let request = request.build().map_err(|e| describe_error(&e, args))?;
    let response = match outbound::send(client, own, request, args.timeout).await {
        Ok(response) => response,
        Err(SendError::Http(e)) => return Err(describe_error(&e, args)),
        Err(SendError::Refused(refused)) => return Err(refused.to_string()),
        Err(e @ SendError::TooManyRedirects(_)) => {
            return Err(format!(
                "{} {} failed following a redirect: {e}",
                args.method.as_str(),
                args.url
            ));
        }
    };
    let status = response.status();
    ctx.log(format!("HTTP {status}"));
    let body = read_capped(response).await.map_err(|e| describe_error(&e, args))?;
    if !body.is_empty() {
        ctx.log(&body);
    }
    if args.is_success(status) {
        return Ok(());
    }
    let expected = match &args.expect_status {
        Some(codes) => {
            let codes: Vec<String> = codes.iter().map(|c| c.as_u16().to_string()).collect();
            format!("expected {}", codes.join(" or "))
        }
        None => "expected 2xx".to_owned(),
    };
    let preview: String = body.chars().take(ERROR_BODY_PREVIEW_CHARS).collect();
    let ellipsis = if preview.len() < body.len() { "…" } else { "" };
    Err(format!(
        "HTTP {status} from {} {} ({expected}): {}{ellipsis}",
        args.method.as_str(),
        args.url,
        preview.trim_end()
    ))
}

/// Reads the body up to [`RESPONSE_BODY_LIMIT_BYTES`], noting when it was cut; the rest is never read.
async fn read_capped(mut response: Response) -> reqwest::Result<String> {
    let total = response.content_length();
    let mut bytes = Vec::new();
    let mut cut = false;
    while let Some(chunk) = response.chunk().await? {
        let room = RESPONSE_BODY_LIMIT_BYTES - bytes.len();
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            cut = true;
            break;
        }
        bytes.extend_from_slice(&chunk);
    }
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if cut {
        let of = total.map_or_else(String::new, |t| format!(" of {t}"));
        text.push_str(&format!(
            "\n[response body cut at {RESPONSE_BODY_LIMIT_BYTES} bytes{of}]"
        ));
    }
    Ok(text)
}

/// Says what went wrong in words, down to the root cause (reqwest's own message names only the URL).
fn describe_error(error: &reqwest::Error, args: &HttpArgs) -> String {
    let target = format!("{} {}", args.method.as_str(), args.url);
    if error.is_timeout() {
        return format!("{target} timed out after {}s (timeout_s)", args.timeout.as_secs_f64());
    }
    let mut reasons = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !reasons.contains(&text) {
            reasons.push(text);
        }
        source = cause.source();
    }
    let what = if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "failed reading the response"
    } else if error.is_redirect() {
        "failed following a redirect"
    } else {
        "failed"
    };
    if reasons.is_empty() {
        format!("{target} {what}: {error}")
    } else {
        format!("{target} {what}: {}", reasons.join(": "))
    }
}

/// One client for the whole process, so connections to the same host are reused between runs.
/// It follows no redirect itself: [`outbound::send`] does, checking each hop.
fn shared_client() -> Result<&'static Client, String> {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client);
    }
    let client = outbound::client_builder()
        .build()
        .map_err(|e| format!("could not set up the HTTP client: {e}"))?;
    Ok(CLIENT.get_or_init(|| client))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: Value) -> Result<HttpArgs, String> {
        serde_json::from_value(args).map_err(|e| e.to_string())
    }

    #[test]
    fn plain_url_string_is_a_get() {
        let args = parse(json!("https://example.com/path?q=1")).unwrap();
        assert_eq!(args.method, HttpMethod::Get);
        assert_eq!(args.url.as_str(), "https://example.com/path?q=1");
        assert_eq!(args.body, None);
        assert_eq!(args.timeout, DEFAULT_HTTP_TIMEOUT);
    }

    #[test]
    fn json_after_hash_is_posted() {
        let args = parse(json!(r#"http://example.com/hook#{"k": 1, "s": "a#b"}"#)).unwrap();
        assert_eq!(args.method, HttpMethod::Post);
        assert_eq!(args.url.as_str(), "http://example.com/hook");
        assert_eq!(args.body, Some(HttpBody::Json(json!({"k": 1, "s": "a#b"}))));
    }

    #[test]
    fn hash_without_json_is_a_fragment() {
        let args = parse(json!("https://example.com/page#section")).unwrap();
        assert_eq!(args.method, HttpMethod::Get);
        assert_eq!(args.url.fragment(), Some("section"));
        let args = parse(json!("https://example.com/page#{not json")).unwrap();
        assert_eq!(args.body, None);
        let args = parse(json!("https://example.com/#1")).unwrap();
        assert_eq!(args.body, None, "a bare number after # is a fragment, not a body");
    }

    #[test]
    fn a_later_hash_can_carry_the_json() {
        let args = parse(json!(r#"https://example.com/p#frag#[1, 2]"#)).unwrap();
        assert_eq!(args.url.as_str(), "https://example.com/p#frag");
        assert_eq!(args.body, Some(HttpBody::Json(json!([1, 2]))));
    }

    #[test]
    fn object_form_defaults() {
        let args = parse(json!({"url": "http://127.0.0.1:8080/x"})).unwrap();
        assert_eq!(args.method, HttpMethod::Get);
        assert!(args.headers.is_empty());
        let args = parse(json!({"url": "http://h/x", "json": {"a": 1}})).unwrap();
        assert_eq!(args.method, HttpMethod::Post);
        let args = parse(json!({"url": "http://h/x", "body": "text", "method": "PUT"})).unwrap();
        assert_eq!(args.method, HttpMethod::Put);
        assert_eq!(args.body, Some(HttpBody::Text("text".to_owned())));
    }

    #[test]
    fn object_form_reads_every_field() {
        let args = parse(json!({
            "method": "DELETE",
            "url": "https://h/x",
            "headers": {"X-Token": "abc"},
            "timeout_s": 2.5,
            "expect_status": [204, 404],
        }))
        .unwrap();
        assert_eq!(args.method, HttpMethod::Delete);
        assert_eq!(args.headers["x-token"], "abc");
        assert_eq!(args.timeout, Duration::from_millis(2500));
        assert_eq!(
            args.expect_status,
            Some(vec![StatusCode::NO_CONTENT, StatusCode::NOT_FOUND])
        );
        assert!(args.is_success(StatusCode::NOT_FOUND));
        assert!(!args.is_success(StatusCode::OK));
    }

    #[test]
    fn non_http_urls_are_refused() {
        for url in ["ftp://example.com/f", "file:///etc/passwd", "mailto:a@b.c"] {
            let err = parse(json!(url)).unwrap_err();
            assert!(err.contains("only http and https"), "{url}: {err}");
            let err = parse(json!({ "url": url })).unwrap_err();
            assert!(err.contains("only http and https"), "{url}: {err}");
        }
        let err = parse(json!("not a url")).unwrap_err();
        assert!(err.contains("is not a valid URL"), "{err}");
    }

    #[test]
    fn mistakes_in_the_object_form_name_the_field() {
        let err = parse(json!({"url": "http://h/", "json": 1, "body": "x"})).unwrap_err();
        assert!(err.contains("not both"), "{err}");
        let err = parse(json!({"url": "http://h/", "header": {}})).unwrap_err();
        assert!(err.contains("unknown field `header`"), "{err}");
        let err = parse(json!({"method": "GET"})).unwrap_err();
        assert!(err.contains("missing field `url`"), "{err}");
        let err = parse(json!({"url": "http://h/", "method": "FETCH"})).unwrap_err();
        assert!(err.contains("FETCH"), "{err}");
        let err = parse(json!({"url": "http://h/", "timeout_s": 0})).unwrap_err();
        assert!(err.contains("timeout_s"), "{err}");
        let err = parse(json!({"url": "http://h/", "expect_status": [42]})).unwrap_err();
        assert!(err.contains("expect_status: 42"), "{err}");
        let err = parse(json!({"url": "http://h/", "headers": {"Bad Name": "x"}})).unwrap_err();
        assert!(err.contains("Bad Name"), "{err}");
        let err = parse(json!({"url": "http://h/", "headers": {"X": "a\nb"}})).unwrap_err();
        assert!(err.contains("headers.X"), "{err}");
        let err = parse(json!(42)).unwrap_err();
        assert!(err.contains("expected a URL string or an object"), "{err}");
    }

    #[test]
    fn schema_accepts_both_forms_and_names_fields() {
        let schema = serde_json::to_value(schemars::schema_for!(HttpArgs)).unwrap();
        assert_eq!(schema["type"], json!(["object", "string"]));
        assert_eq!(schema["required"], json!(["url"]));
        assert_eq!(schema["properties"]["method"]["enum"][0], "GET");
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(schema["properties"]["expect_status"]["items"]["maximum"], 599);
    }
}
