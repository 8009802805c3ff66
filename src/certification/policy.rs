//! The certification policy (`exercises/certification.toml`): what each tier requires.
//! It is checked against the exercise catalogue at start-up, so a typo in a slug or a
//! cycle of tiers stops the server instead of silently making a tier unearnable.

use crate::domain::{Policy, Tier, TierRules};
use anyhow::{Context, bail};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The policy's file name inside the exercises folder.
pub const POLICY_FILE: &str = "certification.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    tiers: BTreeMap<String, TierRules>,
}

/// What the start-up check knows about an exercise.
#[derive(Debug, Clone)]
pub struct CatalogueEntry {
    pub tier: Tier,
    pub points: f64,
    /// False when the package is in the folder but was refused (for example a Docker
    /// exercise on a server without Docker).
    pub live: bool,
}

impl Policy {
    /// Reads and checks the policy in `exercises_dir`; `None` when there is no file.
    pub fn load(
        exercises_dir: &Path,
        catalogue: &BTreeMap<String, CatalogueEntry>,
    ) -> anyhow::Result<Option<(Policy, Vec<String>)>> {
        let path = exercises_dir.join(POLICY_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        let checked = Policy::parse(&text, catalogue)
            .with_context(|| format!("{} is refused", path.display()))?;
        Ok(Some(checked))
    }

    /// Parses and checks policy text; returns the policy and warnings (tiers that cannot
    /// be earned on this server yet).
    pub fn parse(
        text: &str,
        catalogue: &BTreeMap<String, CatalogueEntry>,
    ) -> anyhow::Result<(Policy, Vec<String>)> {
        let file: PolicyFile = toml::from_str(text)?;
        let mut tiers: BTreeMap<Tier, TierRules> = BTreeMap::new();
        for (name, rules) in file.tiers {
            let tier = parse_tier(&name).with_context(|| format!("[tiers.{name}]"))?;
            tiers.insert(tier, rules);
        }
        if tiers.is_empty() {
            bail!("the policy defines no tier; add [tiers.hero] and the tiers after it");
        }
        let mut warnings = Vec::new();
        for (tier, rules) in &tiers {
            let name = tier.as_str();
            if !(rules.pass_ratio > 0.0 && rules.pass_ratio <= 1.0) {
                bail!(
                    "tier `{name}`: pass_ratio must be above 0 and at most 1, got {}",
                    rules.pass_ratio
                );
            }
            if !(rules.min_points >= 0.0 && rules.min_points.is_finite()) {
                bail!("tier `{name}`: min_points must be 0 or more");
            }
            if rules.required.is_empty() && rules.min_points <= 0.0 {
                bail!(
                    "tier `{name}` requires no exercise and no points, so any grading would earn it; give it `required` exercises or `min_points`"
                );
            }
            for required in &rules.requires {
                if !tiers.contains_key(required) {
                    bail!(
                        "tier `{name}` requires tier `{}`, which this policy does not define (it defines: {})",
                        required.as_str(),
                        tiers
                            .keys()
                            .map(|t| t.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
            let mut seen = BTreeSet::new();
            for slug in &rules.required {
                if !seen.insert(slug) {
                    bail!("tier `{name}` lists exercise `{slug}` twice in `required`");
                }
                let Some(entry) = catalogue.get(slug) else {
                    bail!(
                        "tier `{name}` requires exercise `{slug}`, which is neither in the exercises folder nor in the database; fix the slug or add the exercise"
                    );
                };
                if entry.tier != *tier {
                    bail!(
                        "tier `{name}` requires exercise `{slug}`, which is a {} exercise; a tier's required exercises must be of that tier",
                        entry.tier.as_str()
                    );
                }
                if !entry.live {
                    warnings.push(format!(
                        "tier `{name}` cannot be earned on this server: its required exercise `{slug}` was refused at load"
                    ));
                }
            }
            let available: f64 = catalogue
                .values()
                .filter(|entry| entry.tier == *tier && entry.live)
                .map(|entry| entry.points)
                .sum();
            if rules.min_points > available {
                warnings.push(format!(
                    "tier `{name}` needs {} points but its live exercises offer {available}",
                    rules.min_points
                ));
            }
        }
        let order = dependency_order(&tiers)?;
        let tiers = order
            .into_iter()
            .map(|tier| (tier, tiers[&tier].clone()))
            .collect();
        Ok((Policy { tiers }, warnings))
    }

    pub fn rules(&self, tier: Tier) -> Option<&TierRules> {
        self.tiers
            .iter()
            .find(|(t, _)| *t == tier)
            .map(|(_, rules)| rules)
    }
}

fn parse_tier(name: &str) -> anyhow::Result<Tier> {
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .map_err(|_| anyhow::anyhow!("unknown tier `{name}`: tiers are hero, commando and titan"))
}

/// Orders tiers so each follows the tiers it requires; refuses a cycle and names it.
fn dependency_order(tiers: &BTreeMap<Tier, TierRules>) -> anyhow::Result<Vec<Tier>> {
    fn visit(
        tier: Tier,
        tiers: &BTreeMap<Tier, TierRules>,
        path: &mut Vec<Tier>,
        done: &mut Vec<Tier>,
    ) -> anyhow::Result<()> {
        if done.contains(&tier) {
            return Ok(());
        }
        if let Some(start) = path.iter().position(|t| *t == tier) {
            let cycle: Vec<&str> = path[start..]
                .iter()
                .chain(std::iter::once(&tier))
                .map(|t| t.as_str())
                .collect();
            bail!(
                "the tiers' `requires` form a cycle: {}; no learner could ever earn them",
                cycle.join(" → ")
            );
        }
        path.push(tier);
        for required in &tiers[&tier].requires {
            visit(*required, tiers, path, done)?;
        }
        path.pop();
        done.push(tier);
        Ok(())
    }
    let mut done = Vec::new();
    for tier in tiers.keys() {
        visit(*tier, tiers, &mut Vec::new(), &mut done)?;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> BTreeMap<String, CatalogueEntry> {
        let entry = |tier, points| CatalogueEntry {
            tier,
            points,
            live: true,
        };
        BTreeMap::from([
            ("leap".to_string(), entry(Tier::Hero, 10.0)),
            ("shout".to_string(), entry(Tier::Hero, 10.0)),
            ("payroll".to_string(), entry(Tier::Commando, 20.0)),
        ])
    }

    const GOOD: &str = r#"
        [tiers.commando]
        title = "Commando"
        requires = ["hero"]
        required = ["payroll"]
        min_points = 20
        pass_ratio = 0.8

        [tiers.hero]
        title = "Hero"
        requires = []
        required = ["leap", "shout"]
        min_points = 20
        pass_ratio = 0.8
    "#;

    #[test]
    fn orders_tiers_after_what_they_require() {
        let (policy, warnings) = Policy::parse(GOOD, &catalogue()).unwrap();
        let order: Vec<Tier> = policy.tiers.iter().map(|(t, _)| *t).collect();
        assert_eq!(order, vec![Tier::Hero, Tier::Commando]);
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn refuses_an_unknown_exercise_and_names_it() {
        let text = GOOD.replace("\"payroll\"", "\"payrol\"");
        let error = Policy::parse(&text, &catalogue()).unwrap_err().to_string();
        assert!(error.contains("`payrol`"), "{error}");
        assert!(error.contains("neither in the exercises folder"), "{error}");
    }

    #[test]
    fn refuses_a_cycle_and_shows_it() {
        let text = GOOD.replace("requires = []", "requires = [\"commando\"]");
        let error = Policy::parse(&text, &catalogue()).unwrap_err().to_string();
        assert!(error.contains("cycle"), "{error}");
        assert!(
            error.contains("commando → hero → commando")
                || error.contains("hero → commando → hero"),
            "{error}"
        );
    }

    #[test]
    fn refuses_unknown_tiers_fields_and_bad_ratios() {
        let cases = [
            (
                GOOD.replace("[tiers.hero]", "[tiers.heros]"),
                "unknown tier `heros`",
            ),
            (
                GOOD.replace("requires = [\"hero\"]", "requires = [\"titan\"]"),
                "does not define",
            ),
            (
                GOOD.replace(
                    "min_points = 20\n        pass_ratio = 0.8\n\n        [tiers.hero]",
                    "pass_ratio = 1.5\n\n        [tiers.hero]",
                ),
                "pass_ratio",
            ),
            (
                GOOD.replace("title = \"Hero\"", "title = \"Hero\"\n        colour = 1"),
                "unknown field `colour`",
            ),
            (
                GOOD.replace("\"leap\", \"shout\"", "\"leap\", \"payroll\""),
                "is a commando exercise",
            ),
            (
                GOOD.replace(
                    "required = [\"leap\", \"shout\"]\n        min_points = 20",
                    "required = []\n        min_points = 0",
                ),
                "any grading would earn it",
            ),
        ];
        for (text, expected) in cases {
            let error = format!("{:#}", Policy::parse(&text, &catalogue()).unwrap_err());
            assert!(error.contains(expected), "{expected:?} not in {error}");
        }
    }

    #[test]
    fn warns_when_a_required_exercise_is_not_live() {
        let mut catalogue = catalogue();
        catalogue.get_mut("payroll").unwrap().live = false;
        let (_, warnings) = Policy::parse(GOOD, &catalogue).unwrap();
        assert!(
            warnings.iter().any(|w| w.contains("`payroll` was refused")),
            "{warnings:?}"
        );
    }
}
