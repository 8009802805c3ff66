//! Effective limits: what one run may use, after the manifest's values are clamped by
//! the operator's maxima.

use super::exercise::LimitsSpec;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Effective limits for one run, after manifest values are clamped by operator maxima.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Limits {
    pub cpu_ms: u64,
    pub wall_ms: u64,
    pub memory_mb: u64,
    pub output_kb: u64,
    pub pids: u64,
}

impl Limits {
    /// Defaults for fields a manifest leaves out.
    pub const DEFAULT: Limits = Limits {
        cpu_ms: 2_000,
        wall_ms: 5_000,
        memory_mb: 128,
        output_kb: 64,
        pids: 32,
    };

    /// Applies a manifest's values over the defaults, then clamps them to `maxima`.
    pub fn resolve(spec: &LimitsSpec, maxima: &Limits) -> Limits {
        let pick =
            |value: Option<u64>, default: u64, max: u64| value.unwrap_or(default).clamp(1, max);
        Limits {
            cpu_ms: pick(spec.cpu_ms, Self::DEFAULT.cpu_ms, maxima.cpu_ms),
            wall_ms: pick(spec.wall_ms, Self::DEFAULT.wall_ms, maxima.wall_ms),
            memory_mb: pick(spec.memory_mb, Self::DEFAULT.memory_mb, maxima.memory_mb),
            output_kb: pick(spec.output_kb, Self::DEFAULT.output_kb, maxima.output_kb),
            pids: pick(spec.pids, Self::DEFAULT.pids, maxima.pids),
        }
    }

    pub fn wall(&self) -> Duration {
        Duration::from_millis(self.wall_ms)
    }
}
