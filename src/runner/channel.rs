//! The guest's stdout and stderr, as the host sees them while the guest runs.
//!
//! Both streams go into one `Tracker`. With a harness, stdout carries frames
//! (`"\n\x1e" <nonce> " " <json> "\n"`, see `sandboxes/README.md`); the tracker splits the
//! stream there, so every learner byte is attributed to the phase it was written in (the
//! start-up, loading, or case i). Phase changes move the time deadline and reset the fuel,
//! which is how one instance runs many cases with a limit per case. Without a harness
//! (plain wasm) everything is learner output of one phase.
//!
//! Output is capped per phase: the write that passes the cap traps the guest at once.

use crate::value::Value;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// Frames longer than this are not frames: the guest is flooding.
const FRAME_CAP: usize = 8 << 20;

/// Where the guest is, as told by the harness's frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The runtime and harness are starting: trusted code only.
    Start,
    /// Between cases, or loading the learner's code.
    Loading,
    Case(usize),
}

/// What one case left behind.
#[derive(Debug, Default)]
pub struct CaseRecord {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub started: Option<Instant>,
    pub finished: Option<Instant>,
    /// The harness's `end` frame.
    pub end: Option<Value>,
    pub memory_denied: bool,
}

/// What the host writes to the guest's stdin, when. The request line goes first; each
/// case's input follows only once the harness has ended the case before it. So no input
/// is inside the sandbox before its case (a hidden test's input cannot be read, or
/// printed, by code running for an earlier, visible test).
#[derive(Debug, Default)]
pub struct Inbox {
    ready: std::collections::VecDeque<u8>,
    /// Case inputs not sent yet, in run order (one JSON line each).
    queued: std::collections::VecDeque<Vec<u8>>,
    /// Nothing more comes once `queued` is empty: the guest reads end-of-file.
    closes: bool,
    reader: Option<std::task::Waker>,
}

impl Inbox {
    /// `first` now; each of `then` after an `end` frame; end-of-file after the last.
    pub fn new(first: Vec<u8>, then: Vec<Vec<u8>>) -> Inbox {
        Inbox {
            ready: first.into(),
            queued: then.into(),
            closes: true,
            reader: None,
        }
    }

    /// Sends the next queued input.
    fn release_next(&mut self) {
        if let Some(next) = self.queued.pop_front() {
            self.ready.extend(next);
            if let Some(reader) = self.reader.take() {
                reader.wake();
            }
        }
    }
}

#[derive(Debug)]
pub struct Tracker {
    marker: Option<Vec<u8>>,
    /// The guest's stdin.
    pub inbox: Inbox,
    pending: Vec<u8>,
    pub phase: Phase,
    /// Bumped at every phase change; the epoch callback resets the fuel when it moves.
    pub seq: u64,
    pub deadline: Instant,
    phase_wall: Duration,
    /// No phase may end after this, however many frames arrive.
    hard_deadline: Instant,
    /// The next `begin` must be for this case.
    next_case: Option<usize>,
    /// How far past the marker the pending frame has been searched for its newline.
    scanned: usize,
    /// Set when frames break the protocol (only learner code that got hold of the
    /// nonce could send them): the host then charges the run to the submission.
    pub violation: Option<String>,
    /// Set at `load` or the first `begin`: learner code may run from here on, so frames
    /// that only the harness's own start may send (`compile_error`, `fault`) are refused.
    learner_started: bool,
    cap: usize,
    phase_output: usize,
    /// Set when a phase passed the output cap (the guest was trapped).
    pub output_exceeded: bool,
    /// Set when the memory limiter refused growth in the current phase.
    pub memory_denied: bool,
    pub cases: BTreeMap<usize, CaseRecord>,
    /// Frames that are not `begin`/`end`: ready, load, compile_error, load_error, …
    pub events: Vec<Value>,
    /// Learner output outside any case (while loading).
    pub loading_output: Vec<u8>,
}

