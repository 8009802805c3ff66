//! One test binary for every end-to-end test (one link instead of many).

mod api;
mod certification;
mod cli;
mod common;
mod docker;
mod languages;
mod migration;
mod packages;
mod parity;
mod properties;
mod queue;
mod sandbox;
