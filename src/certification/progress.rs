//! A learner's progress through the tiers: a pure function of the policy, the catalogue,
//! the learner's best results and the certificates they hold.

use super::credential;
use crate::domain::{CertificateStatus, Evidence, Policy, Tier, TierRules};
use crate::store::certificates::{CatalogueItem, CertificateRecord};
use serde::Serialize;
use std::collections::BTreeMap;

/// A tier's state for one learner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TierStatus {
    Locked,
    InProgress,
    Certified,
}

/// A required exercise and whether the learner passed it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RequiredProgress {
    pub exercise: String,
    pub passed: bool,
    pub best_score: Option<f64>,
    pub max_score: Option<f64>,
}

/// The certificate held for a tier.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CertificateRef {
    pub id: String,
    pub status: CertificateStatus,
    pub issued_at: String,
}

/// One tier of a learner's progress.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TierProgress {
    pub tier: Tier,
    pub title: String,
    pub status: TierStatus,
    /// Points from passed exercises of this tier: each best score, on the scale of the
    /// exercise's current version.
    pub points: f64,
    pub min_points: f64,
    pub pass_ratio: f64,
    pub requires: Vec<Tier>,
    pub required: Vec<RequiredProgress>,
    /// The best passing submission of each exercise that counts.
    pub counted: Vec<Evidence>,
    /// What is still missing, in words.
    pub missing: Vec<String>,
    pub certificate: Option<CertificateRef>,
}

impl TierProgress {
    /// Whether a certificate should be issued now.
    pub(super) fn eligible(&self) -> bool {
        self.status == TierStatus::InProgress
            && self.missing.is_empty()
            && self.certificate.is_none()
    }
}

/// Each exercise's best result: the highest score ratio, the earliest on a tie.
fn best_results(results: &[Evidence]) -> BTreeMap<&str, &Evidence> {
    let mut best: BTreeMap<&str, &Evidence> = BTreeMap::new();
    for result in results {
        let ratio = |r: &Evidence| {
            if r.max_score > 0.0 {
                r.score / r.max_score
            } else {
                0.0
            }
        };
        match best.get(result.exercise.as_str()) {
            Some(current) if ratio(current) >= ratio(result) => {}
            _ => {
                best.insert(&result.exercise, result);
            }
        }
    }
    best
}

/// A learner's progress through every tier of the policy, in dependency order.
pub fn progress(
    policy: &Policy,
    catalogue: &BTreeMap<String, CatalogueItem>,
    results: &[Evidence],
    held: &[CertificateRecord],
) -> Vec<TierProgress> {
    let reckoning = Reckoning {
        policy,
        catalogue,
        best: best_results(results),
        held,
    };
    let mut tiers: Vec<TierProgress> = Vec::new();
    for (tier, rules) in &policy.tiers {
        let progress = reckoning.tier(*tier, rules, &tiers);
        tiers.push(progress);
    }
    tiers
}

/// What every tier's progress is reckoned from.
struct Reckoning<'a> {
    policy: &'a Policy,
    catalogue: &'a BTreeMap<String, CatalogueItem>,
    best: BTreeMap<&'a str, &'a Evidence>,
    held: &'a [CertificateRecord],
}

/// Whether `result` passes under `rules`.
fn passes(rules: &TierRules, result: &Evidence) -> bool {
    result.max_score > 0.0 && result.score + 1e-9 >= rules.pass_ratio * result.max_score
}

