//! Certification end to end: the policy checked at start-up, progress, issuance inside the
//! queue (exactly once under concurrency), signed credentials checked by an independent
//! JOSE implementation (Python's jwcrypto over OpenSSL), revocation, key rotation, and the
//! certificate page in headless Chromium.

use crate::common::*;
use crate::on_both_backends;
use serde_json::{Value, json};
use std::path::Path;
use verdict::domain::Role;

/// Hero needs `shout` and 15 points (shout 10 + hello-wasm 5); Commando needs Hero and
/// `sql-top-earners`.
const POLICY: &str = r#"
[tiers.hero]
title = "Hero"
requires = []
required = ["shout"]
min_points = 15
pass_ratio = 0.8

[tiers.commando]
title = "Commando"
requires = ["hero"]
required = ["sql-top-earners"]
min_points = 20
pass_ratio = 0.8
"#;

/// An exercises folder with a policy.
fn curriculum(policy: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for slug in ["shout", "hello-wasm", "sql-top-earners"] {
        copy_dir(&repo().join("exercises").join(slug), &dir.path().join(slug));
    }
    std::fs::write(dir.path().join("certification.toml"), policy).unwrap();
    dir
}

async fn spawn(backend: Backend, exercises: &Path) -> TestApp {
    let exercises = exercises.to_path_buf();
    TestApp::spawn_with(backend, move |args| args.exercises = exercises).await
}

/// Submits a file and waits for the verdict.
async fn graded(app: &TestApp, token: &str, slug: &str, file: &str, content: String) -> Value {
    let created = app
        .submit(token, json!({"exercise": slug, "files": {file: content}}))
        .await;
    app.wait_final(created["id"].as_str().unwrap(), token).await
}

async fn earn_hero(app: &TestApp, token: &str) {
    for (slug, file) in [("shout", "shout.wat"), ("hello-wasm", "hello.wat")] {
        let done = graded(app, token, slug, file, solution(slug, file)).await;
        assert_eq!(done["verdict"], "accepted", "{done}");
    }
}

fn tier<'a>(progress: &'a Value, name: &str) -> &'a Value {
    progress["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tier"] == name)
        .unwrap_or_else(|| panic!("no tier {name} in {progress}"))
}

fn missing(tier: &Value) -> Vec<String> {
    tier["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect()
}

/// Verifies a compact JWS with Python's jwcrypto (OpenSSL underneath): no code of
/// verdict's is involved. Returns the header and payload, or the error text.
async fn jwcrypto_verify(jws: &str, jwks: &Value) -> Result<(Value, Value), String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jwks.json"), jwks.to_string()).unwrap();
    std::fs::write(dir.path().join("credential.jwt"), jws).unwrap();
    let script = r#"
import json, sys
from jwcrypto import jwk, jws
keys = jwk.JWKSet.from_json(open(sys.argv[1]).read())
token = jws.JWS()
token.deserialize(open(sys.argv[2]).read().strip())
header = token.jose_header
key = keys.get_key(header["kid"])
if key is None:
    sys.exit("kid not in the JWKS")
token.verify(key, alg="EdDSA")
print(json.dumps({"header": header, "payload": json.loads(token.payload)}))
"#;
    // Debian's interpreter, which python3-jwcrypto installs into (another python3 may
    // come first on PATH).
    let output = tokio::process::Command::new("/usr/bin/python3")
        .args(["-c", script])
        .arg(dir.path().join("jwks.json"))
        .arg(dir.path().join("credential.jwt"))
        .output()
        .await
        .expect("python3 runs (scripts/test.sh installs python3-jwcrypto)");
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let both: Value = serde_json::from_slice(&output.stdout).unwrap();
    Ok((both["header"].clone(), both["payload"].clone()))
}

