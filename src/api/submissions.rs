//! `/v1/submissions` and the `/v1/results` feed.

use super::auth::{Authorized, Caller, FeedReaders};
use super::error::{ApiError, Json, Query};
use super::state::AppState;
use crate::completions::Completions;
use crate::domain::{
    ExerciseSlug, FileName, LearnerId, Limits, Resources, Role, RuntimeInfo, Status, SubmissionId,
    TestResult, Verdict, Visibility,
};
use crate::store::idempotency::Created;
use crate::store::submissions::{
    IdempotencyKey, ListFilter, NewSubmission, SubmissionRecord, decode_cursor, decode_feed_cursor,
    encode_feed_cursor,
};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The longest a `?wait=` long poll may hold a request.
pub const MAX_WAIT_SECS: u64 = 60;

/// A submitted file: text, or `{"base64": "..."}` for binary content (a `.wasm`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum FileContent {
    Text(String),
    Binary { base64: String },
}

impl FileContent {
    /// Text when the bytes are UTF-8, base64 otherwise.
    pub fn from_bytes(bytes: Vec<u8>) -> FileContent {
        match String::from_utf8(bytes) {
            Ok(text) => FileContent::Text(text),
            Err(error) => FileContent::Binary {
                base64: base64::engine::general_purpose::STANDARD.encode(error.into_bytes()),
            },
        }
    }
}

/// The body of `POST /v1/submissions`. Unknown fields (limits, scores…) are refused.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmissionRequest {
    /// The exercise slug.
    pub exercise: String,
    /// File name → content.
    pub files: BTreeMap<String, FileContent>,
    /// The learner; only integration, instructor and admin tokens may name one.
    pub learner: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExerciseRef {
    pub slug: String,
    pub version: String,
}

/// A submission as the API shows it; hidden tests are stripped for learners.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubmissionView {
    pub id: String,
    pub exercise: ExerciseRef,
    pub learner: String,
    pub status: Status,
    pub verdict: Option<Verdict>,
    pub score: Option<f64>,
    pub max_score: f64,
    pub tests: Vec<TestResult>,
    /// The compile error or infrastructure message, when there is one.
    pub message: Option<String>,
    pub runner: Option<String>,
    pub runtime: Option<RuntimeInfo>,
    pub limits: Option<Limits>,
    /// What the grading used. Absent for a learner when the exercise has hidden tests:
    /// their time and memory count in it, and learner code could make them carry a
    /// hidden input.
    pub resources: Option<Resources>,
    pub attempts: i64,
    pub created_at: String,
    pub completed_at: Option<String>,
}

/// Builds the view of a record for `caller`.
pub fn view(record: SubmissionRecord, caller: &Caller) -> SubmissionView {
    let result = record.result.unwrap_or_default();
    let (tests, resources) = if caller.sees_hidden_data() {
        (result.tests, result.resources)
    } else {
        let hidden = result
            .tests
            .iter()
            .any(|test| test.visibility == Visibility::Hidden);
        (
            result.tests.iter().map(TestResult::learner_view).collect(),
            result.resources.filter(|_| !hidden),
        )
    };
    SubmissionView {
        id: record.id.into(),
        exercise: ExerciseRef {
            slug: record.exercise_slug.into(),
            version: record.exercise_version,
        },
        learner: record.learner.into(),
        status: record.status,
        verdict: record.verdict,
        score: record.score,
        max_score: record.max_score,
        tests,
        message: result.message,
        runner: result.runner,
        runtime: result.runtime,
        limits: result.limits,
        resources,
        attempts: record.attempts,
        created_at: record.created_at,
        completed_at: record.completed_at,
    }
}

fn decode_files(
    files: &BTreeMap<String, FileContent>,
) -> Result<BTreeMap<FileName, Vec<u8>>, ApiError> {
    files
        .iter()
        .map(|(name, content)| {
            let name = FileName::parse(name)
                .map_err(|problem| ApiError::unprocessable("invalid_file", problem.0))?;
            let bytes = match content {
                FileContent::Text(text) => text.clone().into_bytes(),
                FileContent::Binary { base64 } => base64::engine::general_purpose::STANDARD
                    .decode(base64)
                    .map_err(|error| {
                        ApiError::unprocessable(
                            "invalid_file",
                            format!("{name}: bad base64: {error}"),
                        )
                    })?,
            };
            Ok((name, bytes))
        })
        .collect()
}

