//! Certification data: the policy in force, the issuer's public keys, learners' results
//! and the certificates issued. Functions that run inside a completion's transaction take
//! any executor.

use super::{Store, now_ms, rfc3339};
use crate::domain::{CertificateStatus, Evidence, IssuerProfile, Policy, Status, Tier};
use serde::Serialize;
use sqlx::{Any, Executor, Row};
use std::collections::BTreeMap;

/// An issued certificate.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CertificateRecord {
    pub id: String,
    pub learner: String,
    pub tier: Tier,
    pub issued_at: String,
    pub status: CertificateStatus,
    pub revoked_at: Option<String>,
    pub revocation_reason: Option<String>,
    /// The signed credential: a compact JWS.
    pub credential: String,
    pub kid: String,
    pub evidence: Vec<Evidence>,
}

impl CertificateRecord {
    pub fn is_active(&self) -> bool {
        self.status == CertificateStatus::Active
    }
}

const CERTIFICATE_COLUMNS: &str =
    "id, learner, tier, credential, kid, evidence, issued_at, revoked_at, revocation_reason";

fn certificate(row: &sqlx::any::AnyRow) -> Result<CertificateRecord, sqlx::Error> {
    let decode = |error: String| sqlx::Error::Decode(error.into());
    let tier: String = row.get("tier");
    let evidence: String = row.get("evidence");
    let revoked_at: Option<i64> = row.get("revoked_at");
    Ok(CertificateRecord {
        id: row.get("id"),
        learner: row.get("learner"),
        tier: serde_json::from_value(serde_json::Value::String(tier))
            .map_err(|error| decode(error.to_string()))?,
        issued_at: rfc3339(row.get("issued_at")),
        status: match revoked_at {
            Some(_) => CertificateStatus::Revoked,
            None => CertificateStatus::Active,
        },
        revoked_at: revoked_at.map(rfc3339),
        revocation_reason: row.get("revocation_reason"),
        credential: row.get("credential"),
        kid: row.get("kid"),
        evidence: serde_json::from_str(&evidence).map_err(|error| decode(error.to_string()))?,
    })
}

/// What an exercise's current version says about it.
#[derive(Debug, Clone)]
pub struct CatalogueItem {
    pub title: String,
    pub tier: Tier,
    pub points: f64,
}

/// A new certificate to insert.
pub struct NewCertificate<'a> {
    pub id: &'a str,
    pub learner: &'a str,
    pub tier: Tier,
    pub credential: &'a str,
    pub kid: &'a str,
    pub evidence: &'a [Evidence],
    pub issued_at_ms: i64,
}

/// What revoking found.
#[derive(Debug)]
pub enum Revoked {
    Done(Box<CertificateRecord>),
    AlreadyRevoked,
    Missing,
}

/// A learner's completed gradings, oldest completion first (as evidence: a certificate
/// cites them as they are).
pub async fn graded_results<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    learner: &str,
) -> Result<Vec<Evidence>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, exercise_slug, exercise_version, score, max_score, completed_at FROM submissions \
         WHERE learner = $1 AND status = $2 AND score IS NOT NULL ORDER BY completed_at, id",
    )
    .bind(learner)
    .bind(Status::Completed.as_str())
    .fetch_all(executor)
    .await?;
    Ok(rows
        .iter()
        .map(|row| Evidence {
            submission: row.get("id"),
            exercise: row.get("exercise_slug"),
            version: row.get("exercise_version"),
            score: row.get("score"),
            max_score: row.get("max_score"),
            completed_at: rfc3339(row.get("completed_at")),
        })
        .collect())
}

/// A learner's certificates, in tier order.
pub async fn certificates_of<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    learner: &str,
) -> Result<Vec<CertificateRecord>, sqlx::Error> {
    let sql = format!("SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE learner = $1");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(learner)
        .fetch_all(executor)
        .await?;
    let mut records = rows
        .iter()
        .map(certificate)
        .collect::<Result<Vec<_>, _>>()?;
    records.sort_by_key(|record| record.tier);
    Ok(records)
}

/// Takes the row lock that orders completions (see `submissions::complete`), so work
/// outside a grading is evaluated in turn with them.
pub async fn lock_completions<'c, E: Executor<'c, Database = Any>>(
    executor: E,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE feed_counter SET next = next WHERE id = 1")
        .execute(executor)
        .await?;
    Ok(())
}

