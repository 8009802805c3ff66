//! The HTTP API: routes, shared state, and the middleware every request passes through
//! (request id, tracing span, body caps, JSON errors).

pub mod auth;
pub mod certificates;
pub mod error;
pub mod exercises;
pub mod listener;
pub mod rate_limit;
pub mod state;
pub mod submissions;

pub use state::AppState;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Request, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "verdict", description = "Automated grading of code exercises"),
    paths(
        exercises::upload, exercises::list, exercises::detail, exercises::versions,
        submissions::create, submissions::get, submissions::list, submissions::feed,
        certificates::progress, certificates::of_learner, certificates::get,
        certificates::revoke, certificates::revocations, certificates::jwks,
        healthz, readyz
    ),
    components(schemas(error::ErrorBody)),
    modifiers(&BearerAuth, &StandardErrors)
)]
pub struct ApiDoc;

/// What every route can answer besides its own statuses, documented in one place: 400
/// for a malformed path, query or body (on routes that take one) and 401 for a missing or
/// unknown token (on routes that need one); and every error answer's body is the one
/// error envelope (`error::ErrorBody`).
struct StandardErrors;

impl utoipa::Modify for StandardErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let envelope = || {
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build()
        };
        let describe = |status: &str| match status {
            "400" => "The path, query or body is malformed.",
            "401" => "No token, or an unknown one.",
            "403" => "The token's role may not use this route.",
            "404" => "No such resource (or not the caller's).",
            "409" => "The request conflicts with the resource's state.",
            "413" => "The body is larger than the cap.",
            "422" => "The request is well-formed but invalid.",
            "429" => "Too many requests; see Retry-After.",
            "503" => "The service cannot take this request now; retry later.",
            _ => "An error.",
        };
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let takes_input = operation.request_body.is_some()
                    || operation
                        .parameters
                        .as_ref()
                        .is_some_and(|parameters| !parameters.is_empty());
                let secured = operation
                    .security
                    .as_ref()
                    .is_some_and(|security| !security.is_empty());
                let responses = &mut operation.responses.responses;
                for (status, wanted) in [("400", takes_input), ("401", secured)] {
                    if wanted && !responses.contains_key(status) {
                        responses.insert(status.to_string(), ResponseBuilder::new().into());
                    }
                }
                for (status, response) in responses.iter_mut() {
                    let utoipa::openapi::RefOr::T(response) = response else {
                        continue;
                    };
                    if status.starts_with('4') || status.starts_with('5') {
                        if response.description.is_empty() {
                            response.description = describe(status).to_string();
                        }
                        response
                            .content
                            .entry("application/json".to_string())
                            .or_insert_with(envelope);
                    }
                }
            }
        }
    }
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn router(state: AppState) -> Router {
    let submission_cap = state.api.max_submission_kb * 1024;
    let package_cap = state.api.max_package_kb * 1024;
    let v1 = Router::new()
        .route(
            "/exercises",
            post(exercises::upload)
                .layer(DefaultBodyLimit::max(package_cap))
                .get(exercises::list),
        )
        .route("/exercises/{slug}", get(exercises::detail))
        .route("/exercises/{slug}/versions", get(exercises::versions))
        .route(
            "/submissions",
            post(submissions::create)
                .layer(DefaultBodyLimit::max(submission_cap))
                .get(submissions::list),
        )
        .route("/submissions/{id}", get(submissions::get))
        .route("/results", get(submissions::feed))
        .route("/learners/{id}/progress", get(certificates::progress))
        .route("/learners/{id}/certificates", get(certificates::of_learner))
        .route("/certificates/{id}", get(certificates::get))
        .route("/certificates/{id}/revoke", post(certificates::revoke))
        .route("/revocations", get(certificates::revocations));
    Router::new()
        .nest("/v1", v1)
        .route("/.well-known/jwks.json", get(certificates::jwks))
        .route("/certificates/{id}", get(certificates::page))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(submission_cap))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let request_id = request
                .extensions()
                .get::<RequestId>()
                .and_then(|id| id.header_value().to_str().ok())
                .unwrap_or_default()
                .to_string();
            // The path only: query strings may carry what must never be logged.
            tracing::info_span!("request", request_id, method = %request.method(), path = request.uri().path())
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200)))]
pub async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "ok"}))
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", responses((status = 200), (status = 503)))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if state.store.ping().await {
        (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ready"})),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(
                serde_json::json!({"error": {"code": "not_ready", "message": "the database does not answer"}}),
            ),
        )
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    if let Ok(depth) = state.store.queue_depth().await {
        metrics::gauge!("verdict_queue_depth").set(depth as f64);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
