//! The admin page under the prefix: served without a token, every file it
//! loads embedded and served with its type, cached by ETag.

mod common;

use std::collections::BTreeSet;

use common::{PREFIX, TestApi};
use reqwest::Method;

/// The relative URLs of `src="…"` and `href="…"` in `html`, and of the
/// `from './…'` imports in a module.
fn references(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for marker in ["src=\"", "href=\"", "from './"] {
        for (at, _) in text.match_indices(marker) {
            let rest = &text[at + marker.len()..];
            let end = rest.find(['"', '\'']).unwrap_or(rest.len());
            let target = &rest[..end];
            if !target.starts_with('#') && !target.contains(':') && !target.contains('$') {
                found.insert(target.trim_start_matches("./").to_owned());
            }
        }
    }
    found
}

#[tokio::test]
async fn the_page_and_every_file_it_loads_are_served_without_a_token() {
    let api = TestApi::start().await;
    let page = api.http.get(format!("{}/ui/", api.base)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(page.headers()["cache-control"], "no-cache");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(
        policy.contains("script-src 'self'") && policy.contains("connect-src 'self'"),
        "{policy}"
    );
    let html = page.text().await.unwrap();

    // Follow the page's module graph: a file it names but the binary lacks is a 404 here.
    let mut pending: Vec<String> = references(&html).into_iter().collect();
    let mut seen = BTreeSet::new();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let response = api.http.get(format!("{}/ui/{name}", api.base)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{name}");
        let expected = match name.rsplit('.').next() {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("svg") => "image/svg+xml",
            other => panic!("{name}: unexpected kind {other:?}"),
        };
        assert_eq!(response.headers()["content-type"], expected, "{name}");
        let text = response.text().await.unwrap();
        if name.ends_with(".js") {
            pending.extend(references(&text));
        }
    }
    for module in [
        "app.js",
        "api.js",
        "jobs.js",
        "job.js",
        "run_with.js",
        "form.js",
        "executions.js",
        "executors.js",
        "manual_addresses.js",
        "scheduler.js",
        "chart.js",
        "actions.js",
        "bulk.js",
        "pager.js",
        "cleanup.js",
        "download.js",
    ] {
        assert!(seen.contains(module), "{module} is not loaded: {seen:?}");
    }
}

#[tokio::test]
async fn the_bare_path_leads_to_the_slash_that_relative_links_need() {
    let api = TestApi::start().await;
    let answer = api.http.get(format!("{}/ui", api.base)).send().await.unwrap();
    assert_eq!(answer.status(), 308);
    assert_eq!(answer.headers()["location"], format!("{PREFIX}/ui/"));
}

#[tokio::test]
async fn an_unchanged_file_answers_304_to_its_etag() {
    let api = TestApi::start().await;
    let url = format!("{}/ui/app.js", api.base);
    let first = api.http.get(&url).send().await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let again = api.http.get(&url).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag.as_str());
    assert!(again.text().await.unwrap().is_empty());
    let other = api
        .http
        .get(&url)
        .header("if-none-match", "\"0\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);

    let head = api.http.head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(head.headers()["etag"], etag.as_str());
    assert!(head.text().await.unwrap().is_empty(), "a HEAD has no body");
}

#[tokio::test]
async fn unknown_files_and_writes_are_refused_as_json() {
    let api = TestApi::start().await;
    TestApi::answer(
        api.http
            .get(format!("{}/ui/secrets.env", api.base))
            .send()
            .await
            .unwrap(),
    )
    .await
    .assert_error(404, "not_found", None);
    TestApi::answer(
        api.http
            .request(Method::POST, format!("{}/ui/app.js", api.base))
            .send()
            .await
            .unwrap(),
    )
    .await
    .assert_error(405, "method_not_allowed", None);
}
