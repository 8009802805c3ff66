//! Issue 12, point 4: nothing stored is lost in the move. A database written by release
//! 4611c05 (`tests/fixtures/release-4611c05`, see its README) is replayed from its dump,
//! the current server migrates it at start and serves it: the same JSON as that release
//! served for every submission, page, progress, exercise and certificate, the same
//! certificate verifying with the current verifier, and a new submission graded on it.
//!
//! Today `migrations/` holds the same two migrations (`init`, `certification`, same
//! checksums) as the release, so the server's migrate step finds nothing to apply; the
//! test is the guard for the first migration that changes the schema or a stored shape.

use crate::common::*;
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

crate::on_both_backends!(a_release_database_migrates_and_serves_the_same);

const RELEASE: &str = "release-4611c05";

/// The release's `--public-url`: signed into its certificate and the base of every link
/// it answered with, so the new server must be started with it too.
const PUBLIC_URL: &str = "http://grader.release-fixture.test";

async fn a_release_database_migrates_and_serves_the_same(backend: Backend) {
    let exercises = tempfile::tempdir().unwrap();
    copy_dir(
        &fixture_path(&format!("{RELEASE}/exercises")),
        exercises.path(),
    );
    let folder = exercises.path().to_path_buf();
    let app = TestApp::spawn_on(replayed(backend).await, move |args| {
        args.exercises = folder;
        args.issuer.public_url = Some(PUBLIC_URL.into());
    })
    .await;
    let release = Release::of(backend);
    same_submissions(&app, &release).await;
    same_pages(&app, &release).await;
    same_certification(&app, &release).await;
    same_exercises(&app, &release).await;
    the_certificate_verifies(&app, &release).await;
    a_new_submission_grades(&app, &release).await;
    app.stop().await;
}

/// What the fixture says about one backend's database: its tokens, ids and the answers
/// the release gave.
struct Release {
    backend: &'static str,
    tokens: Value,
    ids: Value,
}

impl Release {
    fn of(backend: Backend) -> Release {
        let backend = match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        let read = |file: &str| -> Value {
            serde_json::from_str(&fixture(&format!("{RELEASE}/{file}"))).unwrap()
        };
        Release {
            backend,
            tokens: read("tokens.json")[backend].clone(),
            ids: read("ids.json")[backend].clone(),
        }
    }

    fn token(&self, role: &str) -> &str {
        self.tokens[role]["token"].as_str().unwrap()
    }

    /// `expected/<backend>/<name>.json`: what the release answered.
    fn expected(&self, name: &str) -> Value {
        let path = format!("{RELEASE}/expected/{}/{name}.json", self.backend);
        serde_json::from_str(&fixture(&path)).unwrap()
    }

    /// The one learner, `ada`.
    fn learner(&self) -> &str {
        self.ids["learner"].as_str().unwrap()
    }

    fn list(&self, name: &str) -> &Vec<Value> {
        self.ids[name].as_array().unwrap()
    }
}

/// A fresh database holding the release's dump, at the place the current code looks
/// for it, with the release's signing key in the data dir.
async fn replayed(backend: Backend) -> TestDatabase {
    let database = TestDatabase::new(backend).await;
    match &database.url {
        // The current code still keeps apalis's queue in its own file beside the store
        // (`DatabaseLocation`), as the release did: both files are replayed where the
        // current code resolves them.
        None => {
            let location =
                verdict::store::DatabaseLocation::resolve(database.dir.path(), None).unwrap();
            replay(&location.url, "sqlite.sql").await;
            replay(&location.queue_url, "sqlite-queue.sql").await;
        }
        Some(url) => replay(url, "postgres.sql").await,
    }
    install_keys(database.dir.path());
    database
}

