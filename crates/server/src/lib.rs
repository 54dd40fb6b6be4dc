//! The checkpass revocation and trust-list server: issuing offices post revocations, the
//! authority revokes keys, and every checkpoint fetches small signed snapshots and deltas.
//!
//! # Layout
//! - [`store`]: the SQLite database (revocations, versions, tokens, the signed snapshot).
//! - [`publish`]: the served snapshot, deltas and their caches.
//! - [`app`]: routes, authentication, errors, metrics, limits.
//! - [`limits`]: connections per address and in all, and the write deadline of a response.
//!
//! [`app::app`] builds the router so tests can call it in-process; [`run`] serves it on a
//! listener until a shutdown future completes.

pub mod app;
pub mod limits;
pub mod mirror;
pub mod publish;
pub mod store;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

/// How long in-flight requests may take to finish after shutdown is requested.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection may take to send a request's headers, and may stay idle between
/// requests: idle and half-sent connections are closed after it, so they cannot pile up
/// until the server runs out of file descriptors.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);

/// Queue of connections the kernel completes before they are accepted (capped by
/// `net.core.somaxconn`). Tokio's default of 1,024 overflowed when a thousand checkpoints
/// connected at once: the dropped handshakes were retried by the clients a second later
/// (`scripts/load-test.sh`).
pub const LISTEN_BACKLOG: u32 = 4_096;

/// Binds a listening socket with [`LISTEN_BACKLOG`].
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves `state` on `listener` until `shutdown` completes, then drains for at most
/// [`DRAIN_TIMEOUT`]. Each connection is HTTP/1.1 with [`HEADER_READ_TIMEOUT`] and
/// [`limits::WRITE_DEADLINE`] for each response; an address (or the server) at its connection
/// limit has further connections closed at once; when accepting fails (out of file
/// descriptors), the error is logged and accepting resumes shortly after.
pub async fn run(
    listener: TcpListener,
    state: Arc<app::AppState>,
    limits: limits::Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    // The heartbeat is re-signed on a timer (and with every new version, by the commit).
    let beating = Arc::clone(&state);
    let heartbeat = tokio::spawn(async move {
        let mut every = tokio::time::interval(app::HEARTBEAT_EVERY);
        every.tick().await;
        loop {
            every.tick().await;
            let state = Arc::clone(&beating);
            let _ = tokio::task::spawn_blocking(move || state.refresh_beat()).await;
        }
    });
    let router = app::app(state);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut fd_warned = false;
    let tracker = limits::Tracker::new(limits);
    let mut refused_since_warning = 0u64;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    fd_warned = false;
                    let Some(slot) = tracker.admit(peer.ip()) else {
                        // Closed at once: the client sees a reset, the server keeps its room.
                        if refused_since_warning == 0 {
                            tracing::warn!(address = %peer.ip(), "connection limit reached: closing new connections");
                        }
                        refused_since_warning = (refused_since_warning + 1) % 1000;
                        continue;
                    };
                    let service = TowerToHyperService::new(router.clone());
                    let stream = limits::WriteDeadline::new(stream, limits.write_deadline);
                    let connection = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_READ_TIMEOUT)
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service);
                    let watched = graceful.watch(connection);
                    tokio::spawn(async move {
                        let _ = watched.await;
                        drop(slot);
                    });
                }
                Err(e) => {
                    // EMFILE/ENFILE: say so once per episode, and give closing connections a
                    // moment instead of spinning on accept.
                    if !fd_warned {
                        tracing::error!(error = %e, "cannot accept connections (out of file descriptors?)");
                        fd_warned = true;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!("drain timeout: closing remaining connections"),
    }
    heartbeat.abort();
    Ok(())
}
