//! The HTTP API end to end, on SQLite and on Postgres.

use crate::common::{Backend, TestApp, files_under, solution, starter};
use serde_json::{Value, json};

crate::on_both_backends!(
    exercises_load_at_start_and_show_only_visible_tests,
    reference_solution_is_accepted_end_to_end,
    starter_gets_wrong_answer_and_near_miss_gets_partial,
    compile_error_is_a_verdict_not_a_failure,
    learner_cannot_read_another_learners_submission,
    hidden_tests_show_learners_only_name_and_status,
    learner_cannot_use_instructor_or_integration_routes,
    learners_cannot_set_limits_scores_or_another_learner,
    tokens_are_refused_in_the_query_string,
    idempotency_key_replays_and_refuses_reuse,
    list_paginates_with_a_cursor_and_filters,
);

async fn exercises_load_at_start_and_show_only_visible_tests(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let learner = app.learner("ada").await;
    let list: Value = app.get_json("/v1/exercises", &learner).await;
    let slugs: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["slug"].as_str().unwrap())
        .collect();
    assert!(
        slugs.contains(&"shout") && slugs.contains(&"hello-wasm"),
        "{list}"
    );

    let detail: Value = app.get_json("/v1/exercises/shout", &learner).await;
    assert_eq!(detail["entrypoint"], "shout.wat");
    assert!(detail["statement"].as_str().unwrap().contains("Shout"));
    assert!(
        detail["starter"]["shout.wat"]
            .as_str()
            .unwrap()
            .contains("module")
    );
    assert_eq!(detail["limits"]["wall_ms"], 2000);
    let tests = detail["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 2, "visible tests only: {detail}");
    assert_eq!(tests[0]["stdin"], "hello\n");
    assert_eq!(tests[0]["expected"], "HELLO\n");
    assert_eq!(detail["hidden_tests"], 1);
    assert_eq!(detail["hidden_weight"], 2.0);
    let text = detail.to_string();
    assert!(
        !text.contains("lazy dog") && !text.contains("LAZY DOG"),
        "hidden data leaked: {text}"
    );

    let versions: Value = app.get_json("/v1/exercises/shout/versions", &learner).await;
    assert_eq!(versions.as_array().unwrap().len(), 1);
    assert_eq!(versions[0]["current"], true);
    let missing = app.get("/v1/exercises/nope", &learner).await;
    assert_eq!(missing.status(), 404);
    app.stop().await;
}

