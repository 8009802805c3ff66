//! `/v1/exercises`: upload packages (instructors) and read statements (everyone).

use super::auth::{Authorized, Caller, Staff};
use super::error::ApiError;
use super::state::AppState;
use super::submissions::FileContent;
use crate::domain::StoredVersion;
use crate::domain::{ExerciseSlug, Kind, Language, Limits, Tier, Value, Visibility};
use crate::exercise::package::{Package, PackageError, PackageLimits};
use crate::exercise::{ValidationError, ValidationReport};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExerciseSummary {
    pub slug: String,
    pub title: String,
    pub tier: Tier,
    pub points: f64,
    pub language: Language,
    pub kind: Kind,
    pub version: String,
}

fn summary(stored: &StoredVersion) -> ExerciseSummary {
    let exercise = &stored.exercise;
    ExerciseSummary {
        slug: exercise.slug.to_string(),
        title: exercise.title.clone(),
        tier: exercise.tier,
        points: exercise.points,
        language: exercise.language,
        kind: exercise.kind,
        version: stored.version.clone(),
    }
}

/// A visible test, as a learner may see it before submitting.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TestPreview {
    pub name: String,
    pub weight: f64,
    /// io: the program's stdin.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stdin: String,
    /// function: the call's arguments (any JSON values).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<Value>>,
    /// sql: the seed script run after the schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
    /// The expected output, return value or rows (any JSON value; absent for suite
    /// tests).
    pub expected: Option<Value>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExerciseDetail {
    #[serde(flatten)]
    pub summary: ExerciseSummary,
    /// The statement (markdown).
    pub statement: String,
    pub entrypoint: String,
    /// function: the function the harness calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Starter files: text, or `{"base64": …}` for binary files.
    pub starter: BTreeMap<String, FileContent>,
    /// The effective limits, after operator maxima.
    pub limits: Limits,
    /// The visible tests only.
    pub tests: Vec<TestPreview>,
    /// How many hidden tests there are, and their share of the points.
    pub hidden_tests: usize,
    pub hidden_weight: f64,
}

/// An exercise package's bytes, for the OpenAPI document.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct PackageBody(#[allow(dead_code)] Vec<u8>);

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UploadResponse {
    pub slug: String,
    pub version: String,
    /// False when this exact content was uploaded before (the version is reused).
    pub created: bool,
    pub report: ValidationReport,
}

/// Upload an exercise package (tar.gz or zip). The reference must score 100% and the
/// starter must not before the version goes live.
#[utoipa::path(post, path = "/v1/exercises",
    request_body(description = "A tar.gz or zip of the package (the bytes are read whatever the type says)",
        content((PackageBody = "application/gzip"), (PackageBody = "application/zip"), (PackageBody = "application/octet-stream"))),
    responses((status = 201, body = UploadResponse), (status = 403), (status = 413), (status = 422)), security(("bearer" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    _caller: Authorized<Staff>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let cap = state.api.max_package_kb * 1024;
    let too_large = || {
        ApiError::TooLarge(format!(
            "the package is larger than {} KiB",
            state.api.max_package_kb
        ))
    };
    // Answer from the declared length before reading anything: the client learns at once,
    // and no byte of an oversize upload is buffered.
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|length| length > cap) {
        return Err(too_large());
    }
    let body: Bytes = axum::body::to_bytes(body, cap)
        .await
        .map_err(|_| too_large())?;
    // Decompression is CPU work: keep it off the async threads.
    let package =
        tokio::task::spawn_blocking(move || Package::from_archive(&body, PackageLimits::default()))
            .await
            .map_err(|error| ApiError::Internal(error.into()))?
            .map_err(package_error)?;
    let version = package.content_hash();
    // A policy that requires this exercise in one tier must keep finding it there (the
    // next start-up would refuse the policy otherwise).
    if let Some((policy, _)) = state.store.policy().await? {
        let tier = package.manifest.tier;
        if let Some((required_in, _)) = policy
            .tiers
            .iter()
            .find(|(t, rules)| *t != tier && rules.required.contains(&package.manifest.slug))
        {
            return Err(ApiError::unprocessable(
                "tier_conflict",
                format!(
                    "the certification policy requires `{}` as a {} exercise; this version says tier = \"{}\"",
                    package.manifest.slug,
                    required_in.as_str(),
                    tier.as_str()
                ),
            ));
        }
    }
    let (exercise, report) =
        match crate::exercise::validate(&package, state.runner.as_ref(), &state.maxima, &|line| {
            tracing::info!("{line}")
        })
        .await
        {
            Ok(validated) => validated,
            Err(ValidationError::Package(error)) => return Err(package_error(error)),
            Err(ValidationError::Runner(error)) => return Err(ApiError::Internal(error.into())),
            Err(ValidationError::Failed(report)) => {
                return Err(ApiError::Unprocessable {
                    code: "validation_failed",
                    message: format!(
                        "{}: the package failed its checks; see details",
                        report.slug
                    ),
                    details: Some(serde_json::to_value(&*report).unwrap_or_default()),
                });
            }
        };
    let created = state
        .store
        .save_version(&package.content_hash(), &package.files, &exercise, &report)
        .await?;
    tracing::info!(slug = %exercise.slug, %version, created, "exercise version live");
    let response = UploadResponse {
        slug: exercise.slug.to_string(),
        version,
        created,
        report,
    };
    Ok((StatusCode::CREATED, axum::Json(response)).into_response())
}

