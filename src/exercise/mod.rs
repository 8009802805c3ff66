//! Exercise packages: the manifest, reading packages, and the checks a version must pass
//! before it goes live (the reference scores 100%, the starter does not).

pub mod manifest;
pub mod package;
pub mod resolved;

use crate::grading::{self, Grade, Verdict};
use crate::runner::{Limits, RunReport, RunRequest, Runner, RunnerError};
use manifest::{Compare, Kind, Language, ManifestError, RunnerKind};
use package::{Package, PackageError};
use resolved::{ResolvedExercise, ResolvedTest};
use serde::Serialize;

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

/// Kinds and languages this build can grade.
fn check_supported(package: &Package) -> Result<(), ManifestError> {
    let manifest = &package.manifest;
    match (manifest.runner(), manifest.language, manifest.kind) {
        (RunnerKind::Wasm, Language::Wasm, Kind::Io) => Ok(()),
        (runner, language, kind) => Err(ManifestError::new(
            "kind",
            format!(
                "runner {runner} cannot grade language {language:?} with kind {kind:?} yet; this build grades \
                 language = \"wasm\", kind = \"io\""
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
        tests.push(ResolvedTest {
            name: test.name.clone(),
            weight: test.weight,
            visibility: test.visibility,
            stdin,
            expected_stdout,
            compare: test.compare,
            tolerance: test.tolerance,
            pattern: test.pattern.clone(),
        });
    }
    Ok(tests)
}

/// Builds the run request for one program against every test of `exercise`.
pub fn run_request(
    exercise: &ResolvedExercise,
    files: std::collections::BTreeMap<String, Vec<u8>>,
    maxima: &Limits,
) -> RunRequest {
    RunRequest {
        files,
        entrypoint: exercise.entrypoint.clone(),
        cases: exercise
            .tests
            .iter()
            .map(|t| t.stdin.clone().into_bytes())
            .collect(),
        limits: Limits::resolve(&exercise.limits, maxima),
    }
}

/// Grades `files` against `exercise` with `runner`.
pub async fn grade_files(
    exercise: &ResolvedExercise,
    files: std::collections::BTreeMap<String, Vec<u8>>,
    runner: &dyn Runner,
    maxima: &Limits,
) -> Result<(Grade, crate::runner::RuntimeInfo, RunReport), RunnerError> {
    let request = run_request(exercise, files, maxima);
    let (report, info) = runner.run(&request).await?;
    if let RunReport::Cases(observations) = &report
        && observations.len() != exercise.tests.len()
    {
        return Err(RunnerError(format!(
            "the runner returned {} observations for {} tests",
            observations.len(),
            exercise.tests.len()
        )));
    }
    let grade = grading::grade_io(&exercise.tests, &report, exercise.points);
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
        if test.status != grading::TestStatus::Passed {
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
    check_supported(package).map_err(PackageError::from)?;
    let manifest = &package.manifest;
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
    let mut exercise = ResolvedExercise {
        slug: manifest.slug.clone(),
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
    };
    let mut report = ValidationReport {
        slug: exercise.slug.clone(),
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
    let request = run_request(&exercise, solution.clone(), maxima);
    let (run, _) = runner.run(&request).await?;
    let mut problems = Vec::new();
    if let RunReport::Cases(observations) = &run {
        for (test, observation) in exercise.tests.iter_mut().zip(observations) {
            let needs_expected = test.expected_stdout.is_none() && test.compare != Compare::Regex;
            if needs_expected {
                if observation.outcome == (crate::runner::CaseOutcome::Exited { code: 0 }) {
                    test.expected_stdout =
                        Some(String::from_utf8_lossy(&observation.stdout).into_owned());
                } else {
                    problems.push(format!(
                        "test {:?}: expected_stdout was left out, and the reference did not finish cleanly ({:?})",
                        test.name, observation.outcome
                    ));
                }
            }
        }
    }
    let grade = grading::grade_io(&exercise.tests, &run, exercise.points);
    let reference_ok = grade.verdict == Verdict::Accepted && problems.is_empty();
    report
        .checks
        .push(check_report("reference", &grade, reference_ok, problems));

    let starter = package.folder("starter");
    if starter.contains_key(&exercise.entrypoint) {
        progress(&format!("{}: running the starter", exercise.slug));
        let (grade, _, _) = grade_files(&exercise, starter, runner, maxima).await?;
        let mut problems = Vec::new();
        let starter_ok = grade.verdict != Verdict::Accepted;
        if !starter_ok {
            problems
                .push("the starter scores 100%: learners could submit it unchanged".to_string());
        }
        let mut check = check_report("starter", &grade, starter_ok, problems);
        if starter_ok {
            check.problems.clear();
        }
        report.checks.push(check);
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