/// A GET without any token (the public verification surface), as JSON.
async fn public_json(app: &TestApp, path: &str) -> Value {
    let response = app.http.get(app.url(path)).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

async fn certificates(app: &TestApp, learner: &str) -> Vec<Value> {
    app.get_json(
        &format!("/v1/learners/{learner}/certificates"),
        &app.instructor,
    )
    .await["certificates"]
        .as_array()
        .unwrap()
        .clone()
}

async fn admin(app: &TestApp) -> String {
    app.store()
        .create_token(Role::Admin, None, "test")
        .await
        .unwrap()
}

/// Restarts the server on the same address and database (certificates name the address).
async fn restart(app: &mut TestApp, exercises: &Path) {
    let address = app.server.as_ref().unwrap().address;
    app.server.take().unwrap().stop().await;
    let mut args = serve_args(&app.database);
    args.exercises = exercises.to_path_buf();
    args.api.bind = address.to_string();
    app.server = Some(verdict::app::spawn(args).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_naming_an_unknown_exercise_or_a_cycle_stops_the_server() {
    let cases = [
        (
            POLICY.replace("\"sql-top-earners\"", "\"payroll\""),
            "tier `commando` requires exercise `payroll`, which is neither in the exercises folder nor in the database",
        ),
        (
            POLICY.replace("requires = []", "requires = [\"commando\"]"),
            "cycle",
        ),
        (
            POLICY.replace("[tiers.hero]", "[tiers.heroes]"),
            "unknown tier `heroes`",
        ),
    ];
    for (policy, expected) in cases {
        let exercises = curriculum(&policy);
        let database = TestDatabase::new(Backend::Sqlite).await;
        let mut args = serve_args(&database);
        args.exercises = exercises.path().to_path_buf();
        let error = match verdict::app::spawn(args).await {
            Ok(_) => panic!("a server started with the policy {policy}"),
            Err(error) => format!("{error:#}"),
        };
        assert!(error.contains(expected), "{expected:?} not in: {error}");
        assert!(
            error.contains("certification.toml"),
            "the error names the file: {error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_issuance_verification_revocation_and_new_versions() {
    crate::needs!(Jwcrypto);
    let exercises = curriculum(POLICY);
    let mut app = spawn(Backend::Sqlite, exercises.path()).await;
    let ada = app.learner("ada").await;
    let bob = app.learner("bob").await;
    let admin = admin(&app).await;

    // Before any submission: what is missing, and why.
    let progress = app.get_json("/v1/learners/ada/progress", &ada).await;
    assert_eq!(progress["learner"], "ada");
    let hero = tier(&progress, "hero");
    assert_eq!(hero["status"], "in_progress", "{progress}");
    assert!(
        missing(hero).contains(&"shout: no graded submission yet".into()),
        "{hero}"
    );
    assert!(missing(hero).contains(&"points: 0 of 15 from passed Hero exercises".into()));
    let commando = tier(&progress, "commando");
    assert_eq!(commando["status"], "locked");
    assert!(missing(commando).contains(&"requires the Hero certificate first".into()));

    // Learners read only their own; staff and integrations read anyone's.
    assert_eq!(
        app.get("/v1/learners/ada/progress", &bob).await.status(),
        404
    );
    assert_eq!(
        app.get("/v1/learners/ada/certificates", &bob)
            .await
            .status(),
        404
    );
    assert_eq!(
        app.get("/v1/learners/ada/progress", &app.instructor)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get("/v1/learners/ada/progress", &app.integration)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get("/v1/learners/ada/progress", &admin).await.status(),
        200
    );
    // An id no learner can have is only looked up: nothing held, not a 404.
    let nobody = app
        .get_json("/v1/learners/no%20one/certificates", &app.instructor)
        .await;
    assert_eq!(nobody["certificates"], serde_json::json!([]), "{nobody}");
    let anonymous = app
        .http
        .get(app.url("/v1/learners/ada/progress"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // A failing attempt is explained with its best score.
    let failed = graded(
        &app,
        &ada,
        "shout",
        "shout.wat",
        starter("shout", "shout.wat"),
    )
    .await;
    assert_ne!(failed["verdict"], "accepted");
    let progress = app.get_json("/v1/learners/ada/progress", &ada).await;
    let expected = format!(
        "shout: best score {}/10, needs 8",
        failed["score"].as_f64().unwrap()
    );
    assert!(
        missing(tier(&progress, "hero")).contains(&expected),
        "{progress}"
    );
    assert!(certificates(&app, "ada").await.is_empty());

    // Passing both Hero exercises issues Hero, in the grading pipeline.
    earn_hero(&app, &ada).await;
    let progress = app.get_json("/v1/learners/ada/progress", &ada).await;
    let hero = tier(&progress, "hero");
    assert_eq!(hero["status"], "certified", "{progress}");
    assert_eq!(hero["points"], 15.0);
    assert!(missing(hero).is_empty());
    let commando = tier(&progress, "commando");
    assert_eq!(commando["status"], "in_progress");
    assert_eq!(
        missing(commando),
        vec![
            "sql-top-earners: no graded submission yet",
            "points: 0 of 20 from passed Commando exercises"
        ]
    );
    let held = certificates(&app, "ada").await;
    assert_eq!(held.len(), 1);
    let id = held[0]["id"].as_str().unwrap().to_string();
    assert_eq!(hero["certificate"]["id"], id.as_str());

    // Public: no token needed.
    let public: Value = public_json(&app, &format!("/v1/certificates/{id}")).await;
    assert_eq!(public["learner"], "ada");
    assert_eq!(public["tier"], "hero");
    assert_eq!(public["status"], "active");
    assert!(public["issued_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        public["url"],
        app.url(&format!("/certificates/{id}")).as_str()
    );
    let shout_version = app.get_json("/v1/exercises/shout", &ada).await["version"].clone();
    let evidence = public["evidence"].as_array().unwrap();
    let exercises_in: Vec<&str> = evidence
        .iter()
        .map(|e| e["exercise"].as_str().unwrap())
        .collect();
    assert_eq!(exercises_in, vec!["hello-wasm", "shout"]);
    assert_eq!(evidence[1]["version"], shout_version);
    assert_eq!(evidence[1]["score"], 10.0);

    // An independent JOSE implementation verifies it against the published JWKS.
    let jws = public["credential"].as_str().unwrap();
    let jwks: Value = public_json(&app, "/.well-known/jwks.json").await;
    let (header, payload) = jwcrypto_verify(jws, &jwks).await.unwrap();
    assert_eq!(header["alg"], "EdDSA");
    // The kid is a URI that dereferences to the key: its entry in the JWKS.
    let kid_uri = format!(
        "{}/.well-known/jwks.json#{}",
        app.base,
        public["kid"].as_str().unwrap()
    );
    assert_eq!(header["kid"], kid_uri.as_str());
    assert_eq!(header["typ"], "JWT");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .unwrap();
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    assert!(key.get("d").is_none(), "the JWKS never holds a private key");
    assert_eq!(
        payload["type"],
        json!(["VerifiableCredential", "OpenBadgeCredential"])
    );
    assert_eq!(payload["id"], format!("urn:uuid:{id}").as_str());
    assert_eq!(payload["jti"], payload["id"]);
    assert_eq!(payload["iss"], app.base.as_str());
    assert_eq!(payload["issuer"]["id"], app.base.as_str());
    let subject = &payload["credentialSubject"];
    assert_eq!(subject["identifier"][0]["identityHash"], "ada");
    assert_eq!(subject["achievement"]["achievementType"], "Certification");
    assert_eq!(subject["achievement"]["name"], "Hero");
    let described: Vec<&str> = payload["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["description"].as_str().unwrap())
        .collect();
    assert!(
        described.iter().any(|d| d.contains("shout version")
            && d.contains(shout_version.as_str().unwrap())
            && d.contains("score 10/10")),
        "{described:?}"
    );
    assert!(
        payload["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"]
                == format!("urn:uuid:{}", evidence[1]["submission"].as_str().unwrap()).as_str())
    );
    // A changed byte breaks it for jwcrypto too.
    let mut parts: Vec<String> = jws.split('.').map(str::to_string).collect();
    let mut claims = payload.clone();
    claims["credentialSubject"]["identifier"][0]["identityHash"] = json!("mallory");
    use base64::Engine as _;
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
    assert!(jwcrypto_verify(&parts.join("."), &jwks).await.is_err());

    // The CLI verifies from the page's URL, and from the JSON in a file.
    let page = app.url(&format!("/certificates/{id}"));
    let (code, out) = cli_verify(&page, &app.base).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("VALID: not revoked") && out.contains("learner:   ada"),
        "{out}"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), public.to_string()).unwrap();
    let (code, out) = cli_verify(file.path().to_str().unwrap(), &app.base).await;
    assert_eq!(code, 0, "{out}");
    // The verifier names the issuer it trusts; the credential cannot vouch for itself.
    let (code, out) = cli_verify(&page, "").await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("say which issuer you trust"), "{out}");
    let (code, out) = cli_verify(&page, "https://grader.school.example").await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "issued by {}, not by https://grader.school.example",
            app.base
        )),
        "{out}"
    );
    std::fs::write(file.path(), parts.join(".")).unwrap();
    let (code, out) = cli_verify(file.path().to_str().unwrap(), &app.base).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("INVALID: the signature does not match"),
        "{out}"
    );

    // One completion can issue two tiers: dave passes the Commando exercise first (it is
    // locked then), and the grading that completes Hero issues Hero and Commando.
    let dave = app.learner("dave").await;
    let sql = graded(
        &app,
        &dave,
        "sql-top-earners",
        "query.sql",
        solution("sql-top-earners", "query.sql"),
    )
    .await;
    assert_eq!(sql["verdict"], "accepted", "{sql}");
    assert!(certificates(&app, "dave").await.is_empty());
    earn_hero(&app, &dave).await;
    let tiers: Vec<String> = certificates(&app, "dave")
        .await
        .iter()
        .map(|c| c["tier"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(tiers, vec!["hero", "commando"]);

    // erin passes shout only: 10 of the 15 points Hero needs.
    let erin = app.learner("erin").await;
    graded(
        &app,
        &erin,
        "shout",
        "shout.wat",
        solution("shout", "shout.wat"),
    )
    .await;
    assert!(certificates(&app, "erin").await.is_empty());

    // More passing gradings never issue a second Hero certificate.
    graded(
        &app,
        &ada,
        "shout",
        "shout.wat",
        solution("shout", "shout.wat"),
    )
    .await;
    assert_eq!(certificates(&app, "ada").await.len(), 1);

    // A new version of a counted exercise does not take the certificate back.
    let readme = exercises.path().join("shout/README.md");
    let text = std::fs::read_to_string(&readme).unwrap();
    std::fs::write(&readme, format!("{text}\nRevised statement.\n")).unwrap();
    // The restart also relaxes the policy (10 points for Hero): erin is certified at
    // start-up, by the catch-up, without grading anything again.
    let policy = exercises.path().join("certification.toml");
    std::fs::write(
        &policy,
        POLICY.replace("min_points = 15", "min_points = 10"),
    )
    .unwrap();
    restart(&mut app, exercises.path()).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while certificates(&app, "erin").await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the catch-up never certified erin"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let versions = app
        .get_json("/v1/exercises/shout/versions", &app.instructor)
        .await;
    assert_eq!(versions.as_array().map(Vec::len), Some(2), "{versions}");
    let progress = app.get_json("/v1/learners/ada/progress", &ada).await;
    assert_eq!(tier(&progress, "hero")["status"], "certified");
    assert_eq!(certificates(&app, "ada").await[0]["status"], "active");

    // An upload that moves a required exercise to another tier is refused: the policy
    // would no longer hold.
    let moved = tempfile::tempdir().unwrap();
    copy_dir(&exercises.path().join("shout"), moved.path());
    let manifest = moved.path().join("exercise.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("tier = \"hero\"", "tier = \"commando\""),
    )
    .unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args([
            "exercise",
            "push",
            moved.path().to_str().unwrap(),
            "--server",
            &app.base,
            "--token",
            &app.instructor,
        ])
        .output()
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success());
    assert!(
        answer.contains("tier_conflict") && answer.contains("requires `shout` as a hero exercise"),
        "{answer}"
    );

    // Revocation: admins only, with a reason; once.
    let revoke = format!("/v1/certificates/{id}/revoke");
    assert_eq!(
        app.post_json(&revoke, &ada, &json!({"reason": "x"}))
            .await
            .status(),
        403
    );
    assert_eq!(
        app.post_json(&revoke, &app.instructor, &json!({"reason": "x"}))
            .await
            .status(),
        403
    );
    assert_eq!(
        app.post_json(&revoke, &admin, &json!({"reason": "  "}))
            .await
            .status(),
        422
    );
    assert_eq!(
        app.post_json(
            "/v1/certificates/nope/revoke",
            &admin,
            &json!({"reason": "x"})
        )
        .await
        .status(),
        404
    );
    let revoked = app
        .post_json(
            &revoke,
            &admin,
            &json!({"reason": "plagiarised submission"}),
        )
        .await;
    assert_eq!(revoked.status(), 200);
    let revoked: Value = revoked.json().await.unwrap();
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["revocation_reason"], "plagiarised submission");
    assert_eq!(
        app.post_json(&revoke, &admin, &json!({"reason": "again"}))
            .await
            .status(),
        409
    );
    let list: Value = public_json(&app, "/v1/revocations").await;
    assert_eq!(
        list["revokedCredentials"][0]["id"],
        format!("urn:uuid:{id}").as_str()
    );
    let (code, out) = cli_verify(&app.url(&format!("/v1/certificates/{id}")), &app.base).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("REVOKED: plagiarised submission"), "{out}");
    let progress = app.get_json("/v1/learners/ada/progress", &ada).await;
    let hero = tier(&progress, "hero");
    assert_eq!(hero["status"], "in_progress");
    assert_eq!(hero["certificate"]["status"], "revoked");
    assert!(
        missing(hero)
            .iter()
            .any(|m| m.contains("was revoked (plagiarised submission); a revocation is final")),
        "{hero}"
    );
    assert_eq!(tier(&progress, "commando")["status"], "locked");
    graded(
        &app,
        &ada,
        "shout",
        "shout.wat",
        solution("shout", "shout.wat"),
    )
    .await;
    assert_eq!(
        certificates(&app, "ada").await.len(),
        1,
        "a revoked certificate is not silently re-issued"
    );

    // Key rotation: new certificates use the new key; old ones still verify.
    earn_hero(&app, &bob).await;
    let before = certificates(&app, "bob").await[0].clone();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args(["keys", "rotate"])
        .args(app.database.flags())
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let new_kid = String::from_utf8_lossy(&output.stdout).trim().to_string();
    restart(&mut app, exercises.path()).await;
    let carol = app.learner("carol").await;
    earn_hero(&app, &carol).await;
    let after = certificates(&app, "carol").await[0].clone();
    assert_eq!(after["kid"], new_kid.as_str());
    assert_ne!(after["kid"], before["kid"]);
    let jwks: Value = public_json(&app, "/.well-known/jwks.json").await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    for certificate in [&before, &after] {
        jwcrypto_verify(certificate["credential"].as_str().unwrap(), &jwks)
            .await
            .unwrap();
        let (code, out) = cli_verify(certificate["url"].as_str().unwrap(), &app.base).await;
        assert_eq!(code, 0, "{out}");
    }
    // The page says "Not valid" for a stored credential that is not this certificate's,
    // even with a good signature.
    sqlx::query("UPDATE certificates SET credential = $1 WHERE id = $2")
        .bind(before["credential"].as_str().unwrap())
        .bind(after["id"].as_str().unwrap())
        .execute(&app.store().writer)
        .await
        .unwrap();
    let html = app
        .http
        .get(after["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Not valid: the signed credential is not this certificate"),
        "{html}"
    );

    // Retiring a key (it leaked): certificates it signed stop verifying, everywhere.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args(["keys", "retire", before["kid"].as_str().unwrap()])
        .args(app.database.flags())
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let jwks: Value = public_json(&app, "/.well-known/jwks.json").await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert!(
        jwcrypto_verify(before["credential"].as_str().unwrap(), &jwks)
            .await
            .is_err()
    );
    let (code, out) = cli_verify(before["url"].as_str().unwrap(), &app.base).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is not in the issuer's JWKS"), "{out}");
    let html = app
        .http
        .get(before["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Not valid"), "{html}");

    let key_files = files_under(&verdict::certification::keys::keys_dir(
        app.database.dir.path(),
    ));
    assert_eq!(key_files.len(), 2);
    for file in key_files {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    app.stop().await;
}

