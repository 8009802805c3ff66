//! Test harness: a real server on a fresh database per test, a real HTTP client.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use verdict::app::{RunningServer, ServeArgs};
use verdict::config::{ApiArgs, DatabaseArgs, LimitArgs, WorkerArgs};
use verdict::domain::Role;
pub use verdict::runner::docker::{DockerArgs, DockerMode};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What a group of tests needs beyond cargo. `scripts/test.sh` installs and starts all
/// of it and sets `VERDICT_TEST_FULL=1`; plain `cargo test` skips a group whose need is
/// missing and says so once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Needs {
    Postgres,
    Docker,
    Chromium,
    Jwcrypto,
    Schemathesis,
}

impl Needs {
    fn present(self) -> bool {
        let on_path = |program: &str| {
            std::env::var_os("PATH").is_some_and(|path| {
                std::env::split_paths(&path).any(|dir| dir.join(program).is_file())
            })
        };
        match self {
            Needs::Postgres => std::env::var_os("VERDICT_TEST_POSTGRES_URL").is_some(),
            Needs::Docker => {
                std::env::var_os("DOCKER_HOST").is_some()
                    || std::os::unix::net::UnixStream::connect("/var/run/docker.sock").is_ok()
            }
            Needs::Chromium => on_path("chromedriver") && on_path("chromium"),
            Needs::Jwcrypto => std::process::Command::new("/usr/bin/python3")
                .args(["-c", "import jwcrypto"])
                .output()
                .is_ok_and(|out| out.status.success()),
            Needs::Schemathesis => on_path("st"),
        }
    }

    fn how(self) -> &'static str {
        match self {
            Needs::Postgres => "a Postgres server named by VERDICT_TEST_POSTGRES_URL",
            Needs::Docker => "a Docker engine (and the runner images: `verdict images build`)",
            Needs::Chromium => "chromium and chromedriver",
            Needs::Jwcrypto => "python3-jwcrypto",
            Needs::Schemathesis => "schemathesis (`pip install schemathesis==4.32.5`)",
        }
    }
}

/// Whether a test that needs `needs` runs here. Under `VERDICT_TEST_FULL=1` a missing
/// need fails the test; otherwise the group is skipped, named once on stderr (written
/// past the test harness's capture, so plain `cargo test` shows it).
pub fn runs(needs: Needs) -> bool {
    if needs.present() {
        return true;
    }
    assert!(
        std::env::var_os("VERDICT_TEST_FULL").is_none(),
        "this test needs {} (VERDICT_TEST_FULL=1: nothing may be skipped)",
        needs.how()
    );
    static SAID: std::sync::Mutex<Vec<Needs>> = std::sync::Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap();
    if !said.contains(&needs) {
        said.push(needs);
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "skipped: the tests that need {} (./scripts/test.sh installs and runs everything)",
            needs.how()
        );
    }
    false
}

/// Returns from the test at once when its need is missing (see `runs`).
#[macro_export]
macro_rules! needs {
    ($($need:ident),+) => {
        $(
            if !$crate::common::runs($crate::common::Needs::$need) {
                return;
            }
        )+
    };
}

/// Generates one test per backend from `async fn name(backend: Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::needs!(Postgres);
                    super::$name($crate::common::Backend::Postgres).await
                }
            )*
        }
    };
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(path: &str) -> String {
    std::fs::read_to_string(fixture_path(path)).unwrap()
}

/// A file or folder under `tests/fixtures`.
pub fn fixture_path(path: &str) -> PathBuf {
    repo().join("tests/fixtures").join(path)
}

/// A fresh database: a temp SQLite folder, or a new Postgres database.
pub struct TestDatabase {
    pub dir: tempfile::TempDir,
    pub url: Option<String>,
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> TestDatabase {
        let dir = tempfile::tempdir().unwrap();
        let url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_postgres_database().await),
        };
        TestDatabase { dir, url }
    }

    pub fn args(&self) -> DatabaseArgs {
        DatabaseArgs {
            data_dir: self.dir.path().to_path_buf(),
            database_url: self.url.clone(),
            sqlite_synchronous: verdict::store::Synchronous::Full,
        }
    }

    /// Command-line flags naming this database, for child processes.
    pub fn flags(&self) -> Vec<String> {
        let mut flags = vec![
            "--data-dir".to_string(),
            self.dir.path().display().to_string(),
        ];
        if let Some(url) = &self.url {
            flags.extend(["--database-url".to_string(), url.clone()]);
        }
        flags
    }
}

