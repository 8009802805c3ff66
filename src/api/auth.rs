//! Bearer-token authentication and role checks.
//!
//! Tokens are read from the `Authorization` header only; a request that carries one in
//! the query string is refused (query strings end up in logs and browser history).

use super::error::ApiError;
use super::state::AppState;
use crate::domain::{LearnerId, Role};
use crate::store::tokens::Principal;
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

/// The roles a route admits.
pub trait Roles {
    const ALLOWED: &'static [Role];
}

/// Instructors and admins: routes that change the course.
pub struct Staff;
impl Roles for Staff {
    const ALLOWED: &'static [Role] = &[Role::Instructor, Role::Admin];
}

/// Admins only.
pub struct Admins;
impl Roles for Admins {
    const ALLOWED: &'static [Role] = &[Role::Admin];
}

/// Everyone but learners: the LMS results feed.
pub struct FeedReaders;
impl Roles for FeedReaders {
    const ALLOWED: &'static [Role] = &[Role::Integration, Role::Instructor, Role::Admin];
}

/// A caller whose role the route admits. As an extractor placed before the query and
/// body extractors, it answers 401/403 before a byte of the request is validated.
pub struct Authorized<R: Roles>(pub Caller, std::marker::PhantomData<R>);

impl<R: Roles> FromRequestParts<AppState> for Authorized<R> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(R::ALLOWED)?;
        Ok(Authorized(caller, std::marker::PhantomData))
    }
}

impl<R: Roles> std::ops::Deref for Authorized<R> {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0
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
    pub fn own_learner(&self) -> Option<&LearnerId> {
        match self.0.role {
            Role::Learner => self.0.learner.as_ref(),
            _ => None,
        }
    }

    /// Whether hidden test data must be removed from what this caller sees.
    pub fn sees_hidden_data(&self) -> bool {
        matches!(self.0.role, Role::Admin | Role::Instructor)
    }
}
