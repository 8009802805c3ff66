//! Python, JavaScript and SQL exercises through the real server: every example's
//! reference is accepted and its starter is not, hidden tests keep their tracebacks, a
//! tampered test framework never passes, and the runtimes load once.

use crate::common::{Backend, DockerMode, TestApp, docker_args, repo};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use verdict::exercise::package::{Package, PackageLimits};

crate::on_both_backends!(every_language_example_grades_end_to_end);

/// The example package `exercises/<slug>`.
fn example(slug: &str) -> Package {
    Package::from_dir(
        &repo().join("exercises").join(slug),
        PackageLimits::default(),
    )
    .unwrap()
}

/// The example packages that run in a language runtime (not plain wasm).
fn language_examples() -> Vec<Package> {
    let mut packages: Vec<Package> = std::fs::read_dir(repo().join("exercises"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("exercise.toml").is_file())
        .map(|path| Package::from_dir(&path, PackageLimits::default()).unwrap())
        .filter(|package| package.manifest.language != verdict::domain::Language::Wasm)
        .collect();
    packages.sort_by(|a, b| a.manifest.slug.cmp(&b.manifest.slug));
    packages
}

fn files(folder: &BTreeMap<String, Vec<u8>>) -> Value {
    folder
        .iter()
        .map(|(name, bytes)| (name.clone(), json!(String::from_utf8_lossy(bytes))))
        .collect::<serde_json::Map<String, Value>>()
        .into()
}

async fn full_catalogue(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |args| {
        args.exercises = repo().join("exercises");
        args.docker = docker_args(DockerMode::On);
    })
    .await
}