impl Tracker {
    /// `marker` is the frame prefix (None: plain wasm, no harness). The start phase gets
    /// `start_wall`; every later phase gets `phase_wall`, and nothing runs past
    /// `total_wall` from now.
    pub fn new(
        marker: Option<Vec<u8>>,
        cap: usize,
        start_wall: Duration,
        phase_wall: Duration,
        total_wall: Duration,
    ) -> Tracker {
        let now = Instant::now();
        let phase = if marker.is_some() {
            Phase::Start
        } else {
            Phase::Case(0)
        };
        let mut cases = BTreeMap::new();
        if marker.is_none() {
            cases.insert(
                0,
                CaseRecord {
                    started: Some(Instant::now()),
                    ..CaseRecord::default()
                },
            );
        }
        Tracker {
            marker,
            inbox: Inbox::default(),
            pending: Vec::new(),
            phase,
            seq: 0,
            deadline: (now + start_wall).min(now + total_wall),
            phase_wall,
            hard_deadline: now + total_wall,
            next_case: None,
            scanned: 0,
            violation: None,
            learner_started: false,
            cap,
            phase_output: 0,
            output_exceeded: false,
            memory_denied: false,
            cases,
            events: Vec::new(),
            loading_output: Vec::new(),
        }
    }

    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.seq += 1;
        self.phase_output = 0;
        self.memory_denied = false;
        self.deadline = (Instant::now() + self.phase_wall).min(self.hard_deadline);
    }

    /// The first `begin` must be for `case` (the case this instance was started at).
    pub fn expect_case(&mut self, case: usize) {
        self.next_case = Some(case);
    }

    /// Records that the memory limiter refused growth.
    pub fn deny_memory(&mut self) {
        self.memory_denied = true;
        if let Phase::Case(index) = self.phase
            && let Some(case) = self.cases.get_mut(&index)
        {
            case.memory_denied = true;
        }
    }

    /// Learner bytes written in the current phase; `Err` when they pass the cap.
    fn learner_output(&mut self, stderr: bool, bytes: &[u8]) -> Result<(), ()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let room = self.cap.saturating_sub(self.phase_output);
        let kept = &bytes[..bytes.len().min(room)];
        self.phase_output += bytes.len();
        let sink = match self.phase {
            Phase::Case(index) => {
                let case = self.cases.entry(index).or_default();
                if stderr {
                    &mut case.stderr
                } else {
                    &mut case.stdout
                }
            }
            Phase::Start | Phase::Loading => &mut self.loading_output,
        };
        sink.extend_from_slice(kept);
        if self.phase_output > self.cap {
            self.output_exceeded = true;
            return Err(());
        }
        Ok(())
    }

    fn write(&mut self, stderr: bool, bytes: &[u8]) -> Result<(), ()> {
        if stderr || self.marker.is_none() {
            return self.learner_output(stderr, bytes);
        }
        self.pending.extend_from_slice(bytes);
        self.drain()
    }

    /// Splits pending stdout at frames.
    fn drain(&mut self) -> Result<(), ()> {
        let marker = self.marker.clone().unwrap_or_default();
        loop {
            let Some(at) = find(&self.pending, &marker) else {
                // Keep a tail that could be the start of a marker.
                let keep = (marker.len() - 1).min(self.pending.len());
                let flush: Vec<u8> = self.pending.drain(..self.pending.len() - keep).collect();
                return self.learner_output(false, &flush);
            };
            if at > 0 {
                self.scanned = 0;
            }
            let before: Vec<u8> = self.pending.drain(..at).collect();
            self.learner_output(false, &before)?;
            // A frame arrives in several writes: search only the bytes not searched yet.
            let body = &self.pending[marker.len()..];
            let Some(offset) = body[self.scanned..].iter().position(|&b| b == b'\n') else {
                self.scanned = body.len();
                if self.pending.len() > FRAME_CAP {
                    self.output_exceeded = true;
                    return Err(());
                }
                return Ok(());
            };
            let end = self.scanned + offset;
            self.scanned = 0;
            let frame = Value::parse(&body[..end]);
            self.pending.drain(..marker.len() + end + 1);
            match frame {
                Ok(frame) => self.frame(frame),
                Err(problem) => self.unreadable_frame(&problem),
            }
        }
    }

    /// A frame the host cannot parse. While a case is open it is that case's result
    /// (whatever the learner returned or raised made it), an error; elsewhere it breaks
    /// the protocol. Never an infrastructure fault.
    fn unreadable_frame(&mut self, problem: &str) {
        if self.violation.is_some() {
            return;
        }
        let Phase::Case(index) = self.phase else {
            self.violation = Some(format!("a frame that is not JSON ({problem})"));
            return;
        };
        let message = format!(
            "the test's result could not be read ({problem}): the value or message \
             is not valid JSON text"
        );
        let mut error = std::collections::BTreeMap::new();
        error.insert("message".to_string(), Value::str(message));
        let mut end = std::collections::BTreeMap::new();
        end.insert("event".to_string(), Value::str("end"));
        end.insert("ok".to_string(), Value::Bool(false));
        end.insert("error".to_string(), Value::Map(error));
        let case = self.cases.entry(index).or_default();
        case.finished = Some(Instant::now());
        case.end = Some(Value::Map(end));
        self.enter(Phase::Loading);
        self.inbox.release_next();
    }

    /// Applies one harness frame. Frames must follow the protocol: `ready` once at
    /// start, `load` before any case, `begin i` only between cases and for the next case,
    /// `end i` only for the open case, nothing after `done`. `compile_error` and `fault`
    /// only before any learner code has run (a compile error is a parse of the learner's
    /// files, never something their code raised), and `load_error` only between `load`
    /// and the first case (its message is shown on every test). A frame out of order can
    /// only come from learner code that reached the nonce; it moves nothing (no new
    /// deadline, no fresh fuel) and marks the run.
    fn frame(&mut self, frame: Value) {
        if self.violation.is_some() {
            return;
        }
        let index = frame["case"].as_u64().map(|i| i as usize);
        let done = self.event("done").is_some();
        let event = frame["event"].as_str().unwrap_or_default().to_string();
        let in_order = !done
            && match (event.as_str(), index) {
                ("ready", _) => self.phase == Phase::Start,
                ("load", _) => self.phase == Phase::Loading && self.cases.is_empty(),
                ("begin", Some(index)) => {
                    self.phase == Phase::Loading && self.next_case.is_none_or(|next| next == index)
                }
                ("end", Some(index)) => self.phase == Phase::Case(index),
                ("begin" | "end", None) => false,
                ("compile_error" | "fault", _) => {
                    self.phase != Phase::Start && !self.learner_started
                }
                ("load_error", _) => {
                    self.phase == Phase::Loading && self.learner_started && self.cases.is_empty()
                }
                _ => self.phase != Phase::Start,
            };
        if !in_order {
            self.violation = Some(format!("a {event:?} frame out of order"));
            return;
        }
        if matches!(event.as_str(), "load" | "begin") {
            self.learner_started = true;
        }
        match (event.as_str(), index) {
            ("begin", Some(index)) => {
                self.enter(Phase::Case(index));
                self.next_case = Some(index + 1);
                self.cases.entry(index).or_default().started = Some(Instant::now());
            }
            ("end", Some(index)) => {
                let case = self.cases.entry(index).or_default();
                case.finished = Some(Instant::now());
                case.end = Some(frame);
                self.enter(Phase::Loading);
                self.inbox.release_next();
            }
            ("ready" | "load", _) => {
                self.enter(Phase::Loading);
                self.events.push(frame);
            }
            _ => self.events.push(frame),
        }
    }

    /// Attributes what is still pending once the guest has stopped.
    pub fn finish(&mut self) {
        let rest = std::mem::take(&mut self.pending);
        let _ = self.learner_output(false, &rest);
    }

    /// The first event named `name`.
    pub fn event(&self, name: &str) -> Option<&Value> {
        self.events
            .iter()
            .find(|event| event["event"].as_str() == Some(name))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// A shared handle on the tracker, and the signal that its deadline moved.
#[derive(Clone, Debug)]
pub struct Shared(Arc<SharedTracker>);

#[derive(Debug)]
struct SharedTracker {
    tracker: Mutex<Tracker>,
    /// Woken whenever a write may have moved the deadline, so that a waiter asleep
    /// until an older (later) deadline re-arms at once.
    deadline_moved: tokio::sync::Notify,
}

impl Shared {
    pub fn new(tracker: Tracker) -> Shared {
        Shared(Arc::new(SharedTracker {
            tracker: Mutex::new(tracker),
            deadline_moved: tokio::sync::Notify::new(),
        }))
    }

    pub fn lock(&self) -> MutexGuard<'_, Tracker> {
        self.0.tracker.lock().expect("output tracker")
    }

    /// Feeds guest bytes to the tracker and wakes the deadline waiter when a frame
    /// moved the phase.
    fn write(&self, stderr: bool, bytes: &[u8]) -> Result<(), ()> {
        let (result, moved) = {
            let mut tracker = self.lock();
            let before = tracker.deadline;
            let result = tracker.write(stderr, bytes);
            (result, tracker.deadline != before)
        };
        if moved {
            self.0.deadline_moved.notify_waiters();
        }
        result
    }

    /// The guest's stdin, fed from the tracker's inbox.
    pub fn input(&self) -> GuestInput {
        GuestInput {
            shared: self.clone(),
        }
    }

    /// A stdout (or stderr) stream for the WASI context.
    pub fn stream(&self, stderr: bool) -> GuestStream {
        GuestStream {
            shared: self.clone(),
            stderr,
        }
    }

    /// Resolves when the current phase's deadline has passed. The deadline a frame
    /// moves (earlier or later) is the one waited for from then on.
    pub async fn deadline_passed(&self) {
        loop {
            let moved = self.0.deadline_moved.notified();
            tokio::pin!(moved);
            // Registered before the deadline is read, so no move can slip between.
            moved.as_mut().enable();
            let deadline = self.lock().deadline;
            if Instant::now() >= deadline {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep_until(deadline.into()) => {}
                () = moved => {}
            }
        }
    }
}