/// Runs a dump as one multi-statement query on a connection of its own (the Postgres
/// dump `SET`s session settings that must not reach the server's pool).
async fn replay(url: &str, dump: &str) {
    sqlx::any::install_default_drivers();
    let mut connection = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    let sql = fixture(&format!("{RELEASE}/{dump}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut connection)
        .await
        .unwrap_or_else(|error| panic!("replaying {dump}: {error}"));
    sqlx::Connection::close(connection).await.unwrap();
}

/// The release's key in `<data-dir>/keys`, owner-only: git keeps the file 0644 and a key
/// others can read is refused.
fn install_keys(data_dir: &Path) {
    let keys = verdict::certification::keys::keys_dir(data_dir);
    copy_dir(&fixture_path(&format!("{RELEASE}/keys")), &keys);
    let mode = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    mode(&keys, 0o700);
    for file in files_under(&keys) {
        mode(&file, 0o600);
    }
}

/// Fails with every path where `actual` differs from `expected`, not two whole
/// documents.
fn assert_same(what: &str, actual: &Value, expected: &Value) {
    let mut found = Vec::new();
    differences("", actual, expected, &mut found);
    assert!(
        found.is_empty(),
        "{what} differs from what release 4611c05 served:\n{}",
        found.join("\n")
    );
}

/// Collects `path: served …, release …` for every leaf where the two documents differ.
fn differences(at: &str, actual: &Value, expected: &Value, found: &mut Vec<String>) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            let mut keys: Vec<&String> = a.keys().chain(e.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let (a, e) = (&a.get(key), &e.get(key));
                let at = format!("{at}.{key}");
                match (a, e) {
                    (Some(a), Some(e)) => differences(&at, a, e, found),
                    _ => found.push(format!("{at}: served {a:?}, release {e:?}")),
                }
            }
        }
        (Value::Array(a), Value::Array(e)) if a.len() == e.len() => {
            for (index, (a, e)) in a.iter().zip(e).enumerate() {
                differences(&format!("{at}[{index}]"), a, e, found);
            }
        }
        _ if actual != expected => found.push(format!("{at}: served {actual}, release {expected}")),
        _ => {}
    }
}

