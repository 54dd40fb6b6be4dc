//! The one way checkpass serves HTTP: the revocation server, the checkpoint's station and the
//! office console all go through [`serve`], so each gets the same defences against clients
//! that hold connections open:
//!
//! - a **header-read timeout**: a connection that does not send a whole request head within
//!   it (a slowloris sending one header line every few seconds, or nothing) is closed, and an
//!   idle keep-alive connection likewise;
//! - **connections per address and in all** ([`limits::Tracker`]): one client cannot take the
//!   file descriptors everyone else needs;
//! - a **write deadline** per response ([`limits::WriteDeadline`]): a client that does not
//!   read is cut off;
//! - a **graceful drain** at shutdown, bounded in time;
//! - any transport: plain TCP, or the console's TLS, through [`Accept`].
//!
//! Handlers see the peer's address as axum's `ConnectInfo<SocketAddr>`. The limits and the
//! write deadline are in [`limits`]; [`latency`] is the request-duration histogram both
//! `/metrics` pages report.

pub mod latency;
pub mod limits;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

/// Queue of connections the kernel completes before they are accepted (capped by
/// `net.core.somaxconn`). Tokio's default of 1,024 overflowed when a thousand checkpoints
/// connected at once: the dropped handshakes were retried by the clients a second later
/// (`scripts/load-test.sh`).
pub const LISTEN_BACKLOG: u32 = 4_096;

/// Binds a listening socket with [`LISTEN_BACKLOG`].
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// A source of connections: a TCP listener, or one whose connections have finished a TLS
/// handshake.
pub trait Accept: Send + 'static {
    /// A connection.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The next connection and its peer's address. An error (out of file descriptors) is
    /// logged and accepting resumes shortly after.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Io, SocketAddr)>> + Send;
}

impl Accept for TcpListener {
    type Io = tokio::net::TcpStream;

    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        TcpListener::accept(self).await
    }
}

/// How [`serve`] treats connections.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// How long a connection may take to send a request's head, and may stay idle between
    /// requests.
    pub header_read_timeout: Duration,
    /// Connections per address and in all, and the write deadline of a response.
    pub limits: limits::Limits,
    /// How long in-flight requests may take to finish after shutdown is asked for.
    pub drain: Duration,
}

/// The default header-read timeout: 15 s.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);
/// The default drain: 10 s.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