/// Submit a solution for grading.
#[utoipa::path(post, path = "/v1/submissions", request_body = SubmissionRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses((status = 202, body = SubmissionView), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422), (status = 429), (status = 503)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Json(request): Json<SubmissionRequest>,
) -> Result<Response, ApiError> {
    let learner = submitting_for(&caller, request.learner.as_deref())?;
    let slug = ApiError::unless_found(ExerciseSlug::parse(&request.exercise), "exercise")?;
    let stored = state
        .store
        .current_version(&slug)
        .await?
        .ok_or(ApiError::NotFound("exercise"))?;
    let exercise = &stored.exercise;
    let files = accepted_files(exercise, &request.files)?;
    let key = idempotency_key(&headers)?;
    let request_hash = {
        let canonical =
            serde_json::json!({"exercise": request.exercise, "learner": learner, "files": files});
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    };
    let idempotency = key.map(|key| IdempotencyKey {
        token_id: &caller.0.token_id,
        key,
        request_hash: &request_hash,
    });
    // A retry of a request already answered gets that answer, whatever the caps say now.
    if let Some(idempotency) = &idempotency
        && let Some(answer) = state.store.idempotent_answer(idempotency).await?
    {
        return idempotent_response(answer, &caller);
    }
    admit(&state, &learner).await?;
    let new = NewSubmission {
        learner: &learner,
        exercise_slug: &exercise.slug,
        exercise_version: &stored.version,
        max_score: exercise.points,
        files: &files,
    };
    let created = state
        .store
        .create_submission(&new, idempotency.as_ref())
        .await?;
    if let Created::New(record) = &created {
        // Committed: the 202 is durable. A failed push is retried by the outbox sweep.
        if let Err(error) = state.queue.push(&record.id, 0).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "push failed; the outbox sweep will retry"
            );
        }
    }
    idempotent_response(created, &caller)
}

/// The learner a submission is for: a learner token's own, or the one a staff or
/// integration token names.
fn submitting_for(caller: &Caller, named: Option<&str>) -> Result<LearnerId, ApiError> {
    match (caller.role(), named, caller.own_learner()) {
        (Role::Learner, None, Some(own)) => Ok(own.clone()),
        (Role::Learner, Some(named), Some(own)) if own == named => Ok(own.clone()),
        (Role::Learner, _, _) => Err(ApiError::Forbidden(
            "a learner token submits only for its own learner".into(),
        )),
        (_, Some(named), _) => LearnerId::parse(named)
            .map_err(|problem| ApiError::unprocessable("invalid_learner", problem.0)),
        (_, None, _) => Err(ApiError::unprocessable(
            "missing_learner",
            "name the `learner` this submission is for",
        )),
    }
}

/// The submitted files, decoded, when they are exactly what the exercise accepts.
fn accepted_files(
    exercise: &crate::domain::ResolvedExercise,
    files: &BTreeMap<String, FileContent>,
) -> Result<BTreeMap<FileName, Vec<u8>>, ApiError> {
    let files = decode_files(files)?;
    if let Some(name) = files.keys().find(|name| !exercise.accepts_file(name)) {
        return Err(ApiError::unprocessable(
            "invalid_file",
            format!(
                "{name} is not a file this exercise accepts (expected {})",
                exercise.entrypoint
            ),
        ));
    }
    if !files
        .keys()
        .any(|name| *name == exercise.entrypoint.as_str())
    {
        return Err(ApiError::unprocessable(
            "missing_file",
            format!("the submission must include {}", exercise.entrypoint),
        ));
    }
    Ok(files)
}

/// The `Idempotency-Key` header, when one was sent.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .filter(|key| !key.is_empty() && key.len() <= 255)
        .map(Some)
        .ok_or_else(|| {
            ApiError::BadRequest("Idempotency-Key must be 1-255 visible ASCII characters".into())
        })
}

/// The caps a new submission must pass: the learner's rate, the learner's submissions in
/// flight, and the queue's depth.
async fn admit(state: &AppState, learner: &LearnerId) -> Result<(), ApiError> {
    if let Err(retry_after_secs) = state.rate.take(learner) {
        return Err(ApiError::RateLimited {
            message: format!(
                "too many submissions for learner {learner}; retry in {retry_after_secs} s"
            ),
            retry_after_secs,
        });
    }
    if state.store.in_flight(learner).await? >= state.api.max_in_flight {
        return Err(ApiError::RateLimited {
            message: format!(
                "learner {learner} already has {} submissions waiting; retry when one completes",
                state.api.max_in_flight
            ),
            retry_after_secs: 2,
        });
    }
    if state.store.queue_depth().await? >= state.api.queue_cap {
        return Err(ApiError::QueueFull);
    }
    Ok(())
}

