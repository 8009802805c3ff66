//! In-process completion events, so long polls wake when *their* submission finishes
//! instead of every waiter re-reading the database on every completion.
//!
//! Workers in other processes do not reach these events; long polls also re-check the
//! database on a short timer for them.

use std::time::Duration;
use tokio::sync::broadcast;

/// What a waiter learns from `wait`.
#[derive(Debug, PartialEq, Eq)]
pub enum Woken {
    /// The awaited submission (or, for `None`, any submission) finished.
    Finished,
    /// Events were missed or the timeout passed: re-check the database.
    Recheck,
}

#[derive(Clone)]
pub struct Completions {
    sender: broadcast::Sender<String>,
}

impl Default for Completions {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(4096).0,
        }
    }
}

impl Completions {
    /// Announces that a submission reached a final status.
    pub fn finished(&self, submission_id: &str) {
        let _ = self.sender.send(submission_id.to_string());
    }

    /// Subscribe before reading the database, then `wait`: nothing is missed in between.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.sender.subscribe()
    }

    /// Waits up to `timeout` for `submission_id` (or any submission, for `None`).
    pub async fn wait(
        receiver: &mut broadcast::Receiver<String>,
        submission_id: Option<&str>,
        timeout: Duration,
    ) -> Woken {
        let matching = async {
            loop {
                match receiver.recv().await {
                    Ok(id) if submission_id.is_none_or(|wanted| wanted == id) => {
                        return Woken::Finished;
                    }
                    Ok(_) => continue,
                    Err(_) => return Woken::Recheck,
                }
            }
        };
        tokio::time::timeout(timeout, matching)
            .await
            .unwrap_or(Woken::Recheck)
    }
}
