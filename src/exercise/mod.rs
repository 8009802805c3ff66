//! Exercise packages: the manifest, reading packages, and the checks a version must pass
//! before it goes live (the reference scores 100%, the starter does not).

pub mod checks;
pub mod manifest;
pub mod package;

use crate::domain::{
    Compare, FileName, Grade, Kind, Language, Limits, ResolvedExercise, ResolvedTest, RunnerKind,
    Value, Verdict, Visibility,
};

use crate::grading::{self};
use crate::runner::{CaseInput, CaseOutcome, RunReport, RunRequest, Runner, RunnerError};
use manifest::ManifestError;
use package::{Package, PackageError};
use serde::Serialize;
use std::collections::BTreeMap;

/// One check run at upload, as shown in the validation report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CheckReport {
    /// `reference` or `starter`.
    pub check: String,
    pub passed: bool,
    pub verdict: Verdict,
    pub score: f64,
    pub max_score: f64,
    /// Why the check failed, test by test.
    pub problems: Vec<String>,
}

/// The outcome of validating a package.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ValidationReport {
    pub slug: String,
    pub version: String,
    pub valid: bool,
    pub checks: Vec<CheckReport>,
    /// Set when the package was refused before anything ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    #[error(transparent)]
    Package(#[from] PackageError),
    /// The checks ran and the package failed them; the report says why.
    #[error("the package failed its checks")]
    Failed(Box<ValidationReport>),
    #[error(transparent)]
    Runner(#[from] RunnerError),
}

/// Kinds and languages this build can grade, by runner.
fn check_supported(package: &Package) -> Result<(), ManifestError> {
    let manifest = &package.manifest;
    match (manifest.runner(), manifest.language, manifest.kind) {
        (RunnerKind::Wasm, Language::Wasm, Kind::Io)
        | (RunnerKind::Wasm, Language::Python, Kind::Io | Kind::Function | Kind::Suite)
        | (RunnerKind::Wasm, Language::Javascript, Kind::Io | Kind::Function)
        | (RunnerKind::Wasm, Language::Sql, Kind::Sql)
        | (
            RunnerKind::Docker,
            Language::Python | Language::Javascript,
            Kind::Io | Kind::Function | Kind::Suite | Kind::Http,
        ) => Ok(()),
        (runner, language, kind) => Err(ManifestError::new(
            "kind",
            format!(
                "runner {runner} cannot grade language {language:?} with kind {kind:?}; \
                 the wasm runner grades python (io, function, suite), javascript (io, function), \
                 sql (sql) and wasm (io); the docker runner grades python and javascript \
                 (io, function, suite, http)"
            ),
        )),
    }
}

/// Makes every test concrete: inlines case files; expected values stay `None` when absent.
fn resolve_tests(package: &Package) -> Result<Vec<ResolvedTest>, PackageError> {
    let mut tests = Vec::new();
    for (index, test) in package.manifest.tests.iter().enumerate() {
        let stdin = match (&test.stdin, &test.stdin_file) {
            (Some(stdin), _) => stdin.clone(),
            (None, Some(path)) => package.text_file(&format!("tests[{index}].stdin_file"), path)?,
            (None, None) => String::new(),
        };
        let expected_stdout = match (&test.expected_stdout, &test.expected_stdout_file) {
            (Some(expected), _) => Some(expected.clone()),
            (None, Some(path)) => {
                Some(package.text_file(&format!("tests[{index}].expected_stdout_file"), path)?)
            }
            (None, None) => None,
        };
        let seed = match &test.seed {
            Some(path) => Some(package.text_file(&format!("tests[{index}].seed"), path)?),
            None => None,
        };
        // TOML integers fit 64 bits, so the conversion is exact.
        let expected = match package.manifest.kind {
            Kind::Sql => test
                .expected_rows
                .as_ref()
                .map(|rows| Value::from(serde_json::json!(rows))),
            Kind::Http => test.expect.as_ref().map(Value::from),
            _ => test.expected.as_ref().map(Value::from),
        };
        let request =
            match package.manifest.kind {
                Kind::Http => Some(checks::http_request(test.request.as_ref()).map_err(
                    |problem| ManifestError::new(format!("tests[{index}].request"), problem),
                )?),
                _ => None,
            };
        tests.push(ResolvedTest {
            name: test.name.clone(),
            weight: test.weight,
            visibility: test.visibility,
            stdin,
            expected_stdout,
            compare: test.compare,
            tolerance: test.tolerance,
            pattern: test.pattern.clone(),
            args: test
                .args
                .as_ref()
                .map(|args| args.iter().map(Value::from).collect()),
            expected,
            seed,
            ordered: test.ordered.unwrap_or(false),
            request,
        });
    }
    Ok(tests)
}

/// The suite kind's test files, by plain name (they run beside the learner's files).
fn resolve_support(package: &Package) -> Result<BTreeMap<String, String>, PackageError> {
    let mut support = BTreeMap::new();
    let Some(suite) = &package.manifest.suite else {
        return Ok(support);
    };
    for (index, path) in suite.files.iter().enumerate() {
        let field = format!("suite.files[{index}]");
        let name = path.rsplit('/').next().unwrap_or(path).to_string();
        FileName::parse(&name)
            .map_err(|problem| PackageError::from(ManifestError::new(&field, problem.0)))?;
        if package
            .manifest
            .accepted_files()
            .any(|accepted| accepted == name)
        {
            return Err(ManifestError::new(
                &field,
                format!("{name} is also a file learners submit; give the test file another name"),
            )
            .into());
        }
        let text = package.text_file(&field, path)?;
        if support.insert(name.clone(), text).is_some() {
            return Err(
                ManifestError::new(field, format!("two test files are named {name}")).into(),
            );
        }
    }
    Ok(support)
}

/// Builds the run request for one program against every test of `exercise`. Expected
/// values stay out of it.
/// The order the sandbox runs the tests in: every visible test before any hidden one,
/// each group in manifest order. Text is shown only for visible tests, so no text a
/// learner sees was produced after a hidden test's input had entered the sandbox (a
/// program could keep it, in memory or on disk, and print it later). http probes run in
/// manifest order against one server; their manifests list hidden tests last.
pub fn run_order(exercise: &ResolvedExercise) -> Vec<usize> {
    let all = 0..exercise.tests.len();
    if exercise.kind == Kind::Http {
        return all.collect();
    }
    let (visible, hidden): (Vec<usize>, Vec<usize>) =
        all.partition(|&index| exercise.tests[index].visibility == Visibility::Visible);
    visible.into_iter().chain(hidden).collect()
}

/// The request for `files`, its cases in `run_order`.
pub fn run_request(
    exercise: &ResolvedExercise,
    files: BTreeMap<String, Vec<u8>>,
    maxima: &Limits,
) -> RunRequest {
    let order = run_order(exercise);
    let hidden_from = order
        .iter()
        .position(|&index| exercise.tests[index].visibility == Visibility::Hidden)
        .unwrap_or(order.len());
    let cases = order
        .into_iter()
        .map(|index| &exercise.tests[index])
        .map(|test| match exercise.kind {
            Kind::Function => CaseInput::Call(test.args.clone().unwrap_or_default()),
            Kind::Sql => CaseInput::Seed(test.seed.clone().unwrap_or_default()),
            Kind::Suite => CaseInput::Test(test.name.clone()),
            Kind::Http => CaseInput::Request(test.request.clone().unwrap_or_default()),
            Kind::Io => CaseInput::Stdin(test.stdin.clone().into_bytes()),
        })
        .collect();
    RunRequest {
        runner: exercise.runner,
        language: exercise.language,
        kind: exercise.kind,
        files,
        entrypoint: exercise.entrypoint.clone(),
        support: exercise
            .support
            .iter()
            .map(|(name, text)| (name.clone(), text.clone().into_bytes()))
            .collect(),
        function: exercise.function.clone(),
        schema: exercise.schema.clone(),
        http: exercise.http.clone(),
        cases,
        hidden_from,
        limits: Limits::resolve(&exercise.limits, maxima),
    }
}

/// Runs `files` against every test of `exercise`; the observations come back in
/// manifest order (the sandbox ran them in `run_order`).
pub async fn run_tests(
    exercise: &ResolvedExercise,
    files: BTreeMap<String, Vec<u8>>,
    runner: &dyn Runner,
    maxima: &Limits,
) -> Result<(RunReport, crate::domain::RuntimeInfo), RunnerError> {
    let request = run_request(exercise, files, maxima);
    let (report, info) = runner.run(&request).await?;
    let RunReport::Cases(observations) = report else {
        return Ok((report, info));
    };
    if observations.len() != exercise.tests.len() {
        return Err(RunnerError(format!(
            "the runner returned {} observations for {} tests",
            observations.len(),
            exercise.tests.len()
        )));
    }
    let mut in_manifest_order = vec![None; observations.len()];
    for (index, observation) in run_order(exercise).into_iter().zip(observations) {
        in_manifest_order[index] = Some(observation);
    }
    let observations = in_manifest_order.into_iter().flatten().collect();
    Ok((RunReport::Cases(observations), info))
}

/// Grades `files` against `exercise` with `runner`.
pub async fn grade_files(
    exercise: &ResolvedExercise,
    files: BTreeMap<String, Vec<u8>>,
    runner: &dyn Runner,
    maxima: &Limits,
) -> Result<(Grade, crate::domain::RuntimeInfo, RunReport), RunnerError> {
    let (report, info) = run_tests(exercise, files, runner, maxima).await?;
    let grade = grading::grade(exercise, &report);
    Ok((grade, info, report))
}

fn check_report(
    check: &str,
    grade: &Grade,
    passed: bool,
    mut problems: Vec<String>,
) -> CheckReport {
    if let Some(message) = &grade.message {
        problems.push(message.clone());
    }
    for test in &grade.tests {
        if test.status != crate::domain::TestStatus::Passed {
            problems.push(format!(
                "test {:?}: {:?}{}",
                test.name,
                test.status,
                test.message
                    .as_ref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ));
        }
    }
    CheckReport {
        check: check.to_string(),
        passed,
        verdict: grade.verdict,
        score: grade.score,
        max_score: grade.max_score,
        problems,
    }
}

/// Validates a package: the reference must score 100%, the starter must not.
/// Expected outputs left out of the manifest are computed from the reference here.
/// `progress` hears one line per step, for the CLI.
pub async fn validate(
    package: &Package,
    runner: &dyn Runner,
    maxima: &Limits,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<(ResolvedExercise, ValidationReport), ValidationError> {
    let (mut exercise, solution) = resolve(package, runner)?;
    let mut report = ValidationReport {
        slug: exercise.slug.to_string(),
        version: package.content_hash(),
        valid: false,
        checks: Vec::new(),
        error: None,
    };
    progress(&format!(
        "{}: running the reference solution on {} tests",
        exercise.slug,
        exercise.tests.len()
    ));
    let (run, _) = run_tests(&exercise, solution, runner, maxima).await?;
    let problems = fill_expectations(&mut exercise, &run);
    let grade = grading::grade(&exercise, &run);
    let reference_ok = grade.verdict == Verdict::Accepted && problems.is_empty();
    report
        .checks
        .push(check_report("reference", &grade, reference_ok, problems));
    let starter = package.folder("starter");
    if starter.contains_key(&exercise.entrypoint) {
        progress(&format!("{}: running the starter", exercise.slug));
        report
            .checks
            .push(check_starter(&exercise, starter, runner, maxima).await?);
    }
    report.valid = report.checks.iter().all(|check| check.passed);
    progress(&format!(
        "{}: {}",
        exercise.slug,
        if report.valid { "valid" } else { "INVALID" }
    ));
    if report.valid {
        Ok((exercise, report))
    } else {
        Err(ValidationError::Failed(Box::new(report)))
    }
}

/// The package as the grader stores it, and the reference solution's files: the checks
/// that need no run.
fn resolve(
    package: &Package,
    runner: &dyn Runner,
) -> Result<(ResolvedExercise, BTreeMap<String, Vec<u8>>), ValidationError> {
    check_supported(package).map_err(PackageError::from)?;
    let manifest = &package.manifest;
    if !runner.supports(manifest.runner()) {
        return Err(PackageError::from(ManifestError::new(
            "runner",
            format!(
                "this exercise needs the {} runner, which this server does not have \
                 (start it with --docker on and a working Docker engine)",
                manifest.runner()
            ),
        ))
        .into());
    }
    let solution = package.folder("solution");
    if !solution.contains_key(&manifest.files.entrypoint) {
        return Err(PackageError::from(ManifestError::new(
            "solution",
            format!(
                "solution/{} (the entrypoint) is missing",
                manifest.files.entrypoint
            ),
        ))
        .into());
    }
    let exercise = ResolvedExercise {
        slug: manifest.slug().map_err(PackageError::from)?,
        title: manifest.title.clone(),
        tier: manifest.tier,
        points: manifest.points,
        language: manifest.language,
        kind: manifest.kind,
        runner: manifest.runner(),
        entrypoint: manifest.files.entrypoint.clone(),
        extra_files: manifest.files.extra.clone(),
        limits: manifest.limits,
        tests: resolve_tests(package)?,
        function: manifest
            .function
            .as_ref()
            .map(|function| function.name.clone()),
        schema: match &manifest.sql {
            Some(sql) => Some(package.text_file("sql.schema", &sql.schema)?),
            None => None,
        },
        support: resolve_support(package)?,
        http: manifest.http.clone(),
    };
    Ok((exercise, solution))
}

/// Sets every expectation a manifest left out from the reference's run; returns the
/// tests whose expectation could not be taken (the reference did not finish cleanly).
fn fill_expectations(exercise: &mut ResolvedExercise, run: &RunReport) -> Vec<String> {
    let mut problems = Vec::new();
    if let RunReport::Cases(observations) = run {
        for (test, observation) in exercise.tests.iter_mut().zip(observations) {
            let clean = observation.outcome == (CaseOutcome::Exited { code: 0 });
            let field = match exercise.kind {
                Kind::Io if test.expected_stdout.is_none() && test.compare != Compare::Regex => {
                    "expected_stdout"
                }
                Kind::Function if test.expected.is_none() => "expected",
                Kind::Sql if test.expected.is_none() => "expected_rows",
                Kind::Http if test.expected.is_none() => "expect",
                _ => continue,
            };
            if !clean {
                problems.push(format!(
                    "test {:?}: {field} was left out, and the reference did not finish cleanly ({:?})",
                    test.name, observation.outcome
                ));
            } else if exercise.kind == Kind::Io {
                test.expected_stdout =
                    Some(String::from_utf8_lossy(&observation.stdout).into_owned());
            } else if exercise.kind == Kind::Http {
                test.expected = observation
                    .value
                    .as_ref()
                    .map(crate::grading::http_expectation);
            } else {
                test.expected = observation.value.clone();
            }
        }
    }
    problems
}

/// The starter must not already pass: learners could submit it unchanged.
async fn check_starter(
    exercise: &ResolvedExercise,
    starter: BTreeMap<String, Vec<u8>>,
    runner: &dyn Runner,
    maxima: &Limits,
) -> Result<CheckReport, ValidationError> {
    let (grade, _, _) = grade_files(exercise, starter, runner, maxima).await?;
    let mut problems = Vec::new();
    let starter_ok = grade.verdict != Verdict::Accepted;
    if !starter_ok {
        problems.push("the starter scores 100%: learners could submit it unchanged".to_string());
    }
    let mut check = check_report("starter", &grade, starter_ok, problems);
    if starter_ok {
        check.problems.clear();
    }
    Ok(check)
}