/// The HTTP answer for a created, replayed or refused submission.
fn idempotent_response(created: Created, caller: &Caller) -> Result<Response, ApiError> {
    let record = match created {
        Created::New(record) | Created::Replayed(record) => record,
        Created::KeyReused => {
            return Err(ApiError::unprocessable(
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request body",
            ));
        }
        Created::KeyInFlight => {
            return Err(ApiError::Conflict(
                "a request with this Idempotency-Key is still in flight; retry shortly".into(),
            ));
        }
    };
    Ok((StatusCode::ACCEPTED, axum::Json(view(record, caller))).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct WaitQuery {
    /// Hold the request up to this many seconds (0-60) until the submission is final.
    #[param(minimum = 0, maximum = 60)]
    pub wait: Option<u64>,
}

/// A query number within its documented range; 400 outside it.
fn within(name: &str, value: Option<u64>, low: u64, high: u64) -> Result<Option<u64>, ApiError> {
    match value {
        Some(number) if number < low || number > high => Err(ApiError::BadRequest(format!(
            "{name} must be between {low} and {high}"
        ))),
        other => Ok(other),
    }
}

/// Read one submission; `?wait=` long-polls until it is final.
#[utoipa::path(get, path = "/v1/submissions/{id}", params(("id" = String, Path), WaitQuery),
    responses((status = 200, body = SubmissionView), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<WaitQuery>,
) -> Result<axum::Json<SubmissionView>, ApiError> {
    let wait = within("wait", query.wait, 0, MAX_WAIT_SECS)?.unwrap_or(0);
    let id = ApiError::unless_found(SubmissionId::parse(&id), "submission")?;
    let deadline = Instant::now() + Duration::from_secs(wait);
    loop {
        let mut completed = state.completions.subscribe();
        let record = state
            .store
            .submission(&id)
            .await?
            .filter(|record| {
                caller
                    .own_learner()
                    .is_none_or(|own| *own == record.learner)
            })
            .ok_or(ApiError::NotFound("submission"))?;
        let now = Instant::now();
        if record.status.is_final() || now >= deadline {
            return Ok(axum::Json(view(record, &caller)));
        }
        // Woken by this submission's completion in this process; the short timeout covers
        // workers in other processes.
        let timeout = (deadline - now).min(Duration::from_millis(250));
        Completions::wait(&mut completed, Some(&id), timeout).await;
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub exercise: Option<String>,
    pub learner: Option<String>,
    /// queued | running | completed | failed
    pub status: Option<String>,
    pub cursor: Option<String>,
    /// Page size, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubmissionPage {
    pub submissions: Vec<SubmissionView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// List submissions, newest first. Learners see only their own.
#[utoipa::path(get, path = "/v1/submissions", params(ListQuery),
    responses((status = 200, body = SubmissionPage)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<axum::Json<SubmissionPage>, ApiError> {
    let status = query
        .status
        .as_deref()
        .map(|text| {
            Status::parse(text)
                .ok_or_else(|| ApiError::BadRequest(format!("unknown status {text:?}")))
        })
        .transpose()?;
    if let Some(cursor) = &query.cursor
        && decode_cursor(cursor).is_none()
    {
        return Err(ApiError::BadRequest(
            "the cursor is not one this API gave out".into(),
        ));
    }
    let learner = match caller.own_learner() {
        Some(own) => Some(own.to_string()),
        None => query.learner.clone(),
    };
    let filter = ListFilter {
        exercise: query.exercise.clone(),
        learner,
        status,
        cursor: query.cursor.clone(),
        limit: within("limit", query.limit, 1, 200)?.unwrap_or(50) as i64,
    };
    let (records, next) = state.store.list_submissions(&filter).await?;
    Ok(axum::Json(SubmissionPage {
        submissions: records
            .into_iter()
            .map(|record| view(record, &caller))
            .collect(),
        next,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// The `next` cursor of the previous page; omit to start at the beginning.
    pub after: Option<String>,
    /// Page size, 1-500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
    /// Hold the request up to this many seconds (0-60) until a result arrives.
    #[param(minimum = 0, maximum = 60)]
    pub wait: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FeedPage {
    pub results: Vec<SubmissionView>,
    /// Pass as `after` for the next page (the same cursor when nothing new arrived).
    pub next: String,
}

/// The results feed for LMS polling: finished submissions in completion order.
#[utoipa::path(get, path = "/v1/results", params(FeedQuery),
    responses((status = 200, body = FeedPage), (status = 403)), security(("bearer" = [])))]
pub async fn feed(
    State(state): State<AppState>,
    caller: Authorized<FeedReaders>,
    Query(query): Query<FeedQuery>,
) -> Result<axum::Json<FeedPage>, ApiError> {
    let after = match &query.after {
        Some(cursor) => decode_feed_cursor(cursor).ok_or_else(|| {
            ApiError::BadRequest("the cursor is not one this API gave out".into())
        })?,
        None => 0,
    };
    let limit = within("limit", query.limit, 1, 500)?.unwrap_or(100) as i64;
    let wait = within("wait", query.wait, 0, MAX_WAIT_SECS)?.unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(wait);
    loop {
        let mut completed = state.completions.subscribe();
        let records = state.store.feed(after, limit).await?;
        let now = Instant::now();
        if !records.is_empty() || now >= deadline {
            let next = records
                .last()
                .and_then(|record| record.feed_seq)
                .unwrap_or(after);
            return Ok(axum::Json(FeedPage {
                results: records
                    .into_iter()
                    .map(|record| view(record, &caller))
                    .collect(),
                next: encode_feed_cursor(next),
            }));
        }
        let timeout = (deadline - now).min(Duration::from_millis(250));
        Completions::wait(&mut completed, None, timeout).await;
    }
}