/// The guest's stdin: what the inbox has released so far; a read waits for more, and
/// ends (end-of-file) once the inbox has nothing left to send.
pub struct GuestInput {
    shared: Shared,
}

impl tokio::io::AsyncRead for GuestInput {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let mut tracker = self.shared.lock();
        let inbox = &mut tracker.inbox;
        if inbox.ready.is_empty() {
            if inbox.closes && inbox.queued.is_empty() {
                return Poll::Ready(Ok(()));
            }
            inbox.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let count = buf.remaining().min(inbox.ready.len());
        let bytes: Vec<u8> = inbox.ready.drain(..count).collect();
        buf.put_slice(&bytes);
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for GuestInput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdinStream for GuestInput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncRead + Send + Sync> {
        Box::new(self.shared.input())
    }
}

/// The guest's stdout or stderr.
pub struct GuestStream {
    shared: Shared,
    stderr: bool,
}

impl GuestStream {
    fn accept(&self, bytes: &[u8]) -> Result<(), StreamError> {
        self.shared
            .write(self.stderr, bytes)
            .map_err(|()| StreamError::Trap(wasmtime::format_err!("output limit exceeded")))
    }
}

#[async_trait::async_trait]
impl Pollable for GuestStream {
    async fn ready(&mut self) {}
}

#[async_trait::async_trait]
impl OutputStream for GuestStream {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.accept(&bytes)
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(1 << 20)
    }
}

