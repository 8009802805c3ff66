//! Learners' progress and certificates: the JSON API, the public verification surface
//! (JWKS, revocation list, certificate by id) and the page a person opens.

use super::auth::{Admins, Authorized, Caller};
use super::error::{ApiError, Json};
use super::state::AppState;
use crate::certification::credential::number;
use crate::certification::credential::{self};
use crate::certification::{TierProgress, learner_progress};
use crate::domain::{Evidence, Role};
use crate::store::certificates::{CertificateRecord, Revoked, certificates_of};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// Longest revocation reason kept.
const MAX_REASON_CHARS: usize = 500;

/// A learner's progress through the tiers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProgressView {
    pub learner: String,
    pub tiers: Vec<TierProgress>,
}

/// A certificate, with the address of its page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CertificateView {
    #[serde(flatten)]
    pub certificate: CertificateRecord,
    /// The page a person opens to check it.
    pub url: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CertificateList {
    pub certificates: Vec<CertificateView>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// Why; shown to anyone who verifies the certificate.
    pub reason: String,
}

fn view(state: &AppState, certificate: CertificateRecord) -> CertificateView {
    let url = format!("{}/certificates/{}", state.profile.url, certificate.id);
    CertificateView { certificate, url }
}

/// Learners read only their own records: another learner's id answers 404, as for
/// submissions. Instructors, admins and integrations read anyone's.
/// The id is only looked up, so any text is safe here: one no learner can have has no
/// progress and no certificates (200, empty), as before ids were a type.
fn may_read(caller: &Caller, learner: &str) -> Result<(), ApiError> {
    match caller.role() {
        Role::Learner
            if caller
                .own_learner()
                .is_none_or(|own| own.as_str() != learner) =>
        {
            Err(ApiError::NotFound("learner"))
        }
        _ => Ok(()),
    }
}

#[utoipa::path(get, path = "/v1/learners/{id}/progress", params(("id" = String, Path)),
    responses((status = 200, body = ProgressView), (status = 404)), security(("bearer" = [])))]
pub async fn progress(
    State(state): State<AppState>,
    caller: Caller,
    Path(learner): Path<String>,
) -> Result<axum::Json<ProgressView>, ApiError> {
    may_read(&caller, &learner)?;
    let tiers = learner_progress(&state.store, &learner).await?;
    Ok(axum::Json(ProgressView { learner, tiers }))
}

#[utoipa::path(get, path = "/v1/learners/{id}/certificates", params(("id" = String, Path)),
    responses((status = 200, body = CertificateList), (status = 404)), security(("bearer" = [])))]
pub async fn of_learner(
    State(state): State<AppState>,
    caller: Caller,
    Path(learner): Path<String>,
) -> Result<axum::Json<CertificateList>, ApiError> {
    may_read(&caller, &learner)?;
    let certificates = certificates_of(&state.store.pool, &learner)
        .await?
        .into_iter()
        .map(|certificate| view(&state, certificate))
        .collect();
    Ok(axum::Json(CertificateList { certificates }))
}

/// Public: anyone holding a certificate id can check it.
#[utoipa::path(get, path = "/v1/certificates/{id}", params(("id" = String, Path)),
    responses((status = 200, body = CertificateView), (status = 404)))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<CertificateView>, ApiError> {
    let certificate = state
        .store
        .certificate(&id)
        .await?
        .ok_or(ApiError::NotFound("certificate"))?;
    Ok(axum::Json(view(&state, certificate)))
}

#[utoipa::path(post, path = "/v1/certificates/{id}/revoke", params(("id" = String, Path)),
    request_body = RevokeRequest,
    responses((status = 200, body = CertificateView), (status = 403), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    _caller: Authorized<Admins>,
    Path(id): Path<String>,
    Json(request): Json<RevokeRequest>,
) -> Result<axum::Json<CertificateView>, ApiError> {
    let reason = request.reason.trim();
    if reason.is_empty() {
        return Err(ApiError::unprocessable(
            "reason_required",
            "a revocation needs a reason; it is shown to whoever verifies the certificate",
        ));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::unprocessable(
            "reason_too_long",
            format!("the reason is limited to {MAX_REASON_CHARS} characters"),
        ));
    }
    match state.store.revoke_certificate(&id, reason).await? {
        Revoked::Done(certificate) => {
            tracing::info!(certificate = id, "certificate revoked");
            Ok(axum::Json(view(&state, *certificate)))
        }
        Revoked::AlreadyRevoked => Err(ApiError::Conflict(format!(
            "certificate {id} is already revoked"
        ))),
        Revoked::Missing => Err(ApiError::NotFound("certificate")),
    }
}