/// Creates an empty database on the test Postgres (started by scripts/test.sh).
async fn fresh_postgres_database() -> String {
    let admin_url = std::env::var("VERDICT_TEST_POSTGRES_URL").expect(
        "VERDICT_TEST_POSTGRES_URL is not set: run the tests with ./scripts/test.sh, which starts Postgres",
    );
    let name = format!("verdict_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let mut connection = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url)
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await
        .unwrap();
    let base = admin_url.rsplit_once('/').unwrap().0;
    format!("{base}/{name}")
}

pub fn serve_args(database: &TestDatabase) -> ServeArgs {
    ServeArgs {
        database: database.args(),
        api: ApiArgs {
            bind: "127.0.0.1:0".into(),
            rate_per_minute: 10_000,
            max_in_flight: 1_000,
            queue_cap: 10_000,
            max_submission_kb: 256,
            max_package_kb: 1024,
            max_connections: 4096,
            max_connections_per_client: 256,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
        },
        worker: WorkerArgs {
            concurrency: Some(2),
        },
        limits: LimitArgs {
            max_cpu_ms: 10_000,
            max_wall_ms: 20_000,
            max_memory_mb: 256,
            max_output_kb: 1024,
        },
        exercises: core_exercises(),
        no_workers: false,
        runtimes: verdict::runtimes::RuntimeArgs { runtimes_dir: None },
        issuer: verdict::certification::IssuerArgs::default(),
        key: verdict::certification::KeyArgs::default(),
        docker: docker_args(DockerMode::Off),
    }
}

/// Docker runner settings for tests: `Off` unless a test grades in containers.
pub fn docker_args(mode: DockerMode) -> DockerArgs {
    DockerArgs {
        mode,
        docker_cpus: 1.0,
        docker_call_timeout: 30,
        docker_host: None,
        docker_warm: 0,
        recipes: repo().join("sandboxes/docker"),
    }
}

/// The exercises most tests need (the two plain-wasm ones), so a server starts without
/// validating the whole catalogue; `languages.rs` serves the full `exercises/` folder.
pub fn core_exercises() -> PathBuf {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        for slug in ["shout", "hello-wasm"] {
            copy_dir(&repo().join("exercises").join(slug), &dir.path().join(slug));
        }
        dir
    })
    .path()
    .to_path_buf()
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub server: Option<RunningServer>,
    pub database: TestDatabase,
    pub instructor: String,
    pub integration: String,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut ServeArgs)) -> TestApp {
        Self::spawn_on(TestDatabase::new(backend).await, configure).await
    }

    /// A server on a database that already holds data (the server migrates it at start).
    pub async fn spawn_on(
        database: TestDatabase,
        configure: impl FnOnce(&mut ServeArgs),
    ) -> TestApp {
        let mut args = serve_args(&database);
        configure(&mut args);
        let server = verdict::app::spawn(args).await.unwrap();
        let store = server.services.store.clone();
        TestApp {
            base: format!("http://{}", server.address),
            http: reqwest::Client::new(),
            server: Some(server),
            database,
            instructor: store
                .create_token(Role::Instructor, None, "test")
                .await
                .unwrap(),
            integration: store
                .create_token(Role::Integration, None, "test")
                .await
                .unwrap(),
        }
    }

    pub fn store(&self) -> &verdict::store::Store {
        &self.server.as_ref().unwrap().services.store
    }

    pub async fn learner(&self, id: &str) -> String {
        self.store()
            .create_token(Role::Learner, Some(&id.parse().unwrap()), "test")
            .await
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str, token: &str) -> serde_json::Value {
        self.get(path, token).await.json().await.unwrap()
    }

    pub async fn post_json(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Submits and returns the 202 body.
    pub async fn submit(&self, token: &str, body: serde_json::Value) -> serde_json::Value {
        let response = self.post_json("/v1/submissions", token, &body).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 202, "{text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Long-polls a submission until it is final.
    pub async fn wait_final(&self, id: &str, token: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let body: serde_json::Value = self
                .get(&format!("/v1/submissions/{id}?wait=20"), token)
                .await
                .json()
                .await
                .unwrap();
            if matches!(body["status"].as_str(), Some("completed" | "failed")) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "submission {id} never finished: {body}"
            );
        }
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }
}