impl tokio::io::AsyncWrite for GuestStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(
            self.accept(buf)
                .map(|()| buf.len())
                .map_err(|_| std::io::Error::other("output limit exceeded")),
        )
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for GuestStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.shared.stream(self.stderr))
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.shared.stream(self.stderr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker() -> Tracker {
        Tracker::new(
            Some(b"\n\x1eabc ".to_vec()),
            10,
            Duration::from_secs(1),
            Duration::from_secs(1),
            Duration::from_secs(10),
        )
    }

    #[test]
    fn output_is_split_at_frames_even_across_writes() {
        let mut t = tracker();
        t.write(false, b"\n\x1eabc {\"event\":\"ready\"}\n")
            .unwrap();
        t.write(false, b"\n\x1eab").unwrap();
        t.write(false, b"c {\"event\":\"begin\",\"case\":0}\nhel")
            .unwrap();
        t.write(true, b"oops").unwrap();
        t.write(
            false,
            b"lo\n\x1eabc {\"event\":\"end\",\"case\":0,\"ok\":true}\n",
        )
        .unwrap();
        t.finish();
        let case = &t.cases[&0];
        assert_eq!(case.stdout, b"hello");
        assert_eq!(case.stderr, b"oops");
        assert_eq!(case.end.as_ref().unwrap()["ok"], Value::Bool(true));
        assert_eq!(t.phase, Phase::Loading);
    }

    #[test]
    fn a_frame_body_split_over_many_writes_is_found_once_complete() {
        let mut t = tracker();
        t.write(false, b"\n\x1eabc {\"event\":\"ready\"}\n")
            .unwrap();
        t.write(false, b"\n\x1eabc {\"event\":").unwrap();
        t.write(false, b"\"begin\",").unwrap();
        assert_eq!(t.phase, Phase::Loading, "not complete yet");
        t.write(false, b"\"case\":0}").unwrap();
        t.write(false, b"\nok").unwrap();
        t.finish();
        assert_eq!(t.phase, Phase::Case(0));
        assert_eq!(t.cases[&0].stdout, b"ok");
    }

    #[test]
    fn frames_out_of_order_mark_the_run_and_move_nothing() {
        let mut t = tracker();
        let frame = |body: &str| format!("\n\x1eabc {body}\n").into_bytes();
        t.write(false, &frame(r#"{"event":"ready"}"#)).unwrap();
        t.write(false, &frame(r#"{"event":"begin","case":0}"#))
            .unwrap();
        t.write(false, &frame(r#"{"event":"end","case":0,"ok":true}"#))
            .unwrap();
        let (seq, deadline) = (t.seq, t.deadline);
        t.write(false, &frame(r#"{"event":"end","case":0,"ok":true}"#))
            .unwrap();
        assert!(t.violation.is_some(), "a second end for a closed case");
        t.write(false, &frame(r#"{"event":"begin","case":1}"#))
            .unwrap();
        assert_eq!(
            (t.seq, t.deadline),
            (seq, deadline),
            "nothing moves after a violation"
        );
        assert!(!t.cases.contains_key(&1));
    }

    #[test]
    fn a_forged_frame_without_the_nonce_is_learner_output() {
        let mut t = tracker();
        t.write(false, b"\n\x1eabc {\"event\":\"ready\"}\n")
            .unwrap();
        t.write(false, b"\n\x1eabc {\"event\":\"begin\",\"case\":0}\n")
            .unwrap();
        assert!(
            t.write(false, b"\n\x1exyz {}").is_ok(),
            "9 bytes fit the cap of 10"
        );
        assert!(t.write(false, b"\n\x1exyz {}\n").is_err(), "past the cap");
        assert!(t.output_exceeded);
        assert!(t.cases[&0].end.is_none());
        assert!(t.cases[&0].stdout.starts_with(b"\n\x1exyz {}"));
    }
}