/// The issuer's public keys: every key that ever signed a certificate.
#[utoipa::path(get, path = "/.well-known/jwks.json", responses((status = 200)))]
pub async fn jwks(State(state): State<AppState>) -> Result<Response, ApiError> {
    let mut jwks = state.store.jwks().await?;
    // Each key's `kid` is the URI certificates name it by.
    for jwk in jwks["keys"].as_array_mut().into_iter().flatten() {
        let id = jwk["kid"].as_str().unwrap_or_default().to_string();
        jwk["kid"] = credential::key_uri(&state.profile.url, &id).into();
    }
    Ok((
        [(header::CONTENT_TYPE, "application/jwk-set+json")],
        axum::Json(jwks),
    )
        .into_response())
}

/// The 1EdTech Revocation List that every credential's `credentialStatus` names.
#[utoipa::path(get, path = "/v1/revocations", responses((status = 200)))]
pub async fn revocations(
    State(state): State<AppState>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let revoked = state.store.revocations().await?;
    let profile = &state.profile;
    Ok(axum::Json(serde_json::json!({
        "id": format!("{}/v1/revocations", profile.url),
        "issuer": profile.url,
        "revokedCredentials": revoked.into_iter().map(|(id, reason)| serde_json::json!({
            "id": format!("urn:uuid:{id}"),
            "revoked": true,
            "revocationReason": reason,
        })).collect::<Vec<_>>(),
    })))
}

struct EvidenceRow {
    exercise: String,
    version_short: String,
    score: String,
    completed_at: String,
}

#[derive(Template)]
#[template(path = "certificate.html")]
struct CertificatePage {
    id: String,
    title: String,
    issuer: String,
    issuer_url: String,
    learner: String,
    tier_title: String,
    issued_at: String,
    kid: String,
    status_class: &'static str,
    status_text: String,
    revocation_reason: Option<String>,
    evidence: Vec<EvidenceRow>,
    credential: String,
    json_url: String,
}

/// The page a person opens: the signature is checked against the JWKS on every view,
/// so it says "valid" only for a credential that verifies and is not revoked.
pub async fn page(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let record = match state.store.certificate(&id).await {
        Ok(Some(record)) => record,
        Ok(None) => {
            return (
                StatusCode::NOT_FOUND,
                Html("<!doctype html><title>Not found</title><h1>No such certificate</h1><p>Check the link you were given.</p>".to_string()),
            )
                .into_response();
        }
        Err(error) => return ApiError::from(error).into_response(),
    };
    let jwks = match state.store.jwks().await {
        Ok(jwks) => jwks,
        Err(error) => return ApiError::Internal(error).into_response(),
    };
    // Valid means: the signature checks out, and the signed credential is this
    // certificate (its id and learner), so the page shows what was signed.
    let verified = credential::verify(&record.credential, &jwks)
        .map_err(|error| error.to_string())
        .and_then(|verified| {
            let payload = &verified.payload;
            let learner = &payload["credentialSubject"]["identifier"][0]["identityHash"];
            if payload["jti"] != format!("urn:uuid:{}", record.id).as_str()
                || learner != record.learner.as_str()
            {
                return Err("the signed credential is not this certificate".to_string());
            }
            Ok(verified)
        });
    let payload = verified
        .as_ref()
        .map(|v| v.payload.clone())
        .unwrap_or_default();
    let (status_class, status_text) = match (&verified, &record.revoked_at) {
        (Err(error), _) => ("invalid", format!("Not valid: {error}")),
        (Ok(_), Some(revoked_at)) => ("revoked", format!("Revoked on {revoked_at}")),
        (Ok(_), None) => (
            "valid",
            "Valid: the signature checks out and the certificate is not revoked".to_string(),
        ),
    };
    let tier_title = payload["credentialSubject"]["achievement"]["name"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| record.tier.as_str().to_string());
    let page = CertificatePage {
        title: format!("{tier_title} certificate of {}", record.learner),
        issuer: state.profile.name.clone(),
        issuer_url: state.profile.url.clone(),
        json_url: format!("{}/v1/certificates/{}", state.profile.url, record.id),
        learner: record.learner.clone(),
        tier_title,
        issued_at: record.issued_at.clone(),
        kid: record.kid.clone(),
        status_class,
        status_text,
        revocation_reason: record.revocation_reason.clone(),
        evidence: record.evidence.iter().map(evidence_row).collect(),
        credential: record.credential.clone(),
        id: record.id,
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => ApiError::Internal(error.into()).into_response(),
    }
}

fn evidence_row(item: &Evidence) -> EvidenceRow {
    EvidenceRow {
        exercise: item.exercise.clone(),
        version_short: item.version.chars().take(12).collect(),
        score: format!("{}/{}", number(item.score), number(item.max_score)),
        completed_at: item.completed_at.clone(),
    }
}
