//! The OpenAPI document and Swagger UI under the prefix the application chose.

mod common;

use std::collections::BTreeSet;

use common::{PREFIX, TestApi};
use openapiv3::{OpenAPI, ReferenceOr};
use reqwest::Method;
use ruqi_api::Auth;

/// Every operation the API serves: (method, path under the prefix).
const ROUTES: [(&str, &str); 31] = [
    ("get", "/jobs"),
    ("post", "/jobs"),
    ("get", "/jobs/{job_id}"),
    ("put", "/jobs/{job_id}"),
    ("patch", "/jobs/{job_id}"),
    ("delete", "/jobs/{job_id}"),
    ("post", "/jobs/{job_id}/pause"),
    ("post", "/jobs/{job_id}/resume"),
    ("post", "/jobs/{job_id}/run"),
    ("post", "/jobs/{job_id}/cancel"),
    ("get", "/jobs/{job_id}/next-run-times"),
    ("get", "/preview"),
    ("get", "/jobs/{job_id}/executions"),
    ("get", "/executions"),
    ("get", "/executions/{id}"),
    ("get", "/executions/{id}/log"),
    ("post", "/executions/{id}/cancel"),
    ("post", "/executions/cleanup"),
    ("get", "/executions/stats"),
    ("get", "/executions/stats/jobs"),
    ("get", "/suggestions"),
    ("get", "/executors"),
    ("put", "/executors/{app}/addresses"),
    ("delete", "/executors/{app}/addresses"),
    ("get", "/functions"),
    ("get", "/scheduler/status"),
    ("post", "/scheduler/wake-up"),
    ("get", "/events"),
    ("get", "/metrics"),
    ("get", "/health"),
    ("get", "/auth/scope"),
];

async fn document(api: &TestApi) -> OpenAPI {
    // The document is public, like the page that shows it.
    let response = api
        .http
        .get(format!("{}/openapi.json", api.base))
        .send()
        .await
        .expect("the document is served");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    serde_json::from_str(&response.text().await.expect("a body")).expect("an OpenAPI 3 document")
}

#[tokio::test]
async fn the_document_is_openapi_3_and_lists_every_route() {
    let api = TestApi::start().await;
    let doc = document(&api).await;
    assert!(doc.openapi.starts_with("3."), "{}", doc.openapi);
    assert_eq!(doc.servers[0].url, PREFIX, "Swagger's requests go under the prefix");

    let mut listed = BTreeSet::new();
    for (path, item) in &doc.paths.paths {
        let ReferenceOr::Item(item) = item else {
            panic!("{path} is a reference")
        };
        for (method, operation) in item.iter() {
            listed.insert((method.to_owned(), path.clone()));
            assert!(operation.operation_id.is_some(), "{method} {path} has no operationId");
            assert!(operation.responses.responses.len() >= 2, "{method} {path}");
            let secured = operation
                .security
                .as_ref()
                .is_some_and(|s| s.iter().any(|r| r.contains_key("bearer")));
            assert_eq!(secured, path != "/health", "{method} {path}: security");
        }
    }
    let expected: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    assert_eq!(listed, expected);

    // Every route listed is served: none answers 404 for want of a route.
    for (method, path) in ROUTES {
        let url = format!("{}{}", api.base, path.replace("{job_id}", "x").replace("{id}", "x"));
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let answer = TestApi::answer(api.http.request(method.clone(), url).send().await.unwrap()).await;
        assert_ne!(answer.body["message"], "not found", "{method} {path} is not routed");
        assert_ne!(answer.status, 405, "{method} {path}");
    }

    let components = doc.components.expect("components");
    let scheme = serde_json::to_value(&components.security_schemes["bearer"]).unwrap();
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    for schema in [
        "ErrorBody",
        "Job",
        "JobSpec",
        "JobPatch",
        "Execution",
        "SchedulerStatus",
    ] {
        assert!(components.schemas.contains_key(schema), "{schema} missing");
    }
}

#[tokio::test]
async fn swagger_ui_is_served_under_the_prefix() {
    let api = TestApi::start().await;
    let page = api.http.get(format!("{}/docs", api.base)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("SwaggerUIBundle"));
    assert!(
        html.contains(r#""url": "/admin/jobs""#),
        "the embedded document names the prefix"
    );
    let index = api.http.get(&api.base).send().await.unwrap();
    assert_eq!(index.status(), 303);
    assert_eq!(index.headers()["location"], "/admin/jobs/docs");
}

#[tokio::test]
async fn another_prefix_is_named_in_the_document() {
    let api = TestApi::start_with(Auth::disabled(), "/api/").await;
    let doc = document(&api).await;
    assert_eq!(doc.servers[0].url, "/api");
    assert_eq!(api.call(Method::GET, "/jobs", None, None).await.status, 200);
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_json() {
    let api = TestApi::start().await;
    api.get("/nothing-here").await.assert_error(404, "not_found", None);
    api.call(Method::DELETE, "/functions", Some(common::ADMIN), None)
        .await
        .assert_error(405, "method_not_allowed", None);
}

#[tokio::test]
async fn every_refusal_of_the_router_is_json_with_what_it_needs() {
    let api = TestApi::start().await;
    let raw = |path: &str| {
        api.http
            .get(format!("{}{path}", api.base))
            .bearer_auth(common::ADMIN)
            .send()
    };
    let response = raw("/jobs/%ff").await.unwrap();
    assert!(is_json(response.headers()), "{response:?}");
    TestApi::answer(response).await.assert_error(400, "bad_request", None);
    let response = raw("/nothing/here").await.unwrap();
    assert!(is_json(response.headers()), "{response:?}");
    TestApi::answer(response).await.assert_error(404, "not_found", None);
    for (method, path, allow) in [
        (Method::DELETE, "/functions", "GET"),
        (Method::PATCH, "/jobs", "GET, POST"),
        (Method::POST, "/jobs/x", "GET, PUT, PATCH, DELETE"),
        (Method::GET, "/executions/cleanup", "POST"),
        (Method::GET, "/jobs/x/run", "POST"),
    ] {
        let answer = api.call(method.clone(), path, Some(common::ADMIN), None).await;
        answer.assert_error(405, "method_not_allowed", None);
        assert!(is_json(&answer.headers), "{method} {path}");
        assert_eq!(answer.headers["allow"], allow, "{method} {path}");
    }
}

fn is_json(headers: &reqwest::header::HeaderMap) -> bool {
    headers["content-type"]
        .to_str()
        .is_ok_and(|t| t.starts_with("application/json"))
}