/// Inserts a certificate unless the learner already holds one for the tier; returns
/// whether it was inserted. The unique (learner, tier) key decides races between workers.
pub async fn insert_certificate<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    new: &NewCertificate<'_>,
) -> Result<bool, sqlx::Error> {
    let evidence = serde_json::to_string(new.evidence).unwrap_or_else(|_| "[]".into());
    let inserted = sqlx::query(
        "INSERT INTO certificates (id, learner, tier, credential, kid, evidence, issued_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (learner, tier) DO NOTHING",
    )
    .bind(new.id)
    .bind(new.learner)
    .bind(new.tier.as_str())
    .bind(new.credential)
    .bind(new.kid)
    .bind(evidence)
    .bind(new.issued_at_ms)
    .execute(executor)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

impl Store {
    /// Replaces the policy in force.
    pub async fn save_policy(
        &self,
        policy: Option<(&Policy, &IssuerProfile)>,
    ) -> anyhow::Result<()> {
        match policy {
            Some((policy, profile)) => {
                sqlx::query(
                    "INSERT INTO certification_policy (id, policy, issuer_url, issuer_name, updated_at) \
                     VALUES (1, $1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET policy = excluded.policy, \
                     issuer_url = excluded.issuer_url, issuer_name = excluded.issuer_name, updated_at = excluded.updated_at",
                )
                .bind(serde_json::to_string(policy)?)
                .bind(&profile.url)
                .bind(&profile.name)
                .bind(now_ms())
                .execute(&self.writer)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM certification_policy")
                    .execute(&self.writer)
                    .await?;
            }
        }
        Ok(())
    }

    /// The policy in force and the issuer it names, if any.
    pub async fn policy(&self) -> anyhow::Result<Option<(Policy, IssuerProfile)>> {
        let row = sqlx::query(
            "SELECT policy, issuer_url, issuer_name FROM certification_policy WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => Some((
                serde_json::from_str(&row.get::<String, _>("policy"))?,
                IssuerProfile {
                    url: row.get("issuer_url"),
                    name: row.get("issuer_name"),
                },
            )),
            None => None,
        })
    }

    /// Every live exercise's title, tier and points (from its current version).
    pub async fn catalogue(&self) -> anyhow::Result<BTreeMap<String, CatalogueItem>> {
        let rows = sqlx::query("SELECT slug, current_version FROM exercises")
            .fetch_all(&self.pool)
            .await?;
        let mut catalogue = BTreeMap::new();
        for row in rows {
            let version: String = row.get("current_version");
            if let Some(stored) = self.version(&version).await? {
                catalogue.insert(
                    row.get("slug"),
                    CatalogueItem {
                        title: stored.exercise.title.clone(),
                        tier: stored.exercise.tier,
                        points: stored.exercise.points,
                    },
                );
            }
        }
        Ok(catalogue)
    }

    /// Lists a public key in the JWKS (once; keys are never removed).
    pub async fn register_key(
        &self,
        kid: &str,
        jwk: &serde_json::Value,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, public_jwk, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (kid) DO NOTHING",
        )
        .bind(kid)
        .bind(jwk.to_string())
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Takes a key out of the JWKS for good (a leaked or lost key): certificates it signed
    /// stop verifying. Returns false for an unknown kid.
    pub async fn retire_key(&self, kid: &str) -> Result<bool, sqlx::Error> {
        let updated = sqlx::query(
            "UPDATE signing_keys SET retired_at = COALESCE(retired_at, $2) WHERE kid = $1",
        )
        .bind(kid)
        .bind(now_ms())
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    /// Whether a key was retired.
    pub async fn key_retired(&self, kid: &str) -> Result<bool, sqlx::Error> {
        let row = sqlx::query("SELECT retired_at FROM signing_keys WHERE kid = $1")
            .bind(kid)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some_and(|row| row.get::<Option<i64>, _>("retired_at").is_some()))
    }

    /// The JWKS: every key that ever signed, except retired ones.
    pub async fn jwks(&self) -> anyhow::Result<serde_json::Value> {
        let rows = sqlx::query(
            "SELECT public_jwk FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at, kid",
        )
        .fetch_all(&self.pool)
        .await?;
        let keys = rows
            .iter()
            .map(|row| serde_json::from_str(&row.get::<String, _>("public_jwk")))
            .collect::<Result<Vec<serde_json::Value>, _>>()?;
        Ok(serde_json::json!({ "keys": keys }))
    }

    pub async fn certificate(&self, id: &str) -> Result<Option<CertificateRecord>, sqlx::Error> {
        let sql = format!("SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(certificate)
            .transpose()
    }

    /// Revokes a certificate once, with a reason.
    pub async fn revoke_certificate(&self, id: &str, reason: &str) -> Result<Revoked, sqlx::Error> {
        let updated = sqlx::query(
            "UPDATE certificates SET revoked_at = $2, revocation_reason = $3 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now_ms())
        .bind(reason)
        .execute(&self.writer)
        .await?
        .rows_affected();
        match self.certificate(id).await? {
            Some(record) if updated == 1 => Ok(Revoked::Done(Box::new(record))),
            Some(_) => Ok(Revoked::AlreadyRevoked),
            None => Ok(Revoked::Missing),
        }
    }

    /// Learners with at least one completed grading.
    pub async fn learners_with_results(&self) -> Result<Vec<String>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT DISTINCT learner FROM submissions WHERE status = $1 ORDER BY learner",
        )
        .bind(Status::Completed.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|row| row.get("learner")).collect())
    }

    /// Revoked certificates: (id, reason), oldest revocation first.
    pub async fn revocations(&self) -> Result<Vec<(String, Option<String>)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, revocation_reason FROM certificates WHERE revoked_at IS NOT NULL ORDER BY revoked_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| (row.get("id"), row.get("revocation_reason")))
            .collect())
    }
}