impl Reckoning<'_> {
    fn title(&self, tier: Tier) -> String {
        self.policy
            .rules(tier)
            .map(|rules| rules.title.clone())
            .unwrap_or_else(|| tier.as_str().to_string())
    }

    /// One tier, given the tiers before it in dependency order.
    fn tier(&self, tier: Tier, rules: &TierRules, earlier: &[TierProgress]) -> TierProgress {
        let counted = self.counted(tier, rules);
        let points = self.points(&counted);
        let mut missing = Vec::new();
        let mut locked = false;
        for required_tier in &rules.requires {
            let certified = earlier
                .iter()
                .any(|t| t.tier == *required_tier && t.status == TierStatus::Certified);
            if !certified {
                locked = true;
                missing.push(format!(
                    "requires the {} certificate first",
                    self.title(*required_tier)
                ));
            }
        }
        let required = self.required(rules, &mut missing);
        if points + 1e-9 < rules.min_points {
            missing.push(format!(
                "points: {} of {} from passed {} exercises",
                credential::number(points),
                credential::number(rules.min_points),
                rules.title
            ));
        }
        let certificate = self.held.iter().find(|c| c.tier == tier);
        if let Some(revoked) = certificate.filter(|c| !c.is_active()) {
            missing.push(format!(
                "the certificate {} was revoked ({}); a revocation is final for the tier",
                revoked.id,
                revoked
                    .revocation_reason
                    .as_deref()
                    .unwrap_or("no reason given")
            ));
        }
        let status = match certificate {
            Some(c) if c.is_active() => TierStatus::Certified,
            _ if locked => TierStatus::Locked,
            _ => TierStatus::InProgress,
        };
        TierProgress {
            tier,
            title: rules.title.clone(),
            status,
            points,
            min_points: rules.min_points,
            pass_ratio: rules.pass_ratio,
            requires: rules.requires.clone(),
            required,
            counted,
            missing: if status == TierStatus::Certified {
                Vec::new()
            } else {
                missing
            },
            certificate: certificate.map(|c| CertificateRef {
                id: c.id.clone(),
                status: c.status,
                issued_at: c.issued_at.clone(),
            }),
        }
    }

    /// The best passing result of each exercise of `tier`.
    fn counted(&self, tier: Tier, rules: &TierRules) -> Vec<Evidence> {
        self.best
            .iter()
            .filter(|(slug, result)| {
                (self.catalogue.get(**slug)).is_some_and(|item| item.tier == tier)
                    && passes(rules, result)
            })
            .map(|(_, result)| (*result).clone())
            .collect()
    }

    /// The points of `counted`, on the scale of each exercise's current version, so a
    /// version that changes the points does not mix scales.
    fn points(&self, counted: &[Evidence]) -> f64 {
        counted
            .iter()
            .map(|item| {
                let current =
                    (self.catalogue.get(&item.exercise)).map_or(item.max_score, |c| c.points);
                item.score / item.max_score * current
            })
            .sum()
    }

    /// Each required exercise and whether it passed; what is missing goes to `missing`.
    fn required(&self, rules: &TierRules, missing: &mut Vec<String>) -> Vec<RequiredProgress> {
        let mut required = Vec::new();
        for slug in &rules.required {
            let result = self.best.get(slug.as_str());
            let passed = result.is_some_and(|result| passes(rules, result));
            match result {
                None => missing.push(format!("{slug}: no graded submission yet")),
                Some(result) if !passed => missing.push(format!(
                    "{slug}: best score {}/{}, needs {}",
                    credential::number(result.score),
                    credential::number(result.max_score),
                    credential::number(rules.pass_ratio * result.max_score)
                )),
                Some(_) => {}
            }
            required.push(RequiredProgress {
                exercise: slug.clone(),
                passed,
                best_score: result.map(|r| r.score),
                max_score: result.map(|r| r.max_score),
            });
        }
        required
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certification::policy::CatalogueEntry;

    fn fixture() -> (Policy, BTreeMap<String, CatalogueItem>) {
        let items = [
            ("leap", Tier::Hero, 10.0),
            ("shout", Tier::Hero, 10.0),
            ("words", Tier::Hero, 10.0),
            ("payroll", Tier::Commando, 20.0),
        ];
        let catalogue: BTreeMap<String, CatalogueItem> = items
            .iter()
            .map(|(slug, tier, points)| {
                (
                    slug.to_string(),
                    CatalogueItem {
                        title: slug.to_string(),
                        tier: *tier,
                        points: *points,
                    },
                )
            })
            .collect();
        let entries = catalogue
            .iter()
            .map(|(slug, item)| {
                (
                    slug.clone(),
                    CatalogueEntry {
                        tier: item.tier,
                        points: item.points,
                        live: true,
                    },
                )
            })
            .collect();
        let (policy, _) = Policy::parse(
            r#"
            [tiers.hero]
            title = "Hero"
            required = ["leap"]
            min_points = 20
            pass_ratio = 0.8
            [tiers.commando]
            title = "Commando"
            requires = ["hero"]
            required = ["payroll"]
            min_points = 16
            pass_ratio = 0.8
            "#,
            &entries,
        )
        .unwrap();
        (policy, catalogue)
    }

    fn result(id: &str, exercise: &str, score: f64, max: f64) -> Evidence {
        Evidence {
            submission: id.into(),
            exercise: exercise.into(),
            version: "v1".into(),
            score,
            max_score: max,
            completed_at: format!("2026-01-01T00:00:0{}Z", id.len()),
        }
    }

    #[test]
    fn explains_what_is_missing_and_counts_the_best_passing_results() {
        let (policy, catalogue) = fixture();
        let results = vec![
            result("a", "leap", 6.0, 10.0),
            result("b", "shout", 10.0, 10.0),
            result("c", "payroll", 12.0, 20.0),
        ];
        let tiers = progress(&policy, &catalogue, &results, &[]);
        let hero = &tiers[0];
        assert_eq!(hero.status, TierStatus::InProgress);
        assert_eq!(hero.points, 10.0, "a failed exercise earns no points");
        assert!(
            hero.missing
                .contains(&"leap: best score 6/10, needs 8".to_string()),
            "{:?}",
            hero.missing
        );
        assert!(
            hero.missing
                .contains(&"points: 10 of 20 from passed Hero exercises".to_string())
        );
        let commando = &tiers[1];
        assert_eq!(commando.status, TierStatus::Locked);
        assert!(
            commando
                .missing
                .contains(&"payroll: best score 12/20, needs 16".to_string())
        );
        assert!(
            commando
                .missing
                .contains(&"requires the Hero certificate first".to_string())
        );

        // A better attempt counts; a worse one later does not take it back.
        let mut more = results.clone();
        more.push(result("dd", "leap", 9.0, 10.0));
        more.push(result("eee", "leap", 2.0, 10.0));
        let tiers = progress(&policy, &catalogue, &more, &[]);
        assert_eq!(tiers[0].points, 19.0);
        assert_eq!(
            tiers[0].missing,
            vec!["points: 19 of 20 from passed Hero exercises".to_string()]
        );
        assert!(!tiers[0].eligible());
        more.push(result("ffff", "words", 8.0, 10.0));
        let tiers = progress(&policy, &catalogue, &more, &[]);
        assert!(tiers[0].eligible(), "{:?}", tiers[0].missing);
        assert_eq!(tiers[0].points, 27.0);
        let counted: Vec<&str> = tiers[0]
            .counted
            .iter()
            .map(|e| e.submission.as_str())
            .collect();
        assert_eq!(counted, vec!["dd", "b", "ffff"]);
    }
}
