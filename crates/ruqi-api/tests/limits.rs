//! The bounds of a job's fields and the strictness of its bodies, as a client
//! sees them: a text out of bounds answers 422 naming the field, a value of
//! the wrong JSON type 400 naming it too, and nothing is written either way; the OpenAPI
//! document states the same bounds.

mod common;

use common::{ADMIN, TestApi, job};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn texts_out_of_bounds_are_refused_naming_the_field_and_nothing_is_written() {
    let api = TestApi::start().await;
    let huge = "x".repeat(1_000_000);
    for (field, value) in [
        ("description", huge.as_str()),
        ("rule", &"1".repeat(256)),
        ("alert_url", &format!("http://example.com/{}", "a".repeat(2_048))),
        ("retry_delay", &format!("{}1s", "0".repeat(40))),
        ("timezone", &"Europe/Berlin".repeat(6)),
        ("job_name", ""),
    ] {
        let mut body = job("limited");
        body[field] = json!(value);
        let answer = api.post("/jobs", body).await;
        answer.assert_error(422, "invalid", Some(field));
        let message = answer.body["message"].as_str().unwrap();
        assert!(
            message.len() < 300,
            "{field}: the message does not echo the value: {message}"
        );
    }
    assert!(api.rows().await.is_empty());

    api.create(job("limited")).await;
    api.patch("/jobs/limited", json!({"description": huge}))
        .await
        .assert_error(422, "invalid", Some("description"));
    let mut replacement = job("limited");
    replacement["child_jobs"] = json!("c,".repeat(10_000));
    api.put("/jobs/limited", replacement)
        .await
        .assert_error(422, "invalid", Some("child_jobs"));
    let row = &api.rows().await[0];
    assert_eq!(row.description, None);
    assert_eq!(row.child_jobs, None);

    // At the bound is fine.
    let at_bound = api
        .patch("/jobs/limited", json!({"description": "d".repeat(16_384)}))
        .await;
    assert_eq!(at_bound.status, 200, "{at_bound:?}");
}

#[tokio::test]
async fn a_body_naming_another_job_id_than_its_path_is_refused_naming_job_id() {
    let api = TestApi::start().await;
    api.create(job("here")).await;
    api.put("/jobs/here", job("there"))
        .await
        .assert_error(422, "invalid", Some("job_id"));
    assert_eq!(api.rows().await.len(), 1);
    assert_eq!(api.rows().await[0].job_id, "here");
}

#[tokio::test]
async fn a_text_field_takes_a_json_string_and_nothing_else() {
    let api = TestApi::start().await;
    for (field, value) in [
        ("job_name", json!(false)),
        ("func", json!(5)),
        ("description", json!(1.5)),
        ("timezone", json!(true)),
    ] {
        let mut body = job("typed");
        body[field] = value.clone();
        api.post("/jobs", body)
            .await
            .assert_error(400, "bad_request", Some(field));
    }
    api.post("/executions/cleanup", json!({"keep_last": 0, "job_name": false}))
        .await
        .assert_error(400, "bad_request", Some("job_name"));
    assert!(api.rows().await.is_empty());
    api.create(job("typed")).await;
    api.patch("/jobs/typed", json!({"job_name": 7}))
        .await
        .assert_error(400, "bad_request", Some("job_name"));
    assert_eq!(api.rows().await[0].job_name, None);
}

async fn document(api: &TestApi) -> Value {
    let answer = api.call(Method::GET, "/openapi.json", Some(ADMIN), None).await;
    assert_eq!(answer.status, 200);
    answer.body
}

#[tokio::test]
async fn the_document_states_nullability_bounds_closed_bodies_and_every_refusal() {
    let api = TestApi::start().await;
    let doc = document(&api).await;
    let schemas = &doc["components"]["schemas"];

    // What comes back null is nullable; what never does is not.
    for (schema, field) in [
        ("Job", "description"),
        ("Job", "job_name"),
        ("Job", "timezone"),
        ("Job", "next_run_time"),
        ("Job", "timeout_s"),
        ("Job", "last_error"),
        ("Execution", "error"),
        ("Execution", "job_name"),
        ("SchedulerStatus", "next_wakeup"),
        ("SchedulerStatus", "seconds_until_next_wakeup"),
        ("JobPatch", "description"),
        ("Cleanup", "keep_last"),
    ] {
        assert_eq!(
            schemas[schema]["properties"][field]["nullable"], true,
            "{schema}.{field}"
        );
    }
    assert_ne!(schemas["Job"]["properties"]["job_id"]["nullable"], true);
    assert_ne!(schemas["Execution"]["properties"]["output"]["nullable"], true);

    for body in ["JobSpec", "JobPatch", "Cleanup"] {
        assert_eq!(schemas[body]["additionalProperties"], false, "{body}");
    }
    let spec = &schemas["JobSpec"]["properties"];
    assert_eq!(spec["description"]["maxLength"], 16_384);
    assert_eq!(spec["job_id"]["maxLength"], 191);
    assert_eq!(spec["job_id"]["minLength"], 1);
    assert_eq!(spec["rule"]["maxLength"], 255);
    assert_eq!(spec["max_instances"]["minimum"], 1);
    assert_eq!(spec["max_instances"]["maximum"], 10_000);
    assert_eq!(schemas["JobPatch"]["properties"]["max_retries"]["maximum"], 1_000);

    let offset = doc["paths"]["/jobs"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "offset")
        .unwrap();
    assert_eq!(offset["schema"]["minimum"], 0);
    assert_eq!(offset["schema"]["maximum"], 9_223_372_036_854_775_807_u64);
    let status = doc["paths"]["/executions"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "status")
        .unwrap();
    assert!(status.to_string().contains("cancelled"), "{status}");

    // Every write documents 413 and 415; the reads do not.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = &operation["responses"];
            for status in ["413", "415"] {
                assert_eq!(
                    responses.get(status).is_some(),
                    method != "get",
                    "{method} {path} {status}"
                );
            }
            if path != "/health" {
                for status in ["400", "401", "403"] {
                    assert!(responses.get(status).is_some(), "{method} {path} {status}");
                }
            }
        }
    }
    let created = &doc["paths"]["/jobs"]["post"]["responses"]["201"]["links"]["GetJob"];
    assert_eq!(created["operationId"], "getJob");
    assert_eq!(created["parameters"]["job_id"], "$response.body#/job_id");
}

#[tokio::test]
async fn the_nul_character_is_refused_in_every_text_naming_where_it_was() {
    let api = TestApi::start().await;
    api.get("/jobs/a%00b")
        .await
        .assert_error(400, "bad_request", Some("job_id"));
    api.get("/executions?job_id=a%00")
        .await
        .assert_error(400, "bad_request", Some("job_id"));
    api.get("/jobs?offset=0&text=%00")
        .await
        .assert_error(400, "bad_request", Some("text"));
    api.get("/executions/stats/jobs?job_id=a&job_id=b%00")
        .await
        .assert_error(400, "bad_request", Some("job_id"));
    let mut body = job("nul");
    body["description"] = json!("a\u{0}b");
    api.post("/jobs", body)
        .await
        .assert_error(400, "bad_request", Some("description"));
    api.post("/executions/cleanup", json!({"keep_last": 1, "job_id": "\u{0}"}))
        .await
        .assert_error(400, "bad_request", Some("job_id"));
    assert!(api.rows().await.is_empty());
}
