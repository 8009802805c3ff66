//! verdict: an automated grading service for code exercises.
//!
//! - `api`: the HTTP API (axum), its auth and its one error shape.
//! - `certification`: the Hero → Commando → Titan policy, progress, and signed
//!   Open Badges 3.0 certificates.
//! - `completions`: in-process events that wake long polls.
//! - `domain`: the shared vocabulary; names nothing else in the crate.
//! - `app`: start-up; wires the store, queue, runner, workers and API together.
//! - `exercise`: packages, manifests and the checks a version passes before it goes live.
//! - `grading`: host-side comparison and verdicts.
//! - `images`: Docker runner images built offline from Debian packages.
//! - `queue`: the apalis queue (SQLite or Postgres).
//! - `runner`: the sandbox contract, the wasmtime runner and its language harnesses.
//! - `runtimes`: the pinned WASI runtimes (CPython, QuickJS-NG): fetch and verify.
//! - `store`: the database (SQLite or Postgres through one `AnyPool`).
//! - `worker`: grading one submission, fenced and idempotent.

pub mod api;
pub mod app;
pub mod bench;
pub mod certification;
pub mod cli;
pub mod completions;
pub mod config;
pub mod domain;
pub mod exercise;
pub mod grading;
pub mod images;
pub mod queue;
pub mod runner;
pub mod runtimes;
pub mod store;
pub mod telemetry;
pub mod worker;
