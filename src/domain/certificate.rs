//! Certificates: the policy's data, who issues, and the evidence a certificate cites.

use super::exercise::Tier;
use serde::{Deserialize, Serialize};

/// One tier's rules, as written in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierRules {
    pub title: String,
    /// Tiers that must be certified (and not revoked) first.
    #[serde(default)]
    pub requires: Vec<Tier>,
    /// Exercises that must be passed.
    #[serde(default)]
    pub required: Vec<String>,
    /// Points, from passed exercises of this tier, needed in all.
    #[serde(default)]
    pub min_points: f64,
    /// Best score / max score at or above which an exercise counts as passed.
    pub pass_ratio: f64,
    /// One sentence on what the certificate attests, shown in the credential.
    #[serde(default)]
    pub description: Option<String>,
}

/// A checked policy: tiers in dependency order (every tier after those it requires).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub tiers: Vec<(Tier, TierRules)>,
}

/// Who issues: the public address of this service and its display name.
#[derive(Debug, Clone)]
pub struct IssuerProfile {
    /// Base URL, without a trailing slash (`--public-url`).
    pub url: String,
    pub name: String,
}

/// One submission that earned a certificate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Evidence {
    pub submission: String,
    pub exercise: String,
    pub version: String,
    pub score: f64,
    pub max_score: f64,
    pub completed_at: String,
}

/// Whether a certificate is in force. Serialized as `active` / `revoked`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CertificateStatus {
    Active,
    Revoked,
}
