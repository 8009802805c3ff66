//! Exercise package uploads: formats, versions, the reference/starter checks, and
//! hostile archives (each a fixture with its expected status).

use crate::common::{Backend, TestApp, files_under, repo};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;

/// The files of an example exercise, relative to its folder.
fn example(slug: &str) -> BTreeMap<String, Vec<u8>> {
    let package = verdict::exercise::package::Package::from_dir(
        &repo().join("exercises").join(slug),
        verdict::exercise::package::PackageLimits::default(),
    )
    .unwrap();
    package.files
}

/// A tar.gz entry: a raw name (written byte for byte, so hostile names survive) and a kind.
enum Entry<'a> {
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
    /// A GNU long-name header whose "name" is this content (tar reads it whole).
    LongName(&'a [u8]),
}

fn tar_gz(entries: &[Entry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for entry in entries {
        let mut header = match entry {
            Entry::LongName(_) => tar::Header::new_gnu(),
            _ => tar::Header::new_old(),
        };
        let (name, kind, content, link): (&str, tar::EntryType, &[u8], Option<&str>) = match entry {
            Entry::File(name, content) => (name, tar::EntryType::Regular, content, None),
            Entry::Symlink(name, target) => (name, tar::EntryType::Symlink, b"", Some(target)),
            Entry::HardLink(name, target) => (name, tar::EntryType::Link, b"", Some(target)),
            Entry::LongName(content) => {
                ("././@LongLink", tar::EntryType::GNULongName, content, None)
            }
        };
        let raw = header.as_old_mut();
        raw.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(link) = link {
            raw.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_entry_type(kind);
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append(&header, content).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

fn tar_gz_of(files: &BTreeMap<String, Vec<u8>>, prefix: &str) -> Vec<u8> {
    let names: Vec<String> = files.keys().map(|path| format!("{prefix}{path}")).collect();
    let entries: Vec<Entry> = names
        .iter()
        .zip(files.values())
        .map(|(name, content)| Entry::File(name, content))
        .collect();
    tar_gz(&entries)
}

fn zip_of(files: &BTreeMap<String, Vec<u8>>, prefix: &str) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, content) in files {
        writer
            .start_file(
                format!("{prefix}{path}"),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
        writer.write_all(content).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

async fn upload(app: &TestApp, body: Vec<u8>) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/v1/exercises"))
        .bearer_auth(&app.instructor)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Announces a body over the cap and sends none of it: the server must answer 413 from
/// the Content-Length alone (sending the body would race the server closing the socket).
async fn oversize_upload(app: &TestApp) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST /v1/exercises HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/gzip\r\nContent-Length: {}\r\n\r\n",
        app.instructor,
        64 * 1024 * 1024
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&response).contains("}}") {
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(
            read > 0,
            "closed without an answer: {}",
            String::from_utf8_lossy(&response)
        );
        response.extend_from_slice(&buffer[..read]);
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = &text[text.find("\r\n\r\n").unwrap() + 4..];
    (status, serde_json::from_str(body).unwrap())
}

crate::on_both_backends!(uploads_create_immutable_versions_from_tar_gz_and_zip);

async fn uploads_create_immutable_versions_from_tar_gz_and_zip(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut files = example("hello-wasm");
    let (status, body) = upload(&app, tar_gz_of(&files, "")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["created"], false,
        "same content as the loaded example → same version"
    );

    files.insert("README.md".into(), b"# Hello, again\n".to_vec());
    let (status, body) = upload(&app, zip_of(&files, "hello-wasm/")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["created"], true);
    assert_eq!(body["report"]["valid"], true);
    let checks = body["report"]["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2, "reference and starter both ran: {body}");
    let version = body["version"].as_str().unwrap().to_string();

    let versions: Value = app
        .get_json("/v1/exercises/hello-wasm/versions", &app.instructor)
        .await;
    assert_eq!(versions.as_array().unwrap().len(), 2);
    assert_eq!(versions[0]["version"], version.as_str());
    assert_eq!(versions[0]["current"], true);
    let detail: Value = app
        .get_json("/v1/exercises/hello-wasm", &app.instructor)
        .await;
    assert_eq!(detail["version"], version.as_str());
    assert_eq!(detail["statement"], "# Hello, again\n");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_fail_when_the_reference_fails_or_the_starter_passes() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut broken_reference = example("hello-wasm");
    broken_reference.insert(
        "solution/hello.wat".into(),
        broken_reference["starter/hello.wat"].clone(),
    );
    let (status, body) = upload(&app, tar_gz_of(&broken_reference, "")).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "validation_failed");
    let checks = body["error"]["details"]["checks"].as_array().unwrap();
    assert_eq!(checks[0]["check"], "reference");
    assert_eq!(checks[0]["passed"], false);
    assert!(!checks[0]["problems"].as_array().unwrap().is_empty());

    let mut passing_starter = example("hello-wasm");
    passing_starter.insert(
        "starter/hello.wat".into(),
        passing_starter["solution/hello.wat"].clone(),
    );
    let (status, body) = upload(&app, tar_gz_of(&passing_starter, "")).await;
    assert_eq!(status, 422, "{body}");
    let checks = body["error"]["details"]["checks"].as_array().unwrap();
    assert_eq!(checks[1]["check"], "starter");
    assert_eq!(checks[1]["passed"], false);

    let mut bad_manifest = example("hello-wasm");
    bad_manifest.insert(
        "exercise.toml".into(),
        b"slug = \"hello-wasm\"\ntitle = \"x\"\ntier = \"god\"\n".to_vec(),
    );
    let (status, body) = upload(&app, tar_gz_of(&bad_manifest, "")).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("tier"),
        "{body}"
    );

    let versions: Value = app
        .get_json("/v1/exercises/hello-wasm/versions", &app.instructor)
        .await;
    assert_eq!(
        versions.as_array().unwrap().len(),
        1,
        "nothing refused went live"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_archives_are_refused_and_leave_nothing_on_disk() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let before = files_under(app.database.dir.path());
    let manifest = example("hello-wasm")["exercise.toml"].clone();
    let many: Vec<(String, Vec<u8>)> = (0..1001)
        .map(|i| (format!("tests/{i}.txt"), vec![b'x']))
        .collect();
    let many_entries: Vec<Entry> = many
        .iter()
        .map(|(name, content)| Entry::File(name, content))
        .collect();
    let zeros = vec![0u8; 9 * 1024 * 1024];
    let huge_name = vec![b'a'; 64 * 1024 * 1024];
    let fixtures: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "absolute path",
            tar_gz(&[
                Entry::File("exercise.toml", &manifest),
                Entry::File("/etc/cron.d/x", b"x"),
            ]),
            422,
        ),
        (
            "parent directory",
            tar_gz(&[
                Entry::File("exercise.toml", &manifest),
                Entry::File("tests/../../x", b"x"),
            ]),
            422,
        ),
        (
            "symlink",
            tar_gz(&[
                Entry::File("exercise.toml", &manifest),
                Entry::Symlink("tests/passwd", "/etc/passwd"),
            ]),
            422,
        ),
        (
            "hard link",
            tar_gz(&[
                Entry::File("exercise.toml", &manifest),
                Entry::HardLink("tests/passwd", "/etc/passwd"),
            ]),
            422,
        ),
        (
            "zip with ..",
            zip_of(
                &BTreeMap::from([("../escape.txt".to_string(), b"x".to_vec())]),
                "",
            ),
            422,
        ),
        ("not an archive", b"just some text".to_vec(), 422),
        (
            "no manifest",
            tar_gz(&[Entry::File("README.md", b"hi")]),
            422,
        ),
        (
            "two top folders",
            tar_gz(&[
                Entry::File("a/exercise.toml", &manifest),
                Entry::File("b/x", b"x"),
            ]),
            422,
        ),
        ("too many entries", tar_gz(&many_entries), 413),
        (
            "decompression bomb",
            tar_gz(&[
                Entry::File("exercise.toml", &manifest),
                Entry::File("tests/zeros", &zeros),
            ]),
            413,
        ),
        (
            "long-name header bomb",
            tar_gz(&[Entry::LongName(&huge_name), Entry::File("x", b"x")]),
            413,
        ),
    ];
    for (name, body, expected) in fixtures {
        let (status, error) = upload(&app, body).await;
        assert_eq!(status, expected, "{name}: {error}");
        assert!(error["error"]["code"].is_string(), "{name}: {error}");
    }
    let (status, error) = oversize_upload(&app).await;
    assert_eq!(status, 413, "body over the cap: {error}");
    assert_eq!(error["error"]["code"], "payload_too_large");
    let after = files_under(app.database.dir.path());
    let new_files: Vec<_> = after
        .iter()
        .filter(|f| !before.contains(f) && !f.to_string_lossy().contains(".db"))
        .collect();
    assert!(new_files.is_empty(), "left on disk: {new_files:?}");
    app.stop().await;
}

/// 25! and 30!: past 64 bits, and past the 2^53 where an f64 stops counting by one.
const FACTORIAL_25: &str = "15511210043330985984000000";
const FACTORIAL_30: &str = "265252859812191058636308480000000";

/// A function exercise whose expected values only the reference can give (TOML integers
/// stop at 64 bits), so they are computed at upload.
fn factorial_package(starter: &str) -> BTreeMap<String, Vec<u8>> {
    let manifest = r#"slug = "python-factorial"
title = "Factorial"
tier = "hero"
points = 10
language = "python"
kind = "function"

[files]
entrypoint = "factorial.py"

[function]
name = "factorial"

[[tests]]
name = "small"
args = [3]

[[tests]]
name = "past 64 bits"
args = [25]

[[tests]]
name = "far past 64 bits"
args = [30]
visibility = "hidden"
"#;
    BTreeMap::from([
        ("exercise.toml".to_string(), manifest.as_bytes().to_vec()),
        ("README.md".to_string(), b"# Factorial\n".to_vec()),
        (
            "solution/factorial.py".to_string(),
            b"import math\n\ndef factorial(n):\n    return math.factorial(n)\n".to_vec(),
        ),
        (
            "starter/factorial.py".to_string(),
            starter.as_bytes().to_vec(),
        ),
    ])
}

/// What a learner is sent, read as text: serde_json's own Value would round the digits.
async fn raw(app: &TestApp, path: &str, token: &str) -> String {
    app.get(path, token).await.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integers_stay_exact_from_upload_to_storage_to_the_api() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let float_starter = "import math\n\ndef factorial(n):\n    return float(math.factorial(n))\n";
    let (status, body) = upload(&app, tar_gz_of(&factorial_package(float_starter), "")).await;
    assert_eq!(status, 201, "a float starter must fail every test: {body}");

    let detail = raw(&app, "/v1/exercises/python-factorial", &app.instructor).await;
    assert!(
        detail.contains(&format!("\"expected\":{FACTORIAL_25}")),
        "the expected value computed at upload keeps every digit: {detail}"
    );
    assert!(
        !detail.contains(FACTORIAL_30),
        "hidden expectations stay hidden"
    );
    let stored = app
        .store()
        .current_version("python-factorial")
        .await
        .unwrap()
        .unwrap();
    let expected: Vec<String> = stored
        .exercise
        .tests
        .iter()
        .map(|test| test.expected.as_ref().unwrap().to_json())
        .collect();
    assert_eq!(expected, ["6", FACTORIAL_25, FACTORIAL_30], "as stored");

    let learner = app.learner("ada").await;
    // Each answer, its verdict and score, and its value for 25! as the learner sees it.
    let answers = [
        ("return math.factorial(n)", "accepted", 10.0, FACTORIAL_25),
        (
            "return math.factorial(n) + (n > 20)",
            "partial",
            10.0 / 3.0,
            "15511210043330985984000001",
        ),
        (
            "return float(math.factorial(n))",
            "wrong_answer",
            0.0,
            "1.5511210043330986e",
        ),
        (
            "return sum(float(k) for k in [math.factorial(n)])",
            "wrong_answer",
            0.0,
            "1.5511210043330986e",
        ),
    ];
    for (body, verdict, score, actual) in answers {
        let code = format!("import math\n\ndef factorial(n):\n    {body}\n");
        let (id, done) = graded_factorial(&app, &learner, &code).await;
        let id = id.as_str();
        assert_eq!(done["verdict"], verdict, "{body}: {done}");
        let scored = done["score"].as_f64().unwrap();
        assert!((scored - score).abs() < 1e-9, "{body}: {done}");
        let shown = raw(&app, &format!("/v1/submissions/{id}"), &learner).await;
        assert!(
            shown.contains(&format!("\"expected\":{FACTORIAL_25}")),
            "{body}: {shown}"
        );
        assert!(shown.contains(actual), "{body}: {shown}");
        assert!(
            !shown.contains(FACTORIAL_30),
            "{body}: hidden data shown: {shown}"
        );
    }
    app.stop().await;
}

/// Submits `code` as `factorial.py` and waits for its verdict: the id and the learner's view.
async fn graded_factorial(app: &TestApp, learner: &str, code: &str) -> (String, serde_json::Value) {
    let created = app
        .submit(
            learner,
            serde_json::json!({"exercise": "python-factorial", "files": {"factorial.py": code}}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    let done = app.wait_final(&id, learner).await;
    (id, done)
}

/// A learner's code can spend time in proportion to a hidden test's input: the learner's
/// view shows neither that test's duration nor the grading's resources (the reviewer's
/// attack W1: hidden arguments read back from `duration_ms`).
#[tokio::test]
async fn a_hidden_tests_time_does_not_reach_the_learner() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let starter = "def factorial(n):\n    return 0\n";
    let (status, body) = upload(&app, tar_gz_of(&factorial_package(starter), "")).await;
    assert_eq!(status, 201, "{body}");
    let learner = app.learner("eve").await;
    let code = "import math, time\n\ndef factorial(n):\n    time.sleep(n / 100)\n    return math.factorial(n)\n";
    let (id, done) = graded_factorial(&app, &learner, code).await;
    let id = id.as_str();
    assert_eq!(done["verdict"], "accepted", "{done}");
    for test in done["tests"].as_array().unwrap() {
        let hidden = test["visibility"] == "hidden";
        assert_eq!(test["duration_ms"].is_null(), hidden, "{test}");
    }
    assert!(done["resources"].is_null(), "{done}");

    let full: serde_json::Value =
        serde_json::from_str(&raw(&app, &format!("/v1/submissions/{id}"), &app.instructor).await)
            .unwrap();
    let hidden = full["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|test| test["visibility"] == "hidden")
        .unwrap();
    assert!(hidden["duration_ms"].as_u64().unwrap() >= 300, "{full}");
    assert!(full["resources"]["wall_ms"].as_u64().is_some(), "{full}");
    app.stop().await;
}