async fn reference_solution_is_accepted_end_to_end(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let learner = app.learner("ada").await;
    let created = app
        .submit(
            &learner,
            json!({"exercise": "shout", "files": {"shout.wat": solution("shout", "shout.wat")}}),
        )
        .await;
    assert_eq!(created["status"], "queued");
    assert_eq!(created["learner"], "ada");
    let done = app
        .wait_final(created["id"].as_str().unwrap(), &learner)
        .await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["verdict"], "accepted", "{done}");
    assert_eq!(done["score"], 10.0);
    assert_eq!(done["max_score"], 10.0);
    assert_eq!(done["runner"], "wasm");
    assert!(
        done["runtime"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(done["limits"]["memory_mb"], 16);
    // shout has a hidden test: its time counts in the resources, which a learner does
    // not see; its instructor does.
    assert!(done["resources"].is_null(), "{done}");
    let full = app
        .wait_final(created["id"].as_str().unwrap(), &app.instructor)
        .await;
    assert!(
        full["resources"]["cpu_fuel"].as_u64().unwrap() > 0,
        "{full}"
    );
    assert_eq!(done["exercise"]["slug"], "shout");
    assert_eq!(done["exercise"]["version"].as_str().unwrap().len(), 64);
    let tests = done["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 3);
    assert!(tests.iter().all(|t| t["status"] == "passed"));
    assert_eq!(tests[2]["score"], 5.0, "weight 2 of 4 → half the points");
    assert!(done["completed_at"].as_str().is_some());
    app.stop().await;
}

async fn starter_gets_wrong_answer_and_near_miss_gets_partial(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let learner = app.learner("ada").await;
    let created = app
        .submit(
            &learner,
            json!({"exercise": "shout", "files": {"shout.wat": starter("shout", "shout.wat")}}),
        )
        .await;
    let done = app
        .wait_final(created["id"].as_str().unwrap(), &learner)
        .await;
    assert_eq!(done["verdict"], "wrong_answer", "{done}");
    assert_eq!(done["score"], 0.0);
    assert_eq!(done["tests"][0]["status"], "failed");
    assert_eq!(done["tests"][0]["actual"], "hello\n");
    assert_eq!(done["tests"][0]["expected"], "HELLO\n");

    let earth = solution("hello-wasm", "hello.wat").replace("World", "Earth");
    let created = app
        .submit(
            &learner,
            json!({"exercise": "hello-wasm", "files": {"hello.wat": earth}}),
        )
        .await;
    let done = app
        .wait_final(created["id"].as_str().unwrap(), &learner)
        .await;
    assert_eq!(done["verdict"], "partial", "{done}");
    assert_eq!(done["score"], 2.5);
    app.stop().await;
}

async fn compile_error_is_a_verdict_not_a_failure(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let learner = app.learner("ada").await;
    let created = app
        .submit(
            &learner,
            json!({"exercise": "shout", "files": {"shout.wat": "(module (func $broken"}}),
        )
        .await;
    let done = app
        .wait_final(created["id"].as_str().unwrap(), &learner)
        .await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["verdict"], "compile_error", "{done}");
    assert!(!done["message"].as_str().unwrap().is_empty());
    assert!(
        done["tests"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "skipped")
    );
    app.stop().await;
}

async fn learner_cannot_read_another_learners_submission(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.learner("ada").await;
    let bob = app.learner("bob").await;
    let created = app
        .submit(
            &ada,
            json!({"exercise": "shout", "files": {"shout.wat": solution("shout", "shout.wat")}}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let foreign = app.get(&format!("/v1/submissions/{id}"), &bob).await;
    assert_eq!(
        foreign.status(),
        404,
        "a foreign id must look like a missing one"
    );
    let body: Value = foreign.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    let unknown = app
        .get("/v1/submissions/00000000-0000-0000-0000-000000000000", &bob)
        .await;
    assert_eq!(unknown.status(), 404);

    let bobs_list: Value = app.get_json("/v1/submissions?learner=ada", &bob).await;
    assert_eq!(
        bobs_list["submissions"].as_array().unwrap().len(),
        0,
        "learner filter is forced to self"
    );
    let adas_list: Value = app.get_json("/v1/submissions", &ada).await;
    assert_eq!(adas_list["submissions"].as_array().unwrap().len(), 1);
    let own = app.get(&format!("/v1/submissions/{id}"), &ada).await;
    assert_eq!(own.status(), 200);
    app.stop().await;
}

async fn hidden_tests_show_learners_only_name_and_status(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.learner("ada").await;
    let created = app
        .submit(
            &ada,
            json!({"exercise": "shout", "files": {"shout.wat": starter("shout", "shout.wat")}}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let learner_view = app.wait_final(id, &ada).await;
    let hidden = &learner_view["tests"][2];
    assert_eq!(hidden["visibility"], "hidden");
    assert_eq!(hidden["name"], "several lines");
    assert_eq!(hidden["status"], "failed");
    for field in ["message", "output", "expected", "actual"] {
        assert!(
            hidden.get(field).is_none(),
            "hidden test shows {field}: {hidden}"
        );
    }
    let text = learner_view.to_string();
    assert!(
        !text.contains("lazy dog") && !text.contains("LAZY DOG"),
        "hidden data leaked: {text}"
    );

    let integration_view = app.wait_final(id, &app.integration).await;
    assert!(integration_view["tests"][2].get("expected").is_none());

    let instructor_view = app.wait_final(id, &app.instructor).await;
    assert_eq!(
        instructor_view["tests"][2]["expected"],
        "THE QUICK BROWN FOX\nJUMPS OVER\nTHE LAZY DOG\n"
    );
    app.stop().await;
}

async fn learner_cannot_use_instructor_or_integration_routes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.learner("ada").await;
    let upload = app
        .http
        .post(app.url("/v1/exercises"))
        .bearer_auth(&ada)
        .body(vec![0x1f, 0x8b, 0, 0])
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 403);
    let body: Value = upload.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    let feed = app.get("/v1/results", &ada).await;
    assert_eq!(feed.status(), 403);
    // The role is checked before the query or body is read: a learner's malformed
    // request is refused as a learner's, not as malformed.
    let feed = app.get("/v1/results?limit=not-a-number", &ada).await;
    assert_eq!(feed.status(), 403);
    for body in [None, Some("{not json"), Some(r#"{"reason": 5}"#)] {
        let mut request = app
            .http
            .post(app.url("/v1/certificates/cert-unknown/revoke"))
            .bearer_auth(&ada);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let revoke = request.send().await.unwrap();
        assert_eq!(revoke.status(), 403, "revoke with {body:?}");
    }
    let anonymous = app
        .http
        .post(app.url("/v1/certificates/cert-unknown/revoke"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        anonymous.status(),
        401,
        "no token: 401 before the missing body"
    );
    let anonymous = app.http.get(app.url("/v1/exercises")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let bad_token = app.get("/v1/exercises", "vdt_lrn_not-a-real-token").await;
    assert_eq!(bad_token.status(), 401);
    let body: Value = bad_token.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    app.stop().await;
}

async fn learners_cannot_set_limits_scores_or_another_learner(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.learner("ada").await;
    let files = json!({"shout.wat": solution("shout", "shout.wat")});
    for extra in [
        json!({"limits": {"wall_ms": 999999}}),
        json!({"score": 10}),
        json!({"verdict": "accepted"}),
        json!({"status": "completed"}),
    ] {
        let mut body = json!({"exercise": "shout", "files": files});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let response = app.post_json("/v1/submissions", &ada, &body).await;
        assert_eq!(response.status(), 422, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "invalid_body");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("unknown field"),
            "{error}"
        );
    }
    let impersonation = app
        .post_json(
            "/v1/submissions",
            &ada,
            &json!({"exercise": "shout", "files": files, "learner": "bob"}),
        )
        .await;
    assert_eq!(impersonation.status(), 403);
    let wrong_file = app
        .post_json(
            "/v1/submissions",
            &ada,
            &json!({"exercise": "shout", "files": {"../../etc/passwd": "x"}}),
        )
        .await;
    assert_eq!(wrong_file.status(), 422);
    let missing_entrypoint = app
        .post_json(
            "/v1/submissions",
            &ada,
            &json!({"exercise": "shout", "files": {}}),
        )
        .await;
    assert_eq!(missing_entrypoint.status(), 422);
    let for_bob = app
        .submit(
            &app.integration,
            json!({"exercise": "shout", "files": files, "learner": "bob"}),
        )
        .await;
    assert_eq!(for_bob["learner"], "bob");
    let integration_without_learner = app
        .post_json(
            "/v1/submissions",
            &app.integration,
            &json!({"exercise": "shout", "files": files}),
        )
        .await;
    assert_eq!(integration_without_learner.status(), 422);
    let (submissions, _) = app
        .store()
        .list_submissions(&verdict::store::submissions::ListFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(submissions.len(), 1, "refused requests stored nothing");
    app.stop().await;
}

async fn tokens_are_refused_in_the_query_string(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.learner("ada").await;
    for query in [
        format!("token={ada}"),
        format!("access_token={ada}"),
        format!("x={ada}"),
    ] {
        let response = app
            .http
            .get(app.url(&format!("/v1/exercises?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Authorization header")
        );
    }
    app.stop().await;
}

async fn idempotency_key_replays_and_refuses_reuse(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.learner("ada").await;
    let body = json!({"exercise": "shout", "files": {"shout.wat": solution("shout", "shout.wat")}});
    let send = |body: Value, key: &'static str| {
        let request = app
            .http
            .post(app.url("/v1/submissions"))
            .bearer_auth(&ada)
            .header("Idempotency-Key", key)
            .json(&body);
        async move { request.send().await.unwrap() }
    };
    let first = send(body.clone(), "attempt-1").await;
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    let again = send(body.clone(), "attempt-1").await;
    assert_eq!(again.status(), 202);
    let again: Value = again.json().await.unwrap();
    assert_eq!(
        first["id"], again["id"],
        "same key, same body → the same submission"
    );
    let other_body =
        json!({"exercise": "shout", "files": {"shout.wat": starter("shout", "shout.wat")}});
    let reused = send(other_body, "attempt-1").await;
    assert_eq!(reused.status(), 422);
    let error: Value = reused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "idempotency_key_reused");
    let other_key = send(body.clone(), "attempt-2").await;
    let other_key: Value = other_key.json().await.unwrap();
    assert_ne!(other_key["id"], first["id"]);
    let (all, _) = app
        .store()
        .list_submissions(&verdict::store::submissions::ListFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    app.stop().await;
}

async fn list_paginates_with_a_cursor_and_filters(backend: Backend) {
    let app = TestApp::spawn_with(backend, |args| args.no_workers = true).await;
    let files = json!({"shout.wat": solution("shout", "shout.wat")});
    let mut created = Vec::new();
    for index in 0..5 {
        let learner = if index % 2 == 0 { "ada" } else { "bob" };
        let body = app
            .submit(
                &app.instructor,
                json!({"exercise": "shout", "files": files, "learner": learner}),
            )
            .await;
        created.push(body["id"].as_str().unwrap().to_string());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/v1/submissions?limit=2&cursor={cursor}"),
            None => "/v1/submissions?limit=2".to_string(),
        };
        let page: Value = app.get_json(&path, &app.instructor).await;
        for submission in page["submissions"].as_array().unwrap() {
            seen.push(submission["id"].as_str().unwrap().to_string());
        }
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    created.reverse();
    assert_eq!(seen, created, "newest first, every submission once");
    let adas: Value = app
        .get_json(
            "/v1/submissions?learner=ada&status=queued&exercise=shout",
            &app.instructor,
        )
        .await;
    assert_eq!(adas["submissions"].as_array().unwrap().len(), 3);
    let bad = app
        .get("/v1/submissions?status=bogus", &app.instructor)
        .await;
    assert_eq!(bad.status(), 400);
    let bad_cursor = app
        .get("/v1/submissions?cursor=garbage", &app.instructor)
        .await;
    assert_eq!(bad_cursor.status(), 400);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caps_answer_429_with_retry_after_and_503_and_413() {
    let app = TestApp::spawn_with(Backend::Sqlite, |args| {
        args.no_workers = true;
        args.api.rate_per_minute = 3;
        args.api.max_in_flight = 2;
        args.api.queue_cap = 3;
        args.api.max_submission_kb = 4;
    })
    .await;
    let ada = app.learner("ada").await;
    let body = json!({"exercise": "shout", "files": {"shout.wat": solution("shout", "shout.wat")}});
    app.submit(&ada, body.clone()).await;
    app.submit(&ada, body.clone()).await;
    let in_flight = app.post_json("/v1/submissions", &ada, &body).await;
    assert_eq!(in_flight.status(), 429, "in-flight cap");
    assert!(in_flight.headers().get("retry-after").is_some());
    let rate = app.post_json("/v1/submissions", &ada, &body).await;
    assert_eq!(rate.status(), 429, "rate limit");
    let retry_after: u64 = rate.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    let error: Value = rate.json().await.unwrap();
    assert_eq!(error["error"]["code"], "rate_limited");

    app.submit(
        &app.integration,
        json!({"exercise": "shout", "files": body["files"], "learner": "bob"}),
    )
    .await;
    let full = app
        .post_json(
            "/v1/submissions",
            &app.integration,
            &json!({"exercise": "shout", "files": body["files"], "learner": "cy"}),
        )
        .await;
    assert_eq!(full.status(), 503, "global queue cap");
    let error: Value = full.json().await.unwrap();
    assert_eq!(error["error"]["code"], "queue_full");

    let huge = "x".repeat(8 * 1024);
    let too_big = app
        .post_json(
            "/v1/submissions",
            &app.integration,
            &json!({"exercise": "shout", "files": {"shout.wat": huge}, "learner": "dee"}),
        )
        .await;
    assert_eq!(too_big.status(), 413);
    let error: Value = too_big.json().await.unwrap();
    assert_eq!(error["error"]["code"], "payload_too_large");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_uses_one_json_shape() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ada = app.learner("ada").await;
    let cases = [
        app.get("/v1/nowhere", &ada).await,
        app.http
            .delete(app.url("/v1/exercises"))
            .bearer_auth(&ada)
            .send()
            .await
            .unwrap(),
        app.http
            .post(app.url("/v1/submissions"))
            .bearer_auth(&ada)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap(),
        app.http
            .post(app.url("/v1/submissions"))
            .bearer_auth(&ada)
            .body("x")
            .send()
            .await
            .unwrap(),
        app.get("/v1/submissions/x?wait=abc", &ada).await,
    ];
    let expected = [404, 405, 400, 400, 400];
    for (response, status) in cases.into_iter().zip(expected) {
        assert_eq!(response.status(), status);
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"]["code"].is_string() && body["error"]["message"].is_string(),
            "{body}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_endpoints_answer() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ada = app.learner("ada").await;
    let created = app
        .submit(
            &ada,
            json!({"exercise": "shout", "files": {"shout.wat": solution("shout", "shout.wat")}}),
        )
        .await;
    app.wait_final(created["id"].as_str().unwrap(), &ada).await;
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(
        health.headers().get("x-request-id").is_some(),
        "every response carries a request id"
    );
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("verdict_gradings_total{"), "{metrics}");
    assert!(
        metrics.contains("verdict=\"accepted\"") && metrics.contains("runner=\"wasm\""),
        "{metrics}"
    );
    assert!(
        metrics.contains("verdict_grading_duration_seconds"),
        "{metrics}"
    );
    assert!(metrics.contains("verdict_queue_depth"), "{metrics}");
    let openapi: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        openapi["paths"]["/v1/submissions"]["post"].is_object(),
        "{openapi}"
    );
    assert!(openapi["paths"]["/v1/results"]["get"].is_object());
    let docs = app.http.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(
        docs.text()
            .await
            .unwrap()
            .to_lowercase()
            .contains("swagger")
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_reuses_the_live_exercise_versions_and_keeps_data() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ada = app.learner("ada").await;
    let created = app
        .submit(
            &ada,
            json!({"exercise": "shout", "files": {"shout.wat": solution("shout", "shout.wat")}}),
        )
        .await;
    app.wait_final(created["id"].as_str().unwrap(), &ada).await;
    let TestApp {
        server, database, ..
    } = app;
    server.unwrap().stop().await;
    let data_dir = database.dir.path().to_path_buf();
    let server = verdict::app::spawn(crate::common::serve_args(&database))
        .await
        .unwrap();
    let versions = server.services.store.list_versions("shout").await.unwrap();
    assert_eq!(versions.len(), 1, "same content → same version");
    let record = server
        .services
        .store
        .submission(created["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.verdict, Some(verdict::domain::Verdict::Accepted));
    // The databases, and the certificate signing key.
    assert!(
        files_under(&data_dir).iter().all(|f| {
            let name = f.to_string_lossy();
            name.contains(".db") || (f.starts_with(data_dir.join("keys")) && name.ends_with(".jwk"))
        }),
        "{:?}",
        files_under(&data_dir)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_with_its_idempotency_key_is_answered_even_over_the_caps() {
    let app = TestApp::spawn_with(Backend::Sqlite, |args| {
        args.no_workers = true;
        args.api.max_in_flight = 1;
    })
    .await;
    let ada = app.learner("ada").await;
    let body = json!({"exercise": "shout", "files": {"shout.wat": solution("shout", "shout.wat")}});
    let send = || {
        app.http
            .post(app.url("/v1/submissions"))
            .bearer_auth(&ada)
            .header("Idempotency-Key", "once")
            .json(&body)
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    let retry = send().await.unwrap();
    assert_eq!(
        retry.status(),
        202,
        "the in-flight cap must not refuse a replay"
    );
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["id"], first["id"]);
    let new = app.post_json("/v1/submissions", &ada, &body).await;
    assert_eq!(new.status(), 429, "a new submission is still capped");
    app.stop().await;
}

/// A connection from `from` (a loopback address of its own) to the server.
async fn connect_from(from: &str, to: std::net::SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

/// Reads until the server closes the connection (or `within` passes); what it sent.
async fn read_until_closed(
    stream: &mut tokio::net::TcpStream,
    within: std::time::Duration,
) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut answer)).await {
        Ok(_) => Some(String::from_utf8_lossy(&answer).into_owned()),
        Err(_) => None,
    }
}

/// The review's two ways to take the server down: half a request header held forever
/// (slowloris), and idle connections until the descriptors ran out. A header must come
/// within the timeout; past a cap (per client address, or in total) a new connection gets
/// a fast 503 while `/healthz` and authenticated requests on other connections answer; and
/// once the flood ends the server answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_cannot_take_the_server_down() {
    use std::time::{Duration, Instant};
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn_with(Backend::Sqlite, |args| {
        args.api.header_timeout_secs = 2;
        args.api.body_timeout_secs = 3;
        args.api.max_connections = 30;
        args.api.max_connections_per_client = 10;
    })
    .await;
    let address: std::net::SocketAddr = app.url("").trim_start_matches("http://").parse().unwrap();
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let files = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .unwrap();
    let numbers: Vec<&str> = files.split_whitespace().skip(3).take(2).collect();
    assert_eq!(
        numbers[0], numbers[1],
        "the soft descriptor limit is raised: {files}"
    );

    // Slowloris: half a header, then nothing. Closed at the header timeout.
    let mut slow = connect_from("127.0.0.1", address).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: verdict\r\nX-Slow: ")
        .await
        .unwrap();
    let started = Instant::now();
    assert!(
        read_until_closed(&mut slow, Duration::from_secs(6))
            .await
            .is_some(),
        "slowloris closed"
    );
    let held = started.elapsed();
    assert!(
        held >= Duration::from_millis(1500) && held < Duration::from_secs(5),
        "held {held:?}"
    );

    // A slow body (the second review's attack W5): an authenticated request whose body
    // comes a byte at a time is failed and closed at the body timeout.
    let mut dripping = connect_from("127.0.0.1", address).await;
    let header = format!(
        "POST /v1/submissions HTTP/1.1\r\nHost: verdict\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
        app.instructor
    );
    dripping.write_all(header.as_bytes()).await.unwrap();
    let started = Instant::now();
    let drip = async {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if dripping.write_all(b" ").await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(8), drip).await;
    let held = started.elapsed();
    assert!(
        held < Duration::from_secs(6),
        "the dripping body was held {held:?}"
    );
    let answer = read_until_closed(&mut dripping, Duration::from_secs(2)).await;
    if let Some(answer) = answer.filter(|answer| !answer.is_empty()) {
        assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    }

    // One client's flood: its 11th connection is refused at once.
    let mut flood = Vec::new();
    for _ in 0..10 {
        flood.push(connect_from("127.0.0.2", address).await);
    }
    let mut eleventh = connect_from("127.0.0.2", address).await;
    let started = Instant::now();
    let answer = read_until_closed(&mut eleventh, Duration::from_secs(1))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.to_lowercase().contains("retry-after: 1"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(1));
    let fresh = || {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
    };
    let health = fresh().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200, "other clients are served");
    let listed = fresh()
        .get(app.url("/v1/exercises"))
        .bearer_auth(&app.instructor)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200, "an authenticated request is served");

    // Every client's flood: at the total cap a new connection gets a fast 503.
    for from in ["127.0.0.3", "127.0.0.4"] {
        for _ in 0..10 {
            flood.push(connect_from(from, address).await);
        }
    }
    let started = Instant::now();
    let refused = fresh().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(refused.status(), 503, "at the total cap: a fast 503");
    assert!(started.elapsed() < Duration::from_secs(1));

    // The flood ends; the server answers again.
    drop(flood);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let health = fresh().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200, "recovered");
    // An idle connection is closed at the timeout too.
    let mut idle = connect_from("127.0.0.1", address).await;
    assert!(
        read_until_closed(&mut idle, Duration::from_secs(5))
            .await
            .is_some(),
        "idle closed"
    );
    app.stop().await;
}

/// schemathesis (from PyPI) against the served `/openapi.json`, as a learner, an
/// instructor and an admin: no 5xx, every answer's status documented and its body and
/// content type as documented. scripts/test.sh installs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_keeps_its_own_contract() {
    crate::needs!(Schemathesis);
    let app = TestApp::spawn(Backend::Sqlite).await;
    let admin = app
        .store()
        .create_token(verdict::domain::Role::Admin, None, "schemathesis")
        .await
        .unwrap();
    let learner = app.learner("ada").await;
    let config = crate::common::repo().join("tests/fixtures/schemathesis/schemathesis.toml");
    for (role, token) in [
        ("learner", learner.as_str()),
        ("instructor", app.instructor.as_str()),
        ("admin", admin.as_str()),
    ] {
        let run = tokio::process::Command::new("st")
            .arg("--config-file")
            .arg(&config)
            .args(["run", &app.url("/openapi.json")])
            .args(["-H", &format!("Authorization: Bearer {token}")])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance",
            ])
            .args(["--phases", "examples,coverage,fuzzing", "-n", "25", "--seed", "1"])
            .args(["--no-color"])
            .output();
        let output = tokio::time::timeout(std::time::Duration::from_secs(600), run)
            .await
            .expect("schemathesis finished")
            .expect("schemathesis (`st`) runs; ./scripts/test.sh installs it");
        assert!(
            output.status.success(),
            "as {role}:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    app.stop().await;
}