async fn every_language_example_grades_end_to_end(backend: Backend) {
    crate::needs!(Docker);
    let app = full_catalogue(backend).await;
    let learner = app.learner("grace").await;
    let packages = language_examples();
    let languages: Vec<String> = packages
        .iter()
        .map(|p| format!("{:?}/{:?}", p.manifest.language, p.manifest.kind))
        .collect();
    for wanted in [
        "Python/Function",
        "Python/Io",
        "Python/Suite",
        "Python/Http",
        "Sql/Sql",
        "Javascript/Function",
        "Javascript/Suite",
        "Javascript/Http",
    ] {
        assert!(
            languages.iter().any(|l| l == wanted),
            "{wanted} missing: {languages:?}"
        );
    }
    let mut submitted = Vec::new();
    for package in &packages {
        let slug = &package.manifest.slug;
        for (which, folder) in [
            ("solution", package.folder("solution")),
            ("starter", package.folder("starter")),
        ] {
            let created = app
                .submit(&learner, json!({"exercise": slug, "files": files(&folder)}))
                .await;
            submitted.push((
                slug.clone(),
                which,
                created["id"].as_str().unwrap().to_string(),
            ));
        }
    }
    for (slug, which, id) in submitted {
        let done = app.wait_final(&id, &learner).await;
        // The resources as the instructor sees them: a learner's view leaves them out
        // when the exercise has hidden tests.
        let full = app.wait_final(&id, &app.instructor).await;
        assert_eq!(done["status"], "completed", "{slug} {which}: {done}");
        if which == "solution" {
            assert_eq!(done["verdict"], "accepted", "{slug}: {done}");
            let runtime = done["runtime"]["runtime"].as_str().unwrap();
            if done["runner"] == "docker" {
                // The result records the image it ran on.
                assert!(runtime.contains("verdict-runner-"), "{slug}: {runtime}");
                assert!(
                    done["runtime"]["digest"]
                        .as_str()
                        .unwrap()
                        .starts_with("sha256:"),
                    "{done}"
                );
                assert!(full["resources"]["cpu_us"].as_u64().unwrap() > 0, "{full}");
            } else {
                assert!(runtime.contains("(WASI)"), "{slug}: {runtime}");
                assert!(
                    full["resources"]["cpu_fuel"].as_u64().unwrap() > 0,
                    "{full}"
                );
            }
        } else {
            assert_ne!(done["verdict"], "accepted", "{slug} starter: {done}");
        }
        for test in done["tests"].as_array().unwrap() {
            if test["visibility"] == "hidden" {
                assert!(
                    done["resources"].is_null(),
                    "{slug}: resources shown: {done}"
                );
                for field in ["message", "output", "expected", "actual", "duration_ms"] {
                    assert!(
                        test.get(field).is_none(),
                        "{slug}: hidden {field} leaked: {test}"
                    );
                }
            }
        }
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracebacks_show_for_visible_tests_only() {
    crate::needs!(Docker);
    let app = full_catalogue(Backend::Sqlite).await;
    let learner = app.learner("ada").await;
    let package = example("python-leap");
    let entrypoint = package.manifest.files.entrypoint.clone();
    let function = package.manifest.function.as_ref().unwrap().name.clone();
    let broken = format!(
        "def helper(year):\n    raise ValueError(f'no leap logic for {{year}}')\n\n\ndef {function}(year):\n    return helper(year)\n"
    );
    let created = app
        .submit(
            &learner,
            json!({"exercise": "python-leap", "files": {entrypoint.clone(): broken}}),
        )
        .await;
    let done = app
        .wait_final(created["id"].as_str().unwrap(), &learner)
        .await;
    assert_eq!(done["verdict"], "runtime_error", "{done}");
    let tests = done["tests"].as_array().unwrap();
    let visible = tests.iter().find(|t| t["visibility"] == "visible").unwrap();
    let message = visible["message"].as_str().unwrap();
    assert!(
        message.contains("Traceback (most recent call last)"),
        "{message}"
    );
    assert!(
        message.contains(&format!("/submission/{entrypoint}\", line 2, in helper")),
        "{message}"
    );
    assert!(
        message.contains("ValueError: no leap logic for"),
        "{message}"
    );
    assert!(
        !message.contains("harness"),
        "the harness's own frames are cut: {message}"
    );
    let hidden = tests.iter().find(|t| t["visibility"] == "hidden").unwrap();
    assert_eq!(hidden["status"], "error");
    assert!(hidden.get("message").is_none(), "{hidden}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_test_framework_is_never_accepted() {
    crate::needs!(Docker);
    let app = full_catalogue(Backend::Sqlite).await;
    let learner = app.learner("mallory").await;
    let package = example("python-stack-suite");
    let entrypoint = package.manifest.files.entrypoint.clone();
    let useless = "class Stack:\n    def __init__(self):\n        pass\n    def push(self, item):\n        pass\n    def pop(self):\n        return None\n    def peek(self):\n        return None\n    def __len__(self):\n        return 0\n    def is_empty(self):\n        return True\n";
    let attacks = [
        // D2: the classic patch, at import.
        format!(
            "import unittest\nunittest.TestCase.assertEqual = lambda *a, **k: None\nunittest.TestCase.assertRaises = lambda *a, **k: __import__('contextlib').nullcontext()\nunittest.TestCase.assertTrue = lambda *a, **k: None\nunittest.TestCase.assertFalse = lambda *a, **k: None\n{useless}"
        ),
        // D2: patch the test class itself, late, from inside a method the tests call.
        format!(
            "import sys\n{useless}\n_real_init = Stack.__init__\ndef _init(self):\n    module = sys.modules.get('test_stack')\n    if module is not None:\n        for cls in vars(module).values():\n            if isinstance(cls, type):\n                for name in list(vars(cls)):\n                    if name.startswith('test'):\n                        setattr(cls, name, lambda self: None)\nStack.__init__ = _init\n"
        ),
        // D2: replace the result bookkeeping of unittest.
        format!(
            "import unittest\nunittest.TestResult.addFailure = lambda *a: None\nunittest.TestResult.addError = lambda *a: None\n{useless}"
        ),
        // D1: leave before the tests can fail.
        format!("import os\n{useless}\nos._exit(0)\n"),
        // D5/D12: walk the stack for the harness's secret.
        format!(
            "{useless}\ntry:\n    raise RuntimeError\nexcept RuntimeError as error:\n    frame = error.__traceback__.tb_frame.f_back\n"
        ),
        // D2: make unittest's context manager swallow every failure (found in review).
        format!(
            "{useless}\nimport contextlib, unittest\n_exit = contextlib._GeneratorContextManager.__exit__\ndef _swallow(self, kind, value, tb):\n    if kind is not None and getattr(self.gen, '__qualname__', '') == '_Outcome.testPartExecutor':\n        try:\n            self.gen.throw(unittest.case._ShouldStop())\n        except StopIteration:\n            pass\n        return True\n    return _exit(self, kind, value, tb)\ncontextlib._GeneratorContextManager.__exit__ = _swallow\n"
        ),
        // D2: plant load_tests in the half-loaded test module (found in review).
        format!(
            "{useless}\nimport sys, unittest\nclass _Fake(unittest.TestCase):\n    def runTest(self):\n        pass\ndef load_tests(loader, tests, pattern):\n    return unittest.TestSuite([_Fake()])\nfor _module in list(sys.modules.values()):\n    if str(getattr(_module, '__file__', '')).startswith('/support/'):\n        _module.load_tests = load_tests\n"
        ),
        // D2: hook class creation to replace the test class's run() (found in review).
        format!(
            "import builtins\n_build = builtins.__build_class__\ndef _fake_run(self, result=None):\n    result.startTest(self)\n    result.stopTest(self)\ndef _hook(func, name, *bases, **kw):\n    cls = _build(func, name, *bases, **kw)\n    if any(getattr(b, '__name__', '') == 'TestCase' for b in bases):\n        cls.run = _fake_run\n        builtins.__build_class__ = _build\n    return cls\nbuiltins.__build_class__ = _hook\n{useless}"
        ),
        // D12: frames from gc.garbage (found in review).
        format!("{useless}\nimport gc\n"),
    ];
    let created = app
        .submit(
            &learner,
            json!({"exercise": "python-stack-suite", "files": {entrypoint.clone(): useless}}),
        )
        .await;
    let plain = app
        .wait_final(created["id"].as_str().unwrap(), &learner)
        .await;
    let baseline = plain["score"].as_f64().unwrap();
    assert!(baseline < 20.0, "{plain}");
    let mut submitted = Vec::new();
    for attack in &attacks {
        let created = app
            .submit(
                &learner,
                json!({"exercise": "python-stack-suite", "files": {entrypoint.clone(): attack}}),
            )
            .await;
        submitted.push(created["id"].as_str().unwrap().to_string());
    }
    for (attack, id) in attacks.iter().zip(submitted) {
        let done = app.wait_final(&id, &learner).await;
        assert_eq!(done["status"], "completed", "{done}");
        assert_ne!(done["verdict"], "accepted", "{attack}\n{done}");
        // A neutralised attack may still earn what the useless stack earns on its own
        // (it is empty, so "a new stack is empty" passes), never more.
        assert!(
            done["score"].as_f64().unwrap() <= baseline,
            "{attack}\n{done}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_gradings_load_each_runtime_once() {
    let runner = verdict::runner::wasm::WasmRunner::new(
        256,
        verdict::runtimes::RuntimeArgs { runtimes_dir: None }.store(),
    )
    .unwrap();
    let package = example("python-leap");
    let maxima = verdict::domain::Limits {
        cpu_ms: 10_000,
        wall_ms: 20_000,
        memory_mb: 256,
        output_kb: 1024,
        pids: 256,
    };
    let (exercise, _) = verdict::exercise::validate(&package, &runner, &maxima, &|_| {})
        .await
        .unwrap();
    let runner = verdict::runner::wasm::WasmRunner::new(
        256,
        verdict::runtimes::RuntimeArgs { runtimes_dir: None }.store(),
    )
    .unwrap();
    let gradings = (0..4).map(|_| {
        verdict::exercise::grade_files(&exercise, package.folder("solution"), &runner, &maxima)
    });
    for result in futures::future::join_all(gradings).await {
        assert_eq!(result.unwrap().0.verdict.as_str(), "accepted");
    }
    let loads = runner.runtime_loads();
    assert_eq!(
        loads.len(),
        1,
        "one load for four concurrent first gradings: {loads:?}"
    );
    assert_eq!(
        loads[0].1,
        verdict::runner::compiled::Source::Cache,
        "{loads:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_fetches_missing_runtimes_before_it_grades() {
    let fresh = tempfile::tempdir().unwrap();
    let dir = fresh.path().to_path_buf();
    let app = TestApp::spawn_with(Backend::Sqlite, |args| {
        args.exercises = repo().join("exercises");
        args.runtimes = verdict::runtimes::RuntimeArgs {
            runtimes_dir: Some(dir),
        };
    })
    .await;
    for file in ["python.wasm", "quickjs.wasm"] {
        assert!(fresh.path().join(file).is_file(), "{file} was fetched");
    }
    let learner = app.learner("ada").await;
    let created = app
        .submit(
            &learner,
            json!({"exercise": "js-fizzbuzz", "files": {"fizzbuzz.js": crate::common::solution("js-fizzbuzz", "fizzbuzz.js")}}),
        )
        .await;
    let done = app
        .wait_final(created["id"].as_str().unwrap(), &learner)
        .await;
    assert_eq!(done["verdict"], "accepted", "{done}");
    app.stop().await;
}