/// Many passing gradings of one learner complete at once on two servers' workers (two
/// worker pools on one database): exactly one certificate.
async fn exactly_one_certificate_under_concurrent_completions(backend: Backend) {
    let policy = POLICY.replace("min_points = 15", "min_points = 10");
    let exercises = curriculum(&policy);
    let first = spawn(backend, exercises.path()).await;
    let mut second_args = serve_args(&first.database);
    second_args.exercises = exercises.path().to_path_buf();
    second_args.worker.concurrency = Some(3);
    let second = verdict::app::spawn(second_args).await.unwrap();
    let second_base = format!("http://{}", second.address);
    let ada = first.learner("ada").await;
    let mut ids = Vec::new();
    for round in 0..12 {
        let base = if round % 2 == 0 {
            &first.base
        } else {
            &second_base
        };
        let response = first
            .http
            .post(format!("{base}/v1/submissions"))
            .bearer_auth(&ada)
            .json(&json!({"exercise": "shout", "files": {"shout.wat": solution("shout", "shout.wat")}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        ids.push(
            response.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    for id in &ids {
        assert_eq!(first.wait_final(id, &ada).await["verdict"], "accepted");
    }
    let held = certificates(&first, "ada").await;
    assert_eq!(held.len(), 1, "{held:?}");
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM certificates WHERE learner = 'ada'")
        .fetch_one(&first.store().pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    // The evidence is one best submission of shout, one of the twelve.
    let evidence = held[0]["evidence"].as_array().unwrap();
    assert_eq!(evidence.len(), 1);
    assert!(
        ids.iter()
            .any(|id| evidence[0]["submission"] == id.as_str())
    );

    // On Postgres the unique key holds on its own too: eight transactions on their own
    // connections that each find the learner eligible, without the completions' lock,
    // issue one certificate between them. (SQLite has one writer connection, which
    // serialises them by design.)
    if backend == Backend::Postgres {
        unique_key_decides_a_race(&first).await;
    }
    second.stop().await;
    first.stop().await;
}

async fn unique_key_decides_a_race(app: &TestApp) {
    let store = app.store().clone();
    sqlx::query("DELETE FROM certificates")
        .execute(&store.writer)
        .await
        .unwrap();
    let signer = app.server.as_ref().unwrap().services.signer.clone();
    let racers = (0..8).map(|_| {
        let (store, issuer) = (store.clone(), signer.clone());
        tokio::spawn(async move {
            let snapshot = verdict::certification::Snapshot::load(&store)
                .await
                .unwrap()
                .unwrap();
            let mut transaction = store.writer.begin().await.unwrap();
            let issued =
                verdict::certification::issue_due(&mut transaction, &snapshot, &issuer, "ada")
                    .await
                    .unwrap();
            transaction.commit().await.unwrap();
            issued.len()
        })
    });
    let issued: usize = futures::future::join_all(racers)
        .await
        .into_iter()
        .map(Result::unwrap)
        .sum();
    assert_eq!(issued, 1);
    assert_eq!(certificates(app, "ada").await.len(), 1);
}

/// The certificate page, opened by a real browser (headless Chromium over WebDriver).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_certificate_page_in_headless_chromium() {
    crate::needs!(Chromium);
    let exercises = curriculum(POLICY);
    let app = spawn(Backend::Sqlite, exercises.path()).await;
    let admin = admin(&app).await;
    let ada = app.learner("ada").await;
    let bob = app.learner("bob").await;
    earn_hero(&app, &ada).await;
    earn_hero(&app, &bob).await;
    let valid = certificates(&app, "ada").await[0].clone();
    let revoked = certificates(&app, "bob").await[0].clone();
    let reason = "<script>alert(1)</script> copied work";
    let response = app
        .post_json(
            &format!(
                "/v1/certificates/{}/revoke",
                revoked["id"].as_str().unwrap()
            ),
            &admin,
            &json!({"reason": reason}),
        )
        .await;
    assert_eq!(response.status(), 200);

    let driver = Chromedriver::start().await;
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]}),
    );
    let client =
        fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .expect("chromedriver answers (scripts/test.sh installs chromium-driver)");
    use fantoccini::Locator;
    let text = |id: &'static str| {
        let client = client.clone();
        async move {
            client
                .find(Locator::Id(id))
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };

    client.goto(valid["url"].as_str().unwrap()).await.unwrap();
    assert!(
        client
            .title()
            .await
            .unwrap()
            .contains("Hero certificate of ada")
    );
    assert!(
        text("status").await.starts_with("Valid"),
        "{}",
        text("status").await
    );
    assert_eq!(text("learner").await, "ada");
    assert_eq!(text("tier").await, "Hero");
    assert_eq!(
        text("issued-at").await,
        valid["issued_at"].as_str().unwrap()
    );
    let evidence = text("evidence").await;
    assert!(
        evidence.contains("shout") && evidence.contains("hello-wasm") && evidence.contains("10/10"),
        "{evidence}"
    );

    client.goto(revoked["url"].as_str().unwrap()).await.unwrap();
    assert!(
        text("status").await.starts_with("Revoked on"),
        "{}",
        text("status").await
    );
    assert_eq!(text("learner").await, "bob");
    // The reason is shown as text, never run as markup.
    assert_eq!(
        text("revocation-reason").await,
        format!("Reason given: {reason}")
    );
    let alerts = client.get_alert_text().await;
    assert!(alerts.is_err(), "no alert opened: {alerts:?}");

    client
        .goto(&app.url("/certificates/no-such-id"))
        .await
        .unwrap();
    let body = client
        .find(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "No such certificate");
    client.close().await.unwrap();
    app.stop().await;
}

/// A chromedriver process on a free port, killed on drop.
struct Chromedriver {
    child: std::process::Child,
    url: String,
}

impl Chromedriver {
    async fn start() -> Chromedriver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chromedriver is installed (scripts/test.sh installs chromium-driver)");
        // Owned (killed and waited on drop) before anything can fail.
        let driver = Chromedriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..100 {
            if reqwest::get(format!("{}/status", driver.url)).await.is_ok() {
                return driver;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start on {}", driver.url);
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The course in `exercises/`: its policy checks against its packages, and each tier has
/// enough exercises (5 Hero, 4 Commando, 3 Titan at least).
#[test]
fn the_course_policy_checks_against_the_course() {
    use verdict::certification::policy::CatalogueEntry;
    use verdict::domain::Policy;
    use verdict::exercise::package::{Package, PackageLimits};
    let mut catalogue = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(repo().join("exercises")).unwrap() {
        let path = entry.unwrap().path();
        if path.join("exercise.toml").is_file() {
            let package = Package::from_dir(&path, PackageLimits::default()).unwrap();
            let entry = CatalogueEntry {
                tier: package.manifest.tier,
                points: package.manifest.points,
                live: true,
            };
            catalogue.insert(package.manifest.slug.clone(), entry);
        }
    }
    let text = std::fs::read_to_string(repo().join("exercises/certification.toml")).unwrap();
    let (policy, warnings) = Policy::parse(&text, &catalogue).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let tiers: Vec<&str> = policy.tiers.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(tiers, vec!["hero", "commando", "titan"]);
    for (tier, at_least) in [("hero", 5), ("commando", 4), ("titan", 3)] {
        let count = catalogue
            .values()
            .filter(|e| e.tier.as_str() == tier)
            .count();
        assert!(count >= at_least, "{tier}: {count} exercises");
    }
}

/// A `verdict worker` process (no exercises folder, no public URL of its own) issues
/// certificates that name the issuer `serve` put in force, signed with a key the JWKS
/// lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_separate_worker_process_issues_as_the_server() {
    let exercises = curriculum(POLICY);
    let dir = exercises.path().to_path_buf();
    let app = TestApp::spawn_with(Backend::Sqlite, move |args| {
        args.exercises = dir;
        args.no_workers = true;
    })
    .await;
    let _worker = crate::common::WorkerProcess::start(&["--docker", "off"], &app.database);
    let ada = app.learner("ada").await;
    earn_hero(&app, &ada).await;
    let held = certificates(&app, "ada").await;
    assert_eq!(held.len(), 1);
    let jwks: Value = public_json(&app, "/.well-known/jwks.json").await;
    let (_, payload) = jwcrypto_verify(held[0]["credential"].as_str().unwrap(), &jwks)
        .await
        .unwrap();
    assert_eq!(payload["iss"], app.base.as_str());
    assert_eq!(
        payload["credentialStatus"]["id"],
        app.url("/v1/revocations").as_str()
    );
    app.stop().await;
}

/// A certification failure never costs a grading its result: with the certificates
/// table unreadable, the grading still completes (the savepoint rolls back, on Postgres
/// too, where an error would otherwise abort the whole transaction); once the table is
/// back, the next completion issues what is due.
async fn a_certification_failure_keeps_the_grading(backend: Backend) {
    let exercises = curriculum(POLICY);
    let app = spawn(backend, exercises.path()).await;
    let ada = app.learner("ada").await;
    let store = app.store().clone();
    sqlx::query("ALTER TABLE certificates RENAME TO certificates_away")
        .execute(&store.writer)
        .await
        .unwrap();
    for (slug, file) in [("shout", "shout.wat"), ("hello-wasm", "hello.wat")] {
        let done = graded(&app, &ada, slug, file, solution(slug, file)).await;
        assert_eq!(done["status"], "completed", "{done}");
        assert_eq!(done["verdict"], "accepted", "{done}");
    }
    sqlx::query("ALTER TABLE certificates_away RENAME TO certificates")
        .execute(&store.writer)
        .await
        .unwrap();
    assert!(certificates(&app, "ada").await.is_empty());
    graded(
        &app,
        &ada,
        "shout",
        "shout.wat",
        solution("shout", "shout.wat"),
    )
    .await;
    assert_eq!(certificates(&app, "ada").await.len(), 1);
    app.stop().await;
}

on_both_backends!(
    exactly_one_certificate_under_concurrent_completions,
    a_certification_failure_keeps_the_grading,
);
