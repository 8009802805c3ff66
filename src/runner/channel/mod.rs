//! The guests' stdout and stderr, as the host sees them while the guests run.
//!
//! Every stream goes into one `Tracker`. With a harness, stdout carries frames
//! (`"\n\x1e" <nonce> " " <json> "\n"`, see `sandboxes/README.md`); the tracker splits the
//! stream there, so every learner byte is attributed to the phase it was written in (the
//! start-up, loading, or case i). Phase changes move the time deadline and reset the fuel,
//! which is how one instance runs many cases with a limit per case. Without a harness
//! (plain wasm) everything is learner output of one phase.
//!
//! A suite runs in two instances: the harness (the tester, which runs the instructor's
//! tests and writes the frames) and the learner's (which runs the learner's code behind
//! a proxy). The tracker relays their messages, one in each direction in turn.
//!
//! Output is capped per phase: the write that passes the cap traps the guest at once.

mod inbox;
pub mod input;
mod observed;
mod streams;

pub use inbox::Inbox;
pub use observed::{CaseWindow, Collected, Ran, Stopped, observe};
pub use streams::Shared;

use crate::runner::frame::{CaseEnd, Frame, FrameError, HarnessError};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

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
    pub end: Option<CaseEnd>,
    pub memory_denied: bool,
}

/// Which guest wrote: the harness (the only instance, or a suite's tester), or a
/// suite's learner instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Harness,
    Learner,
}

/// The frames of one stdout stream: the marker that starts them, and what has been
/// written but not split yet.
#[derive(Debug, Default)]
struct Framing {
    marker: Option<Vec<u8>>,
    pending: Vec<u8>,
    /// How far past the marker the pending frame has been searched for its newline.
    scanned: usize,
}

/// The next piece of a stdout stream.
enum Piece {
    /// Bytes that are not a frame.
    Output(Vec<u8>),
    /// A frame's body (between the marker and its newline).
    Frame(Vec<u8>),
    /// Nothing more until the guest writes again.
    Wait,
    /// A frame longer than `FRAME_CAP`: the guest is flooding.
    TooLong,
}

impl Framing {
    fn next(&mut self) -> Piece {
        let Some(marker) = self.marker.clone() else {
            return match self.pending.is_empty() {
                true => Piece::Wait,
                false => Piece::Output(std::mem::take(&mut self.pending)),
            };
        };
        let Some(at) = find(&self.pending, &marker) else {
            // Keep a tail that could be the start of a marker.
            let keep = (marker.len() - 1).min(self.pending.len());
            let flush: Vec<u8> = self.pending.drain(..self.pending.len() - keep).collect();
            return match flush.is_empty() {
                true => Piece::Wait,
                false => Piece::Output(flush),
            };
        };
        if at > 0 {
            self.scanned = 0;
            return Piece::Output(self.pending.drain(..at).collect());
        }
        // A frame arrives in several writes: search only the bytes not searched yet.
        let body = &self.pending[marker.len()..];
        let Some(offset) = body[self.scanned..].iter().position(|&b| b == b'\n') else {
            self.scanned = body.len();
            return match self.pending.len() > FRAME_CAP {
                true => Piece::TooLong,
                false => Piece::Wait,
            };
        };
        let end = self.scanned + offset;
        self.scanned = 0;
        let frame = body[..end].to_vec();
        self.pending.drain(..marker.len() + end + 1);
        Piece::Frame(frame)
    }
}

/// A suite's learner instance, as the tracker sees it.
#[derive(Debug)]
struct Learner {
    framing: Framing,
    inbox: Inbox,
    /// Its harness said `ready`: it runs on per-phase fuel from now on.
    ready: bool,
    /// Whose message the host relays next: the tester's requests and the learner's
    /// answers alternate, so the learner can answer only what it was asked, once.
    turn: Side,
}

