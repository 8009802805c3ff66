//! What the host writes to a guest's stdin, and when.

use std::collections::VecDeque;
use std::task::Waker;

/// A guest's stdin. The request line goes first; each case's input follows only once the
/// harness has ended the case before it, so no input is inside the sandbox before its
/// case (a hidden test's input cannot be read, or printed, by code running for an earlier,
/// visible test). A suite's tester and learner instances also receive the messages the
/// host relays between them.
#[derive(Debug, Default)]
pub struct Inbox {
    ready: VecDeque<u8>,
    /// Inputs not sent yet, in run order (one JSON line each).
    queued: VecDeque<Vec<u8>>,
    /// Nothing more comes once `queued` is empty: the guest reads end-of-file.
    closes: bool,
    reader: Option<Waker>,
}

impl Inbox {
    /// `first` now; each of `then` on `release_next`; end-of-file after the last.
    pub fn new(first: Vec<u8>, then: Vec<Vec<u8>>) -> Inbox {
        Inbox {
            ready: first.into(),
            queued: then.into(),
            closes: true,
            reader: None,
        }
    }

    /// Like `new`, but the stream stays open for relayed messages: a read waits.
    pub fn open(first: Vec<u8>, then: Vec<Vec<u8>>) -> Inbox {
        Inbox {
            closes: false,
            ..Inbox::new(first, then)
        }
    }

    /// Sends the next queued input.
    pub fn release_next(&mut self) {
        if let Some(next) = self.queued.pop_front() {
            self.send(&next);
        }
    }

    /// Sends `bytes` now.
    pub fn send(&mut self, bytes: &[u8]) {
        self.ready.extend(bytes);
        if let Some(reader) = self.reader.take() {
            reader.wake();
        }
    }

    /// Everything released so far (for a guest whose stdin the host writes itself).
    pub fn take(&mut self) -> Vec<u8> {
        self.ready.drain(..).collect()
    }

    /// Whether a read would return at once (bytes, or end-of-file); if not, `waker` is
    /// woken when more is sent.
    pub fn readable(&mut self, waker: &Waker) -> bool {
        if !self.ready.is_empty() || (self.closes && self.queued.is_empty()) {
            return true;
        }
        self.reader = Some(waker.clone());
        false
    }

    /// Up to `room` bytes now; `Some(empty)` is end-of-file, `None` means none yet.
    pub fn try_read(&mut self, room: usize) -> Option<Vec<u8>> {
        if self.ready.is_empty() {
            return (self.closes && self.queued.is_empty()).then(Vec::new);
        }
        let count = room.min(self.ready.len());
        Some(self.ready.drain(..count).collect())
    }

    /// Up to `room` bytes; `Some(empty)` is end-of-file, `None` means wait (`waker` is
    /// woken when more is sent).
    pub fn read(&mut self, room: usize, waker: &Waker) -> Option<Vec<u8>> {
        let read = self.try_read(room);
        if read.is_none() {
            self.reader = Some(waker.clone());
        }
        read
    }
}