/// `verdict certificate verify SOURCE --issuer ISSUER`: (exit code, stdout).
pub async fn cli_verify(source: &str, issuer: &str) -> (i32, String) {
    cli_verify_via(None, source, issuer).await
}

/// `cli_verify` with every request the CLI makes sent through the HTTP proxy `proxy`
/// (`http://host:port`). A test server answers the absolute-form requests a proxy gets,
/// so a verifier reaches an issuer whose public URL resolves nowhere, at its own URLs.
pub async fn cli_verify_via(proxy: Option<&str>, source: &str, issuer: &str) -> (i32, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_verdict"));
    command.args(["certificate", "verify", source]);
    if !issuer.is_empty() {
        command.args(["--issuer", issuer]);
    }
    if let Some(proxy) = proxy {
        command
            .env("HTTP_PROXY", proxy)
            .env("http_proxy", proxy)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy");
    }
    let output = command.output().await.unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

pub fn solution(slug: &str, file: &str) -> String {
    std::fs::read_to_string(
        repo()
            .join("exercises")
            .join(slug)
            .join("solution")
            .join(file),
    )
    .unwrap()
}

pub fn starter(slug: &str, file: &str) -> String {
    std::fs::read_to_string(
        repo()
            .join("exercises")
            .join(slug)
            .join("starter")
            .join(file),
    )
    .unwrap()
}

/// Files in `dir` (recursively), for "nothing left on disk" checks.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(files_under(&path));
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The hidden input of the integrity fixtures: nothing a learner sees may contain it.
pub const SECRET: &str = "hidden-input-7f3a9c";

/// Everything a learner is shown of a grading: the submission's message and the
/// learner's view of every test.
pub fn learner_sees(grade: &verdict::domain::Grade) -> String {
    let tests: Vec<verdict::domain::TestResult> =
        grade.tests.iter().map(|test| test.learner_view()).collect();
    format!(
        "{} {}",
        grade.message.clone().unwrap_or_default(),
        serde_json::to_string(&tests).unwrap()
    )
}

/// Operator maxima for the tests that grade through a runner directly.
pub const MAXIMA: verdict::domain::Limits = verdict::domain::Limits {
    cpu_ms: 10_000,
    wall_ms: 20_000,
    memory_mb: 256,
    output_kb: 1024,
    pids: 256,
};

/// The wasm runner, on the machine's runtime cache.
pub fn wasm_runner() -> verdict::runner::wasm::WasmRunner {
    verdict::runner::wasm::WasmRunner::new(
        256,
        verdict::runtimes::RuntimeArgs { runtimes_dir: None }.store(),
    )
    .unwrap()
}

/// A visible test of weight 1 named `name`, with nothing else set.
pub fn resolved_test(name: &str) -> verdict::domain::ResolvedTest {
    verdict::domain::ResolvedTest {
        name: name.to_string(),
        weight: 1.0,
        visibility: verdict::domain::Visibility::Visible,
        stdin: String::new(),
        expected_stdout: None,
        compare: verdict::domain::Compare::Trim,
        tolerance: None,
        pattern: None,
        args: None,
        expected: None,
        seed: None,
        ordered: false,
        request: None,
    }
}

/// An exercise of `language` and `kind` on `runner`, with `tests`; `solve` is the
/// function a function exercise calls.
pub fn resolved_exercise(
    language: verdict::domain::Language,
    kind: verdict::domain::Kind,
    runner: verdict::domain::RunnerKind,
    entrypoint: &str,
    tests: Vec<verdict::domain::ResolvedTest>,
) -> verdict::domain::ResolvedExercise {
    verdict::domain::ResolvedExercise {
        slug: "fixture".parse().unwrap(),
        title: "fixture".into(),
        tier: verdict::domain::Tier::Hero,
        points: 1.0,
        language,
        kind,
        runner,
        entrypoint: entrypoint.into(),
        extra_files: vec![],
        limits: verdict::domain::LimitsSpec::default(),
        tests,
        function: (kind == verdict::domain::Kind::Function).then(|| "solve".into()),
        schema: None,
        support: std::collections::BTreeMap::new(),
        http: None,
    }
}

/// A `verdict worker` child process, killed with SIGKILL when dropped.
pub struct WorkerProcess(std::process::Child);

impl WorkerProcess {
    pub fn start(extra: &[&str], database: &TestDatabase) -> WorkerProcess {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_verdict"))
            .arg("worker")
            .args(database.flags())
            .args(["--concurrency", "1"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("start verdict worker");
        WorkerProcess(child)
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
