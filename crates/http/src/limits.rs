//! What one client may hold of the server: connections per address and in all, and how long a
//! response may take to be read. A client that reads a snapshot at a few bytes a second, or
//! opens connection after connection, must not take the file descriptors every checkpoint's
//! sync and `/healthz` need.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// How long the server may take to write one response (from its first byte to its flush):
/// a 300 KB snapshot over a link of 10 KB/s. A client reading slower is cut off.
pub const WRITE_DEADLINE: Duration = Duration::from_secs(30);
/// Connections one address may hold at once by default (`--max-connections-per-address`):
/// checkpoints sync on one connection each, every few minutes; a proxy in front, or a load
/// test from one machine, needs more.
pub const DEFAULT_PER_ADDRESS: usize = 64;
/// File descriptors kept back from connections for the database, the listener and logs.
const RESERVED_FDS: usize = 64;

/// The limits [`crate::serve`] applies to connections.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections one address may hold at once; more are closed as soon as accepted.
    pub per_address: usize,
    /// Connections in all (below the process's file descriptor limit).
    pub total: usize,
    /// See [`WRITE_DEADLINE`].
    pub write_deadline: Duration,
}

impl Limits {
    /// `per_address` per address, and in all as many as the open-files limit leaves room for.
    pub fn new(per_address: usize) -> Limits {
        let total = open_files_limit().map_or(4096, |n| n.saturating_sub(RESERVED_FDS).max(8));
        Limits { per_address, total, write_deadline: WRITE_DEADLINE }
    }
}

/// The soft limit on open files, from `/proc/self/limits` (Linux); `None` elsewhere.
fn open_files_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?; // tidy: allow-fs (a kernel file, not input)
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

/// Connections held, by address and in all.
#[derive(Debug)]
pub struct Tracker {
    limits: Limits,
    held: Mutex<(HashMap<IpAddr, usize>, usize)>,
}

/// One connection counted by a [`Tracker`]; dropping it frees its place.
#[derive(Debug)]
pub struct Slot {
    tracker: Arc<Tracker>,
    address: IpAddr,
}

impl Tracker {
    /// A tracker applying `limits`.
    pub fn new(limits: Limits) -> Arc<Tracker> {
        Arc::new(Tracker { limits, held: Mutex::new((HashMap::new(), 0)) })
    }

    /// A place for a connection from `address`, or `None` when that address or the server
    /// is at its limit.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Option<Slot> {
        // An IPv4 client of a dual-stack socket is the same client as over IPv4.
        let address = address.to_canonical();
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let (by_address, total) = &mut *held;
        let mine = by_address.entry(address).or_insert(0);
        if *mine >= self.limits.per_address || *total >= self.limits.total {
            if *mine == 0 {
                by_address.remove(&address);
            }
            return None;
        }
        *mine += 1;
        *total += 1;
        Some(Slot { tracker: Arc::clone(self), address })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.tracker.held.lock().unwrap_or_else(|p| p.into_inner());
        let (by_address, total) = &mut *held;
        *total = total.saturating_sub(1);
        if let Some(n) = by_address.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                by_address.remove(&self.address);
            }
        }
    }
}

/// A connection whose every response must be written within a deadline: the clock starts at
/// the first write after the last completed flush (a response's first byte) and stops at the
/// next completed flush (hyper flushes once a response is out). While a write waits for a
/// client that does not read, a timer wakes the connection at the deadline, which then fails
/// with `TimedOut` and is closed.
pub struct WriteDeadline<S> {
    inner: S,
    limit: Duration,
    since: Option<Instant>,
    timer: Pin<Box<Sleep>>,
}

impl<S> WriteDeadline<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, limit: Duration) -> Self {
        WriteDeadline { inner, limit, since: None, timer: Box::pin(tokio::time::sleep(limit)) }
    }

    /// Passes `poll` through, unless the response has been pending past its deadline.
    fn guard<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        let deadline = *self.since.get_or_insert_with(Instant::now) + self.limit;
        match poll {
            Poll::Pending => {
                if self.timer.deadline() != deadline {
                    self.timer.as_mut().reset(deadline);
                }
                match self.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client did not read the response in time",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
            ready if Instant::now() > deadline => {
                drop(ready);
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client did not read the response in time",
                )))
            }
            ready => ready,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.guard(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.guard(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.since.is_none() {
            return Pin::new(&mut self.inner).poll_flush(cx);
        }
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        let poll = self.guard(cx, poll);
        if matches!(poll, Poll::Ready(Ok(()))) {
            // The response is out: the next one starts its own clock.
            self.since = None;
        }
        poll
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_per_address_and_in_all() {
        let tracker = Tracker::new(Limits { per_address: 2, total: 3, write_deadline: WRITE_DEADLINE });
        let a: IpAddr = "192.0.2.1".parse().expect("address");
        let b: IpAddr = "192.0.2.2".parse().expect("address");
        let first = tracker.admit(a).expect("one");
        let second = tracker.admit(a).expect("two");
        assert!(tracker.admit(a).is_none(), "a third from the same address");
        // The same client over a dual-stack socket.
        assert!(tracker.admit("::ffff:192.0.2.1".parse().expect("address")).is_none());
        let other = tracker.admit(b).expect("another address");
        assert!(tracker.admit("192.0.2.3".parse().expect("address")).is_none(), "the server is full");
        drop(first);
        assert!(tracker.admit(a).is_some(), "a place freed");
        drop((second, other));
    }

    /// A client that never reads: the response fails at the deadline instead of holding the
    /// connection for ever.
    #[tokio::test(start_paused = true)]
    async fn a_client_that_does_not_read_is_cut_off() {
        use tokio::io::AsyncWriteExt;
        let (client, server) = tokio::io::duplex(1024);
        let mut server = WriteDeadline::new(server, Duration::from_secs(30));
        let started = Instant::now();
        let err = server.write_all(&vec![7u8; 1 << 20]).await.expect_err("cut off");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        drop(client);
    }

    /// A client that reads, however many responses it asks for, is not cut off.
    #[tokio::test(start_paused = true)]
    async fn a_reading_client_is_served() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut client, server) = tokio::io::duplex(1024);
        let mut server = WriteDeadline::new(server, Duration::from_secs(30));
        let reader = tokio::spawn(async move {
            let mut all = Vec::new();
            client.read_to_end(&mut all).await.map(|_| all.len())
        });
        for _ in 0..3 {
            server.write_all(&[1u8; 64 * 1024]).await.expect("written");
            server.flush().await.expect("flushed");
            tokio::time::advance(Duration::from_secs(20)).await;
        }
        server.shutdown().await.expect("shut down");
        drop(server);
        assert_eq!(reader.await.expect("joins").expect("reads"), 3 * 64 * 1024);
    }
}