impl Options {
    /// [`HEADER_READ_TIMEOUT`], [`DRAIN_TIMEOUT`], and `per_address` connections per address.
    pub fn new(per_address: usize) -> Options {
        Options {
            header_read_timeout: HEADER_READ_TIMEOUT,
            limits: limits::Limits::new(per_address),
            drain: DRAIN_TIMEOUT,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then drains for at most
/// `options.drain`. Each connection is HTTP/1.1 (upgrades, such as a WebSocket, allowed) with
/// the options' header-read timeout and write deadline; an address (or the server) at its
/// connection limit has further connections closed at once.
pub async fn serve<L: Accept>(
    mut listener: L,
    router: axum::Router,
    options: Options,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    // Shutdown: `stop` tells every connection to finish its request and close; each holds a
    // clone of `alive`, so `done` ends when the last one has.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (alive, mut done) = tokio::sync::mpsc::channel::<()>(1);
    let mut shutdown = std::pin::pin!(shutdown);
    let tracker = limits::Tracker::new(options.limits);
    let (mut fd_warned, mut refused_since_warning) = (false, 0u64);
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
                    let service = tower::ServiceExt::map_request(
                        router.clone(),
                        move |mut request: axum::extract::Request<hyper::body::Incoming>| {
                            request.extensions_mut().insert(ConnectInfo(peer));
                            request
                        },
                    );
                    let stream = limits::WriteDeadline::new(stream, options.limits.write_deadline);
                    let connection = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(options.header_read_timeout)
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                        .with_upgrades();
                    let (mut stopped, alive) = (stopped.clone(), alive.clone());
                    tokio::spawn(async move {
                        let mut connection = std::pin::pin!(connection);
                        tokio::select! {
                            _ = connection.as_mut() => {}
                            _ = async { stopped.wait_for(|stop| *stop).await.map(|_| ()) } => {
                                connection.as_mut().graceful_shutdown();
                                let _ = connection.await;
                            }
                        }
                        drop((slot, alive));
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
    drop((listener, alive));
    let _ = stop.send(true);
    tokio::select! {
        _ = done.recv() => {}
        () = tokio::time::sleep(options.drain) => tracing::warn!("drain timeout: closing remaining connections"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    async fn start(options: Options) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("address");
        let router = axum::Router::new().route(
            "/",
            axum::routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, router, options, async move {
            let _ = stopped.await;
        }));
        (addr, stop)
    }

    /// Reads until the server closes the connection (or `limit` passes): when it closed.
    async fn closed_within(stream: &mut tokio::net::TcpStream, limit: Duration) -> Option<Duration> {
        let started = Instant::now();
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout(limit.saturating_sub(started.elapsed()), stream.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
                Ok(Ok(_)) => {}
                Err(_) => return None,
            }
        }
    }

    #[tokio::test]
    async fn a_request_is_served_with_the_peers_address() {
        let (addr, stop) = start(Options::new(4)).await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connects");
        stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.expect("writes");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("reads");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("127.0.0.1"), "{answer}");
        drop(stop);
    }

    /// A slowloris client sending one header line at a time, never finishing the head, is
    /// closed at the header-read timeout, however steadily it trickles.
    #[tokio::test]
    async fn a_slowloris_connection_is_closed_at_the_header_read_timeout() {
        let options = Options { header_read_timeout: Duration::from_secs(2), ..Options::new(4) };
        let (addr, stop) = start(options).await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connects");
        stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.expect("writes");
        let trickle = async {
            for _ in 0..20 {
                tokio::time::sleep(Duration::from_millis(400)).await;
                if stream.write_all(b"X-Slow: 1\r\n").await.is_err() {
                    return Instant::now();
                }
            }
            Instant::now()
        };
        let started = Instant::now();
        let ended = trickle.await;
        assert!(ended - started < Duration::from_secs(5), "still open after {:?}", ended - started);
        drop(stop);
    }

    /// One address at its limit has further connections closed at once; another address (and
    /// the first, once a place is free) is still served.
    #[tokio::test]
    async fn an_address_at_its_limit_is_refused_at_once() {
        let (addr, stop) = start(Options::new(2)).await;
        let mut held = Vec::new();
        for _ in 0..2 {
            held.push(tokio::net::TcpStream::connect(addr).await.expect("connects"));
        }
        let mut third = tokio::net::TcpStream::connect(addr).await.expect("the kernel accepts");
        let closed = closed_within(&mut third, Duration::from_secs(5)).await;
        assert!(closed.is_some_and(|t| t < Duration::from_secs(2)), "{closed:?}");
        drop(held.pop());
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut again = tokio::net::TcpStream::connect(addr).await.expect("connects");
        again.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.expect("writes");
        let mut answer = String::new();
        again.read_to_string(&mut answer).await.expect("reads");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        drop(stop);
    }

    /// At shutdown, a request in flight finishes and `serve` returns.
    #[tokio::test]
    async fn shutdown_drains_and_returns() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("address");
        let router = axum::Router::new().route(
            "/",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "done"
            }),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(serve(listener, router, Options::new(4), async move {
            let _ = stopped.await;
        }));
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connects");
        stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("writes");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = stop.send(());
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("reads");
        assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("done"), "{answer}");
        let result = tokio::time::timeout(Duration::from_secs(5), served).await;
        assert!(matches!(result, Ok(Ok(Ok(())))), "serve returned after the drain");
    }

    /// S-2: 600 slow connections from one address do not lock out another address: the first
    /// address is held to its limit, the other is served at once.
    #[tokio::test]
    async fn six_hundred_slow_connections_from_one_address_lock_out_nobody_else() {
        let options = Options { header_read_timeout: Duration::from_secs(30), ..Options::new(64) };
        let (addr, stop) = start(options).await;
        let mut slow = Vec::new();
        for _ in 0..600 {
            if let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await {
                let _ = stream.write_all(b"GET / HTTP/1.1\r\n").await;
                slow.push(stream);
            }
        }
        // Another client on another loopback address (all of 127/8 is this machine).
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind("127.0.0.2:0".parse().expect("address")).expect("binds 127.0.0.2");
        let mut other = socket.connect(addr).await.expect("connects");
        other.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.expect("writes");
        let mut answer = String::new();
        tokio::time::timeout(Duration::from_secs(5), other.read_to_string(&mut answer))
            .await
            .expect("answered in time")
            .expect("reads");
        assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("127.0.0.2"), "{answer}");
        drop((slow, stop));
    }
}
