//! The shared vocabulary: the words every layer uses (tiers, languages, kinds, runners,
//! limits, verdicts, statuses, roles, evidence) and the identifiers parsed once at the
//! edge. It names nothing else in the crate, so every module may depend on it and it on
//! none (`tests/architecture.rs` holds that).

pub mod certificate;
pub mod exercise;
pub mod ids;
pub mod learner;
pub mod limits;
pub mod resolved;
pub mod submission;
pub mod value;
pub mod verdict;

pub use certificate::{CertificateStatus, Evidence, IssuerProfile, Policy, TierRules};
pub use exercise::{
    Compare, HttpSpec, Kind, Language, LimitsSpec, Probe, RunnerKind, Tier, Visibility,
};
pub use ids::{ExerciseSlug, FileName, InvalidName, LearnerId, SubmissionId};
pub use learner::Role;
pub use limits::Limits;
pub use resolved::{ResolvedExercise, ResolvedTest, StoredVersion};
pub use submission::{Resources, RuntimeInfo, Status, StoredResult, WorkerInfo};
pub use value::Value;
pub use verdict::{Grade, SuiteOutcome, SuiteStatus, TestResult, TestStatus, Verdict};
