//! Containers for a run: a fresh one per submission, from the warm pool when one is
//! waiting, and the upload that fills it (the learner's files, the harness, and the
//! tests only the tester can read).

use super::sandbox::Sandbox;
use super::upload;
use super::{DockerRunner, HARNESS};
use crate::domain::{Language, Limits};
use crate::runner::{RunRequest, RunnerError};
use std::collections::BTreeMap;

/// The tester's group: the only one that can read `/work/tests`.
const TESTER_GROUP: u64 = 10003;

impl DockerRunner {
    /// A fresh container for `image`, with `archive` uploaded to `/work`, holding one of
    /// the runner's slots.
    pub async fn create_sandbox(
        &self,
        image: &str,
        limits: &Limits,
        archive: Vec<u8>,
    ) -> Result<Sandbox, RunnerError> {
        Sandbox::create(&self.engine, &self.slots, image, limits, archive).await
    }

    /// The upload: the learner's files in `/work/app`, the harness in `/work/harness`,
    /// and a suite's test files in `/work/tests`, which only the tester's group can read:
    /// hidden tests never reach the learner's processes.
    fn upload(request: &RunRequest) -> Result<Vec<u8>, RunnerError> {
        let mut app = request.files.clone();
        let mut tests = request.support.clone();
        if request.language == Language::Javascript {
            // JavaScript files are ES modules, as in the wasm runner.
            for folder in [&mut app, &mut tests] {
                folder
                    .entry("package.json".to_string())
                    .or_insert_with(|| br#"{"type":"module"}"#.to_vec());
            }
        }
        let harness: BTreeMap<String, Vec<u8>> = HARNESS
            .iter()
            .map(|(name, text)| (name.to_string(), text.as_bytes().to_vec()))
            .collect();
        let folder = |name, files, group, private| upload::Folder {
            name,
            files,
            group,
            private,
        };
        upload::archive(&[
            folder("app", &app, 0, false),
            folder("harness", &harness, 0, false),
            folder("tests", &tests, TESTER_GROUP, true),
        ])
    }

    /// A fresh container holding the request's files: a started, empty one from the warm
    /// pool when there is one (a refill starts behind it), else a new one.
    pub(super) async fn sandbox(&self, request: &RunRequest) -> Result<Sandbox, RunnerError> {
        let image = self.image(request.language)?.tag.clone();
        let archive = Self::upload(request)?;
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| RunnerError("the docker runner is closed".to_string()))?;
        let key = (image.clone(), request.limits);
        let pooled = self
            .pool
            .lock()
            .expect("pool lock")
            .get_mut(&key)
            .and_then(Vec::pop);
        self.refill(key);
        let sandbox = match pooled {
            Some(mut sandbox) => {
                // The pool's permit goes back (letting the refill start); this one counts.
                sandbox.slot = slot;
                sandbox
            }
            None => Sandbox::start(&self.engine, &image, &request.limits, slot).await?,
        };
        sandbox.upload(archive).await?;
        Ok(sandbox)
    }

    /// Starts one empty container for `key` in the background, if the pool has room.
    fn refill(&self, key: (String, Limits)) {
        let Ok(permit) = self.warm_slots.clone().try_acquire_owned() else {
            return;
        };
        let (engine, pool) = (self.engine.clone(), self.pool.clone());
        tokio::spawn(async move {
            match Sandbox::start(&engine, &key.0, &key.1, permit).await {
                Ok(sandbox) => pool
                    .lock()
                    .expect("pool lock")
                    .entry(key)
                    .or_default()
                    .push(sandbox),
                Err(error) => tracing::warn!(error = %error.0, "warm pool refill failed"),
            }
        });
    }
}