#[derive(Debug)]
pub struct Tracker {
    harness: Framing,
    /// The harness's stdin.
    inbox: Inbox,
    learner: Option<Learner>,
    pub phase: Phase,
    /// Bumped at every phase change; the epoch callback resets the fuel when it moves.
    pub seq: u64,
    pub deadline: Instant,
    phase_wall: Duration,
    /// No phase may end after this, however many frames arrive.
    hard_deadline: Instant,
    /// The next `begin` must be for this case.
    next_case: Option<usize>,
    /// Set for an instance restarted after a case stopped it: loading the learner's code
    /// again and the first case share one wall limit, so a module that sleeps while it
    /// is imported cannot double every test's time (the second review's attack W4).
    load_shares_wall: bool,
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
    /// Frames that are not `begin`/`end`/`call`: ready, load, compile_error, load_error, …
    pub events: Vec<Frame>,
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
            harness: Framing {
                marker,
                ..Framing::default()
            },
            inbox: Inbox::default(),
            learner: None,
            phase,
            seq: 0,
            deadline: (now + start_wall).min(now + total_wall),
            phase_wall,
            hard_deadline: now + total_wall,
            next_case: None,
            load_shares_wall: false,
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

    /// The first `begin` must be for `case` (the case this instance was started at). A
    /// `restart` (an instance started after a case stopped the one before) loads the
    /// learner's code and runs its first case within one wall limit.
    pub fn expect_case(&mut self, case: usize, restart: bool) {
        self.next_case = Some(case);
        self.load_shares_wall = restart;
    }

    /// What the harness reads on stdin.
    pub fn set_input(&mut self, inbox: Inbox) {
        self.inbox = inbox;
    }

    /// Makes this a suite's tracker: a learner instance whose frames start with
    /// `marker`, and whose stdin starts with `request`.
    pub fn add_learner(&mut self, marker: Vec<u8>, request: Vec<u8>) {
        self.learner = Some(Learner {
            framing: Framing {
                marker: Some(marker),
                ..Framing::default()
            },
            inbox: Inbox::open(request, Vec::new()),
            ready: false,
            turn: Side::Harness,
        });
    }

    /// The stdin of `side`'s guest.
    pub fn inbox(&mut self, side: Side) -> &mut Inbox {
        match (side, &mut self.learner) {
            (Side::Learner, Some(learner)) => &mut learner.inbox,
            _ => &mut self.inbox,
        }
    }