fn package_error(error: PackageError) -> ApiError {
    match error {
        PackageError::TooLarge(message) => ApiError::TooLarge(message),
        PackageError::Invalid(error) => ApiError::Unprocessable {
            code: "invalid_package",
            message: error.to_string(),
            details: Some(serde_json::json!({"field": error.field, "problem": error.problem})),
        },
    }
}

/// List the live exercises.
#[utoipa::path(get, path = "/v1/exercises", responses((status = 200, body = Vec<ExerciseSummary>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<axum::Json<Vec<ExerciseSummary>>, ApiError> {
    let versions = state.store.list_exercises().await?;
    Ok(axum::Json(versions.iter().map(summary).collect()))
}

/// The statement, starter files, limits and visible tests of an exercise.
#[utoipa::path(get, path = "/v1/exercises/{slug}", params(("slug" = String, Path)),
    responses((status = 200, body = ExerciseDetail), (status = 404)), security(("bearer" = [])))]
pub async fn detail(
    State(state): State<AppState>,
    _caller: Caller,
    Path(slug): Path<String>,
) -> Result<axum::Json<ExerciseDetail>, ApiError> {
    let slug = ApiError::unless_found(ExerciseSlug::parse(&slug), "exercise")?;
    let stored = state
        .store
        .current_version(&slug)
        .await?
        .ok_or(ApiError::NotFound("exercise"))?;
    let statement = state
        .store
        .version_file(&stored.version, "README.md")
        .await?
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    let starter = state
        .store
        .version_files(&stored.version, "starter")
        .await?
        .into_iter()
        .map(|(name, bytes)| (name, FileContent::from_bytes(bytes)))
        .collect();
    let exercise = &stored.exercise;
    let (visible, hidden): (Vec<_>, Vec<_>) = exercise
        .tests
        .iter()
        .partition(|test| test.visibility == Visibility::Visible);
    let tests = visible
        .into_iter()
        .map(|test| TestPreview {
            name: test.name.clone(),
            weight: test.weight,
            stdin: test.stdin.clone(),
            args: test.args.clone(),
            seed: test.seed.clone(),
            expected: if exercise.kind == Kind::Suite {
                None
            } else {
                test.expected_display()
            },
        })
        .collect();
    Ok(axum::Json(ExerciseDetail {
        summary: summary(&stored),
        statement,
        entrypoint: exercise.entrypoint.clone(),
        function: exercise.function.clone(),
        starter,
        limits: Limits::resolve(&exercise.limits, &state.maxima),
        tests,
        hidden_tests: hidden.len(),
        hidden_weight: hidden.iter().map(|test| test.weight).sum(),
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionSummary {
    pub version: String,
    pub created_at: String,
    pub current: bool,
}

/// Every version of an exercise, newest first.
#[utoipa::path(get, path = "/v1/exercises/{slug}/versions", params(("slug" = String, Path)),
    responses((status = 200, body = Vec<VersionSummary>), (status = 404)), security(("bearer" = [])))]
pub async fn versions(
    State(state): State<AppState>,
    _caller: Caller,
    Path(slug): Path<String>,
) -> Result<axum::Json<Vec<VersionSummary>>, ApiError> {
    let slug = ApiError::unless_found(ExerciseSlug::parse(&slug), "exercise")?;
    let current = state
        .store
        .current_version(&slug)
        .await?
        .ok_or(ApiError::NotFound("exercise"))?;
    let versions = state.store.list_versions(&slug).await?;
    Ok(axum::Json(
        versions
            .into_iter()
            .map(|stored| VersionSummary {
                current: stored.version == current.version,
                version: stored.version,
                created_at: stored.created_at,
            })
            .collect(),
    ))
}
