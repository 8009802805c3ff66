//! What every handler shares: the store, the queue, the runner for uploads, the caps and
//! the issuer. Its own file, so that handlers name it without naming the router.

use super::rate_limit::RateLimiter;
use crate::completions::Completions;
use crate::config::ApiArgs;
use crate::domain::{IssuerProfile, Limits};
use crate::queue::Queue;
use crate::runner::Runner;
use crate::store::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub queue: Queue,
    /// Runs reference and starter checks at upload.
    pub runner: Arc<dyn Runner>,
    pub maxima: Limits,
    pub api: Arc<ApiArgs>,
    pub completions: Completions,
    pub rate: Arc<RateLimiter>,
    pub metrics: PrometheusHandle,
    /// How certificates name their issuer: the base of their links.
    pub profile: Arc<IssuerProfile>,
}