    /// The phase counter `side`'s fuel follows: a learner instance keeps its start-up
    /// fuel until its own harness is ready.
    pub fn seq_for(&self, side: Side) -> u64 {
        match (side, &self.learner) {
            (Side::Learner, Some(learner)) if !learner.ready => 0,
            _ => self.seq,
        }
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

    fn write(&mut self, side: Side, stderr: bool, bytes: &[u8]) -> Result<(), ()> {
        if stderr {
            return self.learner_output(stderr, bytes);
        }
        self.framing(side).pending.extend_from_slice(bytes);
        loop {
            match self.framing(side).next() {
                Piece::Output(bytes) => self.learner_output(false, &bytes)?,
                Piece::Frame(body) if side == Side::Learner => self.learner_frame(body),
                Piece::Frame(body) => match Frame::parse(&body) {
                    Ok(frame) => self.frame(frame),
                    Err(FrameError::NotJson(problem)) => self.unreadable_frame(&problem),
                    Err(FrameError::Malformed(problem)) => self.break_protocol(problem),
                },
                Piece::Wait => return Ok(()),
                Piece::TooLong => {
                    self.output_exceeded = true;
                    return Err(());
                }
            }
        }
    }

    fn framing(&mut self, side: Side) -> &mut Framing {
        match (side, &mut self.learner) {
            (Side::Learner, Some(learner)) => &mut learner.framing,
            _ => &mut self.harness,
        }
    }

    /// A frame of the learner instance's harness: `ready` first, then each answer to a
    /// request of the tester's, relayed to the tester's stdin as a JSON string (so that
    /// whatever bytes the learner's side wrote, the line the tester reads is JSON and
    /// holds nothing but that string). Anything sent out of turn is dropped.
    fn learner_frame(&mut self, body: Vec<u8>) {
        let Some(learner) = &mut self.learner else {
            return;
        };
        if !learner.ready {
            if body == b"ready" {
                learner.ready = true;
                // The tester starts once both interpreters have.
                self.inbox.release_next();
            }
            return;
        }
        if learner.turn != Side::Learner {
            return;
        }
        learner.turn = Side::Harness;
        let text = String::from_utf8_lossy(&body);
        let mut line =
            serde_json::to_vec(&serde_json::json!({ "relay": text })).expect("a string serializes");
        line.push(b'\n');
        self.inbox.send(&line);
    }

    /// The tester's request for the learner (`call`): relayed to the learner's stdin
    /// when it is the tester's turn and learner code may run.
    fn relay_to_learner(&mut self, data: &str) -> bool {
        let may_run = self.learner_started;
        let Some(learner) = &mut self.learner else {
            return false;
        };
        if !may_run || learner.turn != Side::Harness {
            return false;
        }
        learner.turn = Side::Learner;
        learner.inbox.send(data.as_bytes());
        learner.inbox.send(b"\n");
        true
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
        let error = HarnessError {
            message: Some(message),
            traceback: None,
        };
        self.end_case(CaseEnd {
            case: index,
            error: Some(error),
            ..CaseEnd::default()
        });
    }

    /// Marks the run: frames that break the protocol can only come from learner code
    /// that reached the nonce. The first reason is kept.
    fn break_protocol(&mut self, why: String) {
        self.violation.get_or_insert(why);
    }

    fn end_case(&mut self, end: CaseEnd) {
        let case = self.cases.entry(end.case).or_default();
        case.finished = Some(Instant::now());
        case.end = Some(end);
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
    fn frame(&mut self, frame: Frame) {
        if self.violation.is_some() {
            return;
        }
        if !self.in_order(&frame) {
            return self.break_protocol(format!("a {:?} frame out of order", frame.event()));
        }
        if matches!(frame, Frame::Load | Frame::Begin { .. }) {
            self.learner_started = true;
        }
        match frame {
            Frame::Call { data } => {
                if !self.relay_to_learner(&data) {
                    self.break_protocol("a call out of turn".to_string());
                }
            }
            Frame::Begin { case: index } => {
                let loading_deadline = self.deadline;
                self.enter(Phase::Case(index));
                if self.load_shares_wall && self.cases.is_empty() {
                    self.deadline = loading_deadline;
                }
                self.next_case = Some(index + 1);
                self.cases.entry(index).or_default().started = Some(Instant::now());
            }
            Frame::End(end) => self.end_case(end),
            Frame::Ready | Frame::Load => {
                self.enter(Phase::Loading);
                self.events.push(frame);
            }
            // A suite's tester has imported the test files (and so the learner's modules
            // through the proxy): from now on it reads cases, not answers.
            Frame::Loaded => {
                self.inbox.release_next();
                self.events.push(frame);
            }
            _ => self.events.push(frame),
        }
    }

    /// Whether `frame` may come now (the order is in `frame`'s doc).
    fn in_order(&self, frame: &Frame) -> bool {
        let done = self.events.contains(&Frame::Done);
        !done
            && match frame {
                Frame::Ready => self.phase == Phase::Start,
                Frame::Load => self.phase == Phase::Loading && self.cases.is_empty(),
                Frame::Begin { case } => {
                    self.phase == Phase::Loading && self.next_case.is_none_or(|next| next == *case)
                }
                Frame::End(end) => self.phase == Phase::Case(end.case),
                Frame::CompileError { .. } | Frame::Fault { .. } => {
                    self.phase != Phase::Start && !self.learner_started
                }
                Frame::LoadError { .. } => {
                    self.phase == Phase::Loading && self.learner_started && self.cases.is_empty()
                }
                _ => self.phase != Phase::Start,
            }
    }

    /// Attributes what is still pending once the guests have stopped.
    pub fn finish(&mut self) {
        let mut rest = std::mem::take(&mut self.harness.pending);
        if let Some(learner) = &mut self.learner {
            rest.append(&mut learner.framing.pending);
        }
        let _ = self.learner_output(false, &rest);
    }

    /// The message of a `compile_error` frame, if one came.
    pub fn compile_error(&self) -> Option<&str> {
        self.events.iter().find_map(|event| match event {
            Frame::CompileError { message } => Some(message.as_str()),
            _ => None,
        })
    }

    /// The message of a `fault` frame, if one came.
    pub fn fault(&self) -> Option<&str> {
        self.events.iter().find_map(|event| match event {
            Frame::Fault { message } => Some(message.as_str()),
            _ => None,
        })
    }

    /// The error of a `load_error` frame, if one came.
    pub fn load_error(&self) -> Option<&HarnessError> {
        self.events.iter().find_map(|event| match event {
            Frame::LoadError { error } => Some(error),
            _ => None,
        })
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
        t.write(Side::Harness, false, b"\n\x1eabc {\"event\":\"ready\"}\n")
            .unwrap();
        t.write(Side::Harness, false, b"\n\x1eab").unwrap();
        t.write(
            Side::Harness,
            false,
            b"c {\"event\":\"begin\",\"case\":0}\nhel",
        )
        .unwrap();
        t.write(Side::Harness, true, b"oops").unwrap();
        t.write(
            Side::Harness,
            false,
            b"lo\n\x1eabc {\"event\":\"end\",\"case\":0,\"ok\":true}\n",
        )
        .unwrap();
        t.finish();
        let case = &t.cases[&0];
        assert_eq!(case.stdout, b"hello");
        assert_eq!(case.stderr, b"oops");
        assert!(case.end.as_ref().unwrap().ok);
        assert_eq!(t.phase, Phase::Loading);
    }

    #[test]
    fn a_frame_body_split_over_many_writes_is_found_once_complete() {
        let mut t = tracker();
        t.write(Side::Harness, false, b"\n\x1eabc {\"event\":\"ready\"}\n")
            .unwrap();
        t.write(Side::Harness, false, b"\n\x1eabc {\"event\":")
            .unwrap();
        t.write(Side::Harness, false, b"\"begin\",").unwrap();
        assert_eq!(t.phase, Phase::Loading, "not complete yet");
        t.write(Side::Harness, false, b"\"case\":0}").unwrap();
        t.write(Side::Harness, false, b"\nok").unwrap();
        t.finish();
        assert_eq!(t.phase, Phase::Case(0));
        assert_eq!(t.cases[&0].stdout, b"ok");
    }

    #[test]
    fn frames_out_of_order_mark_the_run_and_move_nothing() {
        let mut t = tracker();
        let frame = |body: &str| format!("\n\x1eabc {body}\n").into_bytes();
        t.write(Side::Harness, false, &frame(r#"{"event":"ready"}"#))
            .unwrap();
        t.write(
            Side::Harness,
            false,
            &frame(r#"{"event":"begin","case":0}"#),
        )
        .unwrap();
        t.write(
            Side::Harness,
            false,
            &frame(r#"{"event":"end","case":0,"ok":true}"#),
        )
        .unwrap();
        let (seq, deadline) = (t.seq, t.deadline);
        t.write(
            Side::Harness,
            false,
            &frame(r#"{"event":"end","case":0,"ok":true}"#),
        )
        .unwrap();
        assert!(t.violation.is_some(), "a second end for a closed case");
        t.write(
            Side::Harness,
            false,
            &frame(r#"{"event":"begin","case":1}"#),
        )
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
        t.write(Side::Harness, false, b"\n\x1eabc {\"event\":\"ready\"}\n")
            .unwrap();
        t.write(
            Side::Harness,
            false,
            b"\n\x1eabc {\"event\":\"begin\",\"case\":0}\n",
        )
        .unwrap();
        assert!(
            t.write(Side::Harness, false, b"\n\x1exyz {}").is_ok(),
            "9 bytes fit the cap of 10"
        );
        assert!(
            t.write(Side::Harness, false, b"\n\x1exyz {}\n").is_err(),
            "past the cap"
        );
        assert!(t.output_exceeded);
        assert!(t.cases[&0].end.is_none());
        assert!(t.cases[&0].stdout.starts_with(b"\n\x1exyz {}"));
    }
}
