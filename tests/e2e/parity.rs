//! One answer, one verdict, on either runner: the parity corpus of edge values
//! (`tests/fixtures/parity/`) graded as Python and JavaScript function exercises on the
//! wasm runner and on the Docker runner. Every value gets its expected status on both.

use crate::common::{
    DockerMode, MAXIMA, docker_args, repo, resolved_exercise, resolved_test, wasm_runner,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use verdict::domain::{Kind, Language, ResolvedExercise, ResolvedTest, RunnerKind, Value};

#[derive(Deserialize)]
struct Corpus {
    python: BTreeMap<String, Entry>,
    javascript: BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
struct Entry {
    /// JSON text of the value it must come back as.
    expected: Option<String>,
    /// A value the test builds instead: "10^400" or "deep 50".
    generated: Option<String>,
    status: String,
}

impl Entry {
    fn value(&self) -> Option<Value> {
        if let Some(text) = &self.expected {
            return Some(Value::parse(text.as_bytes()).unwrap());
        }
        match self.generated.as_deref()? {
            "10^400" => Some(Value::parse(format!("1{}", "0".repeat(400)).as_bytes()).unwrap()),
            "deep 50" => {
                Some((0..50).fold(Value::List(vec![]), |inner, _| Value::List(vec![inner])))
            }
            other => panic!("unknown generated value {other}"),
        }
    }
}

fn exercise(
    entries: &BTreeMap<String, Entry>,
    language: Language,
    runner: RunnerKind,
) -> ResolvedExercise {
    let entrypoint = match language {
        Language::Python => "values.py",
        _ => "values.js",
    };
    let tests = entries
        .iter()
        .map(|(name, entry)| ResolvedTest {
            args: Some(vec![Value::str(name.as_str())]),
            expected: Some(entry.value().unwrap_or_default()),
            ..resolved_test(name)
        })
        .collect();
    resolved_exercise(language, Kind::Function, runner, entrypoint, tests)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_edge_value_gets_the_same_status_on_both_runners() {
    crate::needs!(Docker);
    let dir = repo().join("tests/fixtures/parity");
    let corpus: Corpus =
        toml::from_str(&std::fs::read_to_string(dir.join("expected.toml")).unwrap()).unwrap();
    let docker =
        verdict::runner::docker::DockerRunner::connect(&docker_args(DockerMode::On), 2, &|line| {
            eprintln!("{line}")
        })
        .await
        .unwrap();
    let sandboxes = verdict::runner::Sandboxes {
        wasm: wasm_runner(),
        docker,
    };
    let mut problems = Vec::new();
    for (language, entries, file) in [
        (Language::Python, &corpus.python, "values.py"),
        (Language::Javascript, &corpus.javascript, "values.js"),
    ] {
        let source = std::fs::read(dir.join(file)).unwrap();
        for runner in [RunnerKind::Wasm, RunnerKind::Docker] {
            let exercise = exercise(entries, language, runner);
            let files = BTreeMap::from([(exercise.entrypoint.clone(), source.clone())]);
            let (grade, _, _) =
                verdict::exercise::grade_files(&exercise, files, &sandboxes, &MAXIMA)
                    .await
                    .unwrap_or_else(|error| panic!("{language:?} on {runner:?}: {error}"));
            for (result, (name, entry)) in grade.tests.iter().zip(entries) {
                let status = serde_json::to_value(result.status).unwrap();
                if status != entry.status {
                    problems.push(format!(
                        "{language:?} {name:?} on {runner:?}: expected {}, got {status} ({:?}, actual {:?})",
                        entry.status, result.message, result.actual
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
