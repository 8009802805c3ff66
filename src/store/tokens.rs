//! API tokens: random, prefixed by role, stored only as their SHA-256.

use super::{Store, now_ms};
use crate::domain::{LearnerId, Role};
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

/// Who is calling: the resolved identity of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token_id: String,
    pub role: Role,
    /// Set for learner tokens: the only learner they may act as.
    pub learner: Option<LearnerId>,
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Store {
    /// Creates a token and returns it; only its hash is stored.
    pub async fn create_token(
        &self,
        role: Role,
        learner: Option<&LearnerId>,
        name: &str,
    ) -> anyhow::Result<String> {
        match (role, learner) {
            (Role::Learner, None) => anyhow::bail!("a learner token needs --learner ID"),
            (Role::Learner, Some(_)) => {}
            (_, Some(_)) => anyhow::bail!("--learner is only for learner tokens"),
            (_, None) => {}
        }
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let token = format!(
            "{}{}",
            role.prefix(),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
        );
        sqlx::query(
            "INSERT INTO tokens (id, hash, role, learner, name, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(hash_token(&token))
        .bind(role.as_str())
        .bind(learner.map(LearnerId::as_str))
        .bind(name)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(token)
    }

    /// Resolves a presented token, if it exists and is not revoked.
    pub async fn find_token(&self, token: &str) -> Result<Option<Principal>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id, role, learner FROM tokens WHERE hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash_token(token))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let learner = row
            .get::<Option<String>, _>("learner")
            .map(|learner| LearnerId::parse(&learner))
            .transpose()
            .map_err(|error| sqlx::Error::Decode(error.into()))?;
        Ok(
            Role::parse(&row.get::<String, _>("role")).map(|role| Principal {
                token_id: row.get("id"),
                role,
                learner,
            }),
        )
    }
}
