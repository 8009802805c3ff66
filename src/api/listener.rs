//! The HTTP server's connections, bounded so that no client can take the server down.
//!
//! The review held a connection forever with half a request header, and used up the
//! process's file descriptors with 20,000 idle connections until `/healthz` stopped
//! answering. Here:
//! - a request's header must arrive within `--header-timeout-secs` (hyper's header-read
//!   timeout, which also bounds how long a kept-alive connection waits idle for its next
//!   request);
//! - open connections are capped in total and per client address; past either cap a new
//!   connection gets a fast `503` (`Retry-After: 1`) and is closed, so the connections
//!   already open, `/healthz` included, keep answering;
//! - the descriptor limit is raised to its hard limit at start, and the total cap keeps a
//!   reserve below it for the database, the runtimes' files and the Docker socket;
//! - a request's body must arrive in full within `--body-timeout-secs` of its header
//!   (the second review filled the connection cap with bodies dripped a byte at a time,
//!   which the header timeout does not cover); past it the request fails and its
//!   connection is closed.

use axum::Router;
use axum::body::{Body, Bytes};
use http_body::Frame;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// Descriptors kept for everything but client connections.
const RESERVE: u64 = 256;
/// Refusals answered at once (each holds its connection for up to half a second).
const REFUSALS: usize = 64;

/// The caps, once the descriptor limit is known.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub total: usize,
    pub per_client: usize,
    pub header_timeout: Duration,
    /// From the header's arrival, the time the whole body has to arrive.
    pub body_timeout: Duration,
}

/// A request body that fails once its deadline passes, however slowly it trickles in.
struct Deadline<B> {
    inner: B,
    sleep: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
}

impl<B> Deadline<B> {
    fn new(inner: B, limit: Duration) -> Deadline<B> {
        Deadline {
            inner,
            sleep: Box::pin(tokio::time::sleep(limit)),
            limit,
        }
    }
}

/// Why a body read failed: it did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
struct BodyTimedOut(Duration);

impl<B> http_body::Body for Deadline<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyTimedOut(self.limit).into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl ConnectionLimits {
    /// The configured caps, with the total kept `RESERVE` (or a quarter) below the
    /// descriptor limit, which is raised to its hard limit first where the system allows.
    pub fn new(
        total: usize,
        per_client: usize,
        header_timeout: Duration,
        body_timeout: Duration,
    ) -> ConnectionLimits {
        let descriptors = raise_descriptor_limit();
        let reserve = RESERVE.max(descriptors / 4);
        let room = descriptors.saturating_sub(reserve).max(1) as usize;
        ConnectionLimits {
            total: total.min(room).max(1),
            per_client: per_client.max(1),
            header_timeout,
            body_timeout,
        }
    }
}

/// Raises the soft descriptor limit to the hard one; the limit in force.
pub fn raise_descriptor_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::warn!(%error, "cannot raise the descriptor limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    }
}

/// Open connections, in total and by client address.
#[derive(Default)]
struct Open {
    total: usize,
    by_client: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping it frees its place.
struct Admitted {
    open: Arc<Mutex<Open>>,
    client: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.open.lock().expect("connections");
        open.total -= 1;
        if let Some(count) = open.by_client.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                open.by_client.remove(&self.client);
            }
        }
    }
}

fn admit(open: &Arc<Mutex<Open>>, limits: &ConnectionLimits, peer: SocketAddr) -> Option<Admitted> {
    let mut state = open.lock().expect("connections");
    let mine = state.by_client.get(&peer.ip()).copied().unwrap_or(0);
    if state.total >= limits.total || mine >= limits.per_client {
        return None;
    }
    state.total += 1;
    *state.by_client.entry(peer.ip()).or_default() += 1;
    Some(Admitted {
        open: open.clone(),
        client: peer.ip(),
    })
}

/// The answer past a cap: to the request's header if it comes at once (a client that
/// reads an answer only after sending its request), then the connection is closed.
async fn refuse(mut stream: TcpStream) {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        while head.len() < 16 * 1024 && !head.windows(4).any(|window| window == b"\r\n\r\n") {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(count) => head.extend_from_slice(&chunk[..count]),
            }
        }
    })
    .await;
    let body = r#"{"error":{"code":"too_many_connections","message":"the server has too many open connections; retry in a moment"}}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let write = async {
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
    };
    let _ = tokio::time::timeout(Duration::from_millis(500), write).await;
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets open requests end.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let open = Arc::new(Mutex::new(Open::default()));
    // Refusals hold a descriptor for a moment each: past these, a connection is closed
    // without an answer.
    let refusals = Arc::new(tokio::sync::Semaphore::new(REFUSALS));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors, or a connection reset before it was accepted:
                    // back off a moment rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(admitted) = admit(&open, &limits, peer) else {
            metrics::counter!("verdict_connections_refused_total").increment(1);
            if let Ok(permit) = refusals.clone().try_acquire_owned() {
                tokio::spawn(async move {
                    refuse(stream).await;
                    drop(permit);
                });
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let body_timeout = limits.body_timeout;
        let service =
            hyper_util::service::TowerToHyperService::new(tower::ServiceExt::map_request(
                router.clone(),
                move |request: hyper::Request<hyper::body::Incoming>| {
                    request.map(|body| Body::new(Deadline::new(body, body_timeout)))
                },
            ));
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(admitted);
        });
    }
    drop(listener);
    // Requests in flight finish (a long poll is cut short by its own timeout).
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
}
