//! The results of XXL-JOB dispatches as the center writes them: a callback
//! list written together, each result only once, and the late results of
//! runs that have ended told apart.

#![allow(clippy::unwrap_used)]

mod common;

use common::t;
use ruqi::entity::xxl_dispatch;
use ruqi::query::{
    DispatchResult, complete_dispatch, complete_dispatches, dispatch_results, dispatches_of_ended_runs,
    record_dispatch, xxl_job_number,
};
use sea_orm::{DatabaseConnection, EntityTrait};

fn result(code: i32, message: &str) -> DispatchResult {
    DispatchResult {
        code,
        message: Some(message.to_owned()),
    }
}

async fn a_callback_list_is_written_together_each_result_once(db: DatabaseConnection) {
    let job = xxl_job_number(&db, "billing").await.unwrap();
    let mut log_ids = Vec::new();
    for run in ["run-1", "run-2", "run-3", "run-4"] {
        common::add_running(&db, run, "billing", "test-node", t(0)).await;
        log_ids.push(
            record_dispatch(&db, run, job, "http://127.0.0.1:9999", t(0))
                .await
                .unwrap(),
        );
    }
    // The fourth already has its result (a callback that came before).
    assert!(
        complete_dispatch(&db, log_ids[3], &result(500, "first"), t(1))
            .await
            .unwrap()
    );

    let list = vec![
        (log_ids[0], result(200, "done")),
        (log_ids[1], result(500, "failed")),
        (log_ids[0], result(500, "sent twice: the first one counts")),
        (log_ids[3], result(200, "too late")),
        (987_654, result(200, "unknown")),
    ];
    let mut written = complete_dispatches(&db, &list, t(2)).await.unwrap();
    written.sort();
    assert_eq!(written, [log_ids[0], log_ids[1]]);

    let mut results = dispatch_results(&db, &log_ids).await.unwrap();
    results.sort_by_key(|(log_id, _)| *log_id);
    assert_eq!(
        results,
        [
            (log_ids[0], result(200, "done")),
            (log_ids[1], result(500, "failed")),
            (log_ids[3], result(500, "first")),
        ]
    );
    let third = xxl_dispatch::Entity::find_by_id(log_ids[2])
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(third.handle_code, None, "a dispatch not in the list stays open");

    // Nothing has ended yet; then run-4 ends, and only its dispatch is one of an ended run.
    assert!(dispatches_of_ended_runs(&db, &log_ids).await.unwrap().is_empty());
    common::end_run(&db, "run-4", "failed").await;
    assert_eq!(dispatches_of_ended_runs(&db, &log_ids).await.unwrap(), [log_ids[3]]);
}

backend_tests!(a_callback_list_is_written_together_each_result_once);
