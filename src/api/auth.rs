//! Bearer-token authentication and role checks.
//!
//! Tokens are read from the `Authorization` header only; a request that carries one in
//! the query string is refused (query strings end up in logs and browser history).

use super::AppState;
use super::error::ApiError;
use crate::store::tokens::{Principal, Role};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

/// Query parameters that look like credentials.
const CREDENTIAL_PARAMS: [&str; 5] = ["token", "access_token", "api_key", "apikey", "auth"];

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(query) = parts.uri.query() {
            let carries_credential = query.split('&').any(|pair| {
                let name = pair
                    .split('=')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                CREDENTIAL_PARAMS.contains(&name.as_str())
            }) || query.contains("vdt_");
            if carries_credential {
                return Err(ApiError::BadRequest(
                    "tokens are accepted only in the Authorization header, never in the URL; revoke this token".into(),
                ));
            }
        }
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .ok_or(ApiError::Unauthorized)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty() && token.len() <= 256)
            .ok_or(ApiError::Unauthorized)?;
        let principal = state
            .store
            .find_token(token)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok(Caller(principal))
    }
}

impl Caller {
    /// Refuses callers whose role is not in `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.0.role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "a {} token cannot use this route",
                self.0.role.as_str()
            )))
        }
    }

    pub fn role(&self) -> Role {
        self.0.role
    }

    /// The learner a learner token is bound to.
    pub fn own_learner(&self) -> Option<&str> {
        match self.0.role {
            Role::Learner => self.0.learner.as_deref(),
            _ => None,
        }
    }

    /// Whether hidden test data must be removed from what this caller sees.
    pub fn sees_hidden_data(&self) -> bool {
        matches!(self.0.role, Role::Admin | Role::Instructor)
    }
}