/// GETs `path` (200) and compares it with the release's answer `expected`.
async fn same(app: &TestApp, path: &str, token: Option<&str>, expected: &Value) {
    let mut request = app.http.get(app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {path}");
    assert_same(
        &format!("GET {path}"),
        &response.json().await.unwrap(),
        expected,
    );
}

/// The release's learner view of a submission, less what the current code deliberately
/// no longer shows a learner (`TestResult::learner_view` and `api::submissions::view`,
/// the second review's W1): a hidden test's `duration_ms`, and the grading's `resources`
/// (served as null) when the exercise has hidden tests. Learner code could spend time
/// or memory in proportion to a hidden input and read it back from either. Every other
/// field must still be the release's.
fn learner_view_today(mut submission: Value) -> Value {
    let mut hidden = false;
    for test in submission["tests"].as_array_mut().unwrap() {
        if test["visibility"] == "hidden" {
            hidden = true;
            let duration = test.as_object_mut().unwrap().remove("duration_ms");
            duration.expect("the release showed a hidden test's duration_ms");
        }
    }
    if hidden {
        submission["resources"] = Value::Null;
    }
    submission
}

/// Submissions 1..7: the instructor's view unchanged, the learner's as `learner_view_today`.
async fn same_submissions(app: &TestApp, release: &Release) {
    for submission in release.list("submissions") {
        let (n, id) = (&submission["n"], submission["id"].as_str().unwrap());
        let path = format!("/v1/submissions/{id}");
        let instructor = release.expected(&format!("submission-{n}-instructor"));
        same(app, &path, Some(release.token("instructor")), &instructor).await;
        let learner = learner_view_today(release.expected(&format!("submission-{n}-learner")));
        same(app, &path, Some(release.token("learner")), &learner).await;
    }
    assert_eq!(release.list("submissions").len(), 7);
}

/// First pages with their cursors: the cursors must still be the release's, and lead on
/// to the next page, or a client holding one from before the upgrade would lose its place.
async fn same_pages(app: &TestApp, release: &Release) {
    let mut page = release.expected("submissions-learner-page-1");
    let submissions = page["submissions"].as_array_mut().unwrap();
    for submission in submissions.iter_mut() {
        *submission = learner_view_today(submission.take());
    }
    let learner = release.token("learner");
    same(app, "/v1/submissions?limit=3", Some(learner), &page).await;
    let results = release.expected("results-instructor-page-1");
    let instructor = release.token("instructor");
    same(app, "/v1/results?limit=3", Some(instructor), &results).await;
    // Newest first, 7 6 5, then 4; the feed in completion order, 1 2 3, then 4.
    let fourth = &release.list("submissions")[3]["id"];
    let next = |page: &Value| page["next"].as_str().unwrap().to_string();
    let path = format!("/v1/submissions?limit=3&cursor={}", next(&page));
    assert_eq!(
        &app.get_json(&path, learner).await["submissions"][0]["id"],
        fourth
    );
    let path = format!("/v1/results?limit=3&after={}", next(&results));
    assert_eq!(
        &app.get_json(&path, instructor).await["results"][0]["id"],
        fourth
    );
}

/// Progress, certificates (the JSON and the public page, byte for byte), the JWKS and the
/// revocation list, as the release served them.
async fn same_certification(app: &TestApp, release: &Release) {
    let learner = release.learner();
    for role in ["learner", "instructor"] {
        let expected = release.expected(&format!("progress-{role}"));
        let path = format!("/v1/learners/{learner}/progress");
        same(app, &path, Some(release.token(role)), &expected).await;
    }
    let path = format!("/v1/learners/{learner}/certificates");
    let expected = release.expected("certificates-learner");
    same(app, &path, Some(release.token("learner")), &expected).await;
    let certificate = release.list("certificates")[0]["id"].as_str().unwrap();
    let expected = release.expected("certificate-1");
    same(
        app,
        &format!("/v1/certificates/{certificate}"),
        None,
        &expected,
    )
    .await;
    let page = app
        .http
        .get(app.url(&format!("/certificates/{certificate}")));
    let page = page.send().await.unwrap().text().await.unwrap();
    let path = format!("{RELEASE}/expected/{}/certificate-1.html", release.backend);
    assert!(
        page == fixture(&path),
        "the certificate page changed:\n{page}"
    );
    same(
        app,
        "/.well-known/jwks.json",
        None,
        &release.expected("jwks"),
    )
    .await;
    same(
        app,
        "/v1/revocations",
        None,
        &release.expected("revocations"),
    )
    .await;
}

/// The catalogue, each exercise's detail and python-leap's two versions: starting on the
/// release's own exercises folder saved no new version.
async fn same_exercises(app: &TestApp, release: &Release) {
    let learner = Some(release.token("learner"));
    same(
        app,
        "/v1/exercises",
        learner,
        &release.expected("exercises-learner"),
    )
    .await;
    for exercise in release.list("exercises") {
        let slug = exercise["slug"].as_str().unwrap();
        let expected = release.expected(&format!("exercise-{slug}-learner"));
        same(app, &format!("/v1/exercises/{slug}"), learner, &expected).await;
    }
    let expected = release.expected("exercise-python-leap-versions");
    let instructor = Some(release.token("instructor"));
    same(
        app,
        "/v1/exercises/python-leap/versions",
        instructor,
        &expected,
    )
    .await;
}

/// `verdict certificate verify` on the certificate's public page, trusting the release's
/// issuer: the signature against the JWKS and the revocation list, both fetched from
/// that issuer's URLs, which the CLI reaches through the test server as its proxy.
async fn the_certificate_verifies(app: &TestApp, release: &Release) {
    let certificate = &release.list("certificates")[0];
    let page = format!(
        "{PUBLIC_URL}/certificates/{}",
        certificate["id"].as_str().unwrap()
    );
    let (code, out) = cli_verify_via(Some(&app.base), &page, PUBLIC_URL).await;
    assert_eq!(code, 0, "{out}");
    let kid = certificate["kid"].as_str().unwrap();
    for line in [
        format!("signature: valid (EdDSA, key {kid})"),
        format!("issuer:    {PUBLIC_URL}"),
        format!("learner:   {}", release.learner()),
        "tier:      Hero".into(),
        "VALID: not revoked".into(),
    ] {
        assert!(out.lines().any(|l| l == line), "no {line:?} in:\n{out}");
    }
    assert_eq!(
        out.lines().filter(|l| l.starts_with("evidence:")).count(),
        3,
        "{out}"
    );
}

/// The migrated queue takes work: the learner's python-leap reference is graded on the
/// current version, and the certificate already held is not issued again.
async fn a_new_submission_grades(app: &TestApp, release: &Release) {
    let learner = release.token("learner");
    let file = format!("{RELEASE}/exercises/python-leap/solution/leap.py");
    let body = json!({"exercise": "python-leap", "files": {"leap.py": fixture(&file)}});
    let created = app.submit(learner, body).await;
    let done = app
        .wait_final(created["id"].as_str().unwrap(), learner)
        .await;
    assert_eq!(done["verdict"], "accepted", "{done}");
    assert_eq!(done["score"], 10.0, "{done}");
    let versions = release.list("python_leap_versions");
    let current = versions.iter().find(|v| v["current"] == true).unwrap();
    assert_eq!(done["exercise"]["version"], current["version"], "{done}");
    let path = format!("/v1/learners/{}/certificates", release.learner());
    let held = app.get_json(&path, learner).await;
    assert_eq!(held["certificates"].as_array().unwrap().len(), 1, "{held}");
}
