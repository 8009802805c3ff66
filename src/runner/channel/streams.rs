//! The WASI streams of a harness run: the guests' stdin (fed from the tracker's inboxes)
//! and their stdout and stderr (fed into the tracker), and the shared handle that wakes
//! the deadline waiter when a frame moves the deadline.

use super::{Side, Tracker};
use bytes::Bytes;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Instant;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{InputStream, OutputStream, Pollable, StreamError, StreamResult};

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
    /// moved the phase; `Err` once the output cap is passed.
    pub fn write(&self, side: Side, stderr: bool, bytes: &[u8]) -> Result<(), ()> {
        let (result, moved) = {
            let mut tracker = self.lock();
            let before = tracker.deadline;
            let result = tracker.write(side, stderr, bytes);
            (result, tracker.deadline != before)
        };
        if moved {
            self.0.deadline_moved.notify_waiters();
        }
        result
    }

    /// The stdin of `side`'s guest, fed from its inbox.
    pub fn input(&self, side: Side) -> GuestInput {
        GuestInput {
            shared: self.clone(),
            side,
        }
    }

    /// A stdout (or stderr) stream of `side`'s guest, for its WASI context.
    pub fn stream(&self, side: Side, stderr: bool) -> GuestStream {
        GuestStream {
            shared: self.clone(),
            side,
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

/// A guest's stdin: what its inbox has released so far; a read waits for more, and
/// ends (end-of-file) once the inbox has nothing left to send.
pub struct GuestInput {
    shared: Shared,
    side: Side,
}

impl tokio::io::AsyncRead for GuestInput {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let mut tracker = self.shared.lock();
        match tracker.inbox(self.side).read(buf.remaining(), cx.waker()) {
            Some(bytes) => {
                buf.put_slice(&bytes);
                Poll::Ready(Ok(()))
            }
            None => Poll::Pending,
        }
    }
}

impl IsTerminal for GuestInput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdinStream for GuestInput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncRead + Send + Sync> {
        Box::new(self.shared.input(self.side))
    }

    /// Read straight from the inbox. The default adapter runs a reader task per stream,
    /// so each case's input (released when the case before ends) crossed two task
    /// hand-offs before the guest saw it.
    fn p2_stream(&self) -> Box<dyn InputStream> {
        Box::new(self.shared.input(self.side))
    }
}

impl InputStream for GuestInput {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        let mut tracker = self.shared.lock();
        match tracker.inbox(self.side).try_read(size) {
            Some(bytes) if bytes.is_empty() && size > 0 => Err(StreamError::Closed),
            Some(bytes) => Ok(Bytes::from(bytes)),
            None => Ok(Bytes::new()),
        }
    }
}

#[async_trait::async_trait]
impl Pollable for GuestInput {
    /// Ready once the inbox holds bytes or has nothing more to send.
    async fn ready(&mut self) {
        std::future::poll_fn(|cx| {
            let mut tracker = self.shared.lock();
            match tracker.inbox(self.side).readable(cx.waker()) {
                true => Poll::Ready(()),
                false => Poll::Pending,
            }
        })
        .await
    }
}

/// A guest's stdout or stderr.
pub struct GuestStream {
    shared: Shared,
    side: Side,
    stderr: bool,
}

impl GuestStream {
    fn accept(&self, bytes: &[u8]) -> Result<(), StreamError> {
        self.shared
            .write(self.side, self.stderr, bytes)
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
        Box::new(self.shared.stream(self.side, self.stderr))
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.shared.stream(self.side, self.stderr))
    }
}
