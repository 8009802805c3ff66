//! The queue under failure: workers killed with SIGKILL mid-grading, several worker
//! processes sharing one database, poison jobs, and the results feed under concurrency.

use crate::common::{Backend, TestApp, WorkerProcess, fixture, solution};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use verdict::domain::Status;

crate::on_both_backends!(
    results_feed_never_skips_or_repeats_while_results_complete_concurrently,
    killed_worker_mid_grading_completes_exactly_once_after_restart,
    a_job_that_keeps_killing_its_worker_ends_as_internal_error,
    a_submission_committed_but_never_pushed_is_swept_from_the_outbox,
    duplicate_and_late_deliveries_never_write_a_second_result,
);

async fn wait_for_status(app: &TestApp, id: &str, status: Status, attempts: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let record = app.store().submission(id).await.unwrap().unwrap();
        if record.status == status && record.attempts >= attempts {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{id} never reached {status:?} with {attempts} attempts: {record:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every feed entry, read page by page until `expected` results have been seen.
async fn read_feed(app: &TestApp, expected: usize, page_size: usize) -> Vec<String> {
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    while seen.len() < expected {
        assert!(
            Instant::now() < deadline,
            "feed stalled at {} of {expected}",
            seen.len()
        );
        let path = match &after {
            Some(cursor) => format!("/v1/results?limit={page_size}&wait=5&after={cursor}"),
            None => format!("/v1/results?limit={page_size}&wait=5"),
        };
        let page: Value = app.get_json(&path, &app.integration).await;
        for result in page["results"].as_array().unwrap() {
            seen.push(result["id"].as_str().unwrap().to_string());
        }
        after = Some(page["next"].as_str().unwrap().to_string());
    }
    seen
}

async fn results_feed_never_skips_or_repeats_while_results_complete_concurrently(backend: Backend) {
    let app = TestApp::spawn_with(backend, |args| args.worker.concurrency = Some(4)).await;
    let total = 40;
    let reader = read_feed(&app, total, 3);
    let writer = async {
        let submissions = (0..total).map(|index| {
            app.submit(
                &app.integration,
                json!({"exercise": "shout", "files": {"shout.wat": solution("shout", "shout.wat")}, "learner": format!("l{index}")}),
            )
        });
        futures::future::join_all(submissions).await
    };
    let (seen, created) = tokio::join!(reader, writer);
    let created: HashSet<String> = created
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "a result was repeated");
    assert_eq!(unique, created, "a result was skipped");
    let tail: Value = app.get_json("/v1/results?limit=5", &app.integration).await;
    assert_eq!(
        tail["results"].as_array().unwrap().len(),
        5,
        "a fresh reader starts at the beginning"
    );
    app.stop().await;
}

async fn killed_worker_mid_grading_completes_exactly_once_after_restart(backend: Backend) {
    let app = TestApp::spawn_with(backend, |args| args.no_workers = true).await;
    let first = WorkerProcess::start(&[], &app.database);
    let created = app
        .submit(&app.integration, json!({"exercise": "shout", "files": {"shout.wat": fixture("slow_shout.wat")}, "learner": "ada"}))
        .await;
    let id = created["id"].as_str().unwrap();
    wait_for_status(&app, id, Status::Running, 1).await;
    first.kill();
    let second = WorkerProcess::start(&[], &app.database);
    let done = app.wait_final(id, &app.integration).await;
    assert_eq!(done["verdict"], "accepted", "{done}");
    assert_eq!(done["attempts"], 2, "graded again after the kill: {done}");
    let record = app.store().submission(id).await.unwrap().unwrap();
    assert_eq!(record.result.unwrap().worker.unwrap().pid, second.pid());
    let feed = read_feed(&app, 1, 100).await;
    assert_eq!(feed, vec![id.to_string()], "exactly one result");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let again: Value = app
        .get_json("/v1/results?limit=100", &app.integration)
        .await;
    assert_eq!(
        again["results"].as_array().unwrap().len(),
        1,
        "no second result appeared later"
    );
    drop(second);
    app.stop().await;
}

async fn a_job_that_keeps_killing_its_worker_ends_as_internal_error(backend: Backend) {
    let app = TestApp::spawn_with(backend, |args| args.no_workers = true).await;
    let created = app
        .submit(&app.integration, json!({"exercise": "shout", "files": {"shout.wat": fixture("slow_shout.wat")}, "learner": "ada"}))
        .await;
    let id = created["id"].as_str().unwrap();
    for attempt in 1..=verdict::queue::MAX_ATTEMPTS as i64 {
        let worker = WorkerProcess::start(&[], &app.database);
        wait_for_status(&app, id, Status::Running, attempt).await;
        worker.kill();
    }
    let last = WorkerProcess::start(&[], &app.database);
    let done = app.wait_final(id, &app.integration).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["verdict"], "internal_error", "{done}");
    assert!(
        done["message"].as_str().unwrap().contains("not charged"),
        "{done}"
    );
    drop(last);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_on_one_postgres_share_the_work() {
    crate::needs!(Postgres);
    let app = TestApp::spawn_with(Backend::Postgres, |args| args.no_workers = true).await;
    let workers = [
        WorkerProcess::start(&[], &app.database),
        WorkerProcess::start(&[], &app.database),
    ];
    let mut ids = Vec::new();
    for index in 0..6 {
        let created = app
            .submit(
                &app.integration,
                json!({"exercise": "shout", "files": {"shout.wat": fixture("slow_shout.wat")}, "learner": format!("l{index}")}),
            )
            .await;
        ids.push(created["id"].as_str().unwrap().to_string());
    }
    let mut graded_by = HashSet::new();
    for id in &ids {
        let done = app.wait_final(id, &app.integration).await;
        assert_eq!(done["verdict"], "accepted", "{done}");
        assert_eq!(done["attempts"], 1);
        let record = app.store().submission(id).await.unwrap().unwrap();
        graded_by.insert(u64::from(record.result.unwrap().worker.unwrap().pid));
    }
    let pids: HashSet<u64> = workers.iter().map(|w| w.pid() as u64).collect();
    assert_eq!(graded_by, pids, "both workers graded");
    drop(workers);
    app.stop().await;
}

async fn a_submission_committed_but_never_pushed_is_swept_from_the_outbox(backend: Backend) {
    let app = TestApp::spawn_with(backend, |args| args.no_workers = true).await;
    let live = app.store().current_version("shout").await.unwrap().unwrap();
    let files = std::collections::BTreeMap::from([(
        verdict::domain::FileName::parse("shout.wat").unwrap(),
        solution("shout", "shout.wat").into_bytes(),
    )]);
    let new = verdict::store::submissions::NewSubmission {
        learner: &verdict::domain::LearnerId::parse("ada").unwrap(),
        exercise_slug: &live.exercise.slug,
        exercise_version: &live.version,
        max_score: 10.0,
        files: &files,
    };
    // What a crash between the commit and the push leaves behind.
    let verdict::store::idempotency::Created::New(record) =
        app.store().create_submission(&new, None).await.unwrap()
    else {
        panic!("created")
    };
    let TestApp {
        server, database, ..
    } = app;
    server.unwrap().stop().await;
    let server = verdict::app::spawn(crate::common::serve_args(&database))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let current = server
            .services
            .store
            .submission(&record.id)
            .await
            .unwrap()
            .unwrap();
        if current.status == Status::Completed {
            assert_eq!(current.verdict, Some(verdict::domain::Verdict::Accepted));
            break;
        }
        assert!(Instant::now() < deadline, "never graded: {current:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let still_queued = server
        .services
        .store
        .needing_push(verdict::store::now_ms())
        .await
        .unwrap();
    assert!(still_queued.is_empty(), "{still_queued:?}");
    server.stop().await;
}

async fn duplicate_and_late_deliveries_never_write_a_second_result(backend: Backend) {
    let app = TestApp::spawn_with(backend, |args| args.worker.concurrency = Some(3)).await;
    let queue = app.server.as_ref().unwrap().services.queue.clone();
    let created = app
        .submit(&app.integration, json!({"exercise": "shout", "files": {"shout.wat": fixture("slow_shout.wat")}, "learner": "ada"}))
        .await;
    let id = created["id"].as_str().unwrap();
    // Two duplicate deliveries while the first is grading (other keys, so the queue
    // holds three jobs for one submission).
    queue.push(id, 101).await.unwrap();
    queue.push(id, 102).await.unwrap();
    let done = app.wait_final(id, &app.integration).await;
    assert_eq!(done["verdict"], "accepted", "{done}");
    // A late delivery after completion.
    queue.push(id, 103).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let later: Value = app
        .get_json(&format!("/v1/submissions/{id}"), &app.integration)
        .await;
    assert_eq!(
        later["completed_at"], done["completed_at"],
        "the first result was never overwritten"
    );
    let feed: Value = app
        .get_json("/v1/results?limit=100", &app.integration)
        .await;
    assert_eq!(
        feed["results"].as_array().unwrap().len(),
        1,
        "exactly one result: {feed}"
    );
    app.stop().await;
}
