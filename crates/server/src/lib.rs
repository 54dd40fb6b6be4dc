//! The checkpass revocation and trust-list server: issuing offices post revocations, the
//! authority revokes keys, and every checkpoint fetches small signed snapshots and deltas.
//!
//! # Layout
//! - [`store`]: the SQLite database (revocations, versions, tokens, the signed snapshot).
//! - [`publish`]: the served snapshot, deltas and their caches.
//! - [`app`]: routes, authentication, errors, metrics.
//! - [`mirror`]: copying every listed authority's documents, checked, into a static layout.
//! - [`backup`]: backups of the database, and restores that take back every revocation a
//!   published snapshot shows.
//!
//! Connections are served by `pass-http` (limits, timeouts, drain), as the console and the
//! station are.
//!
//! [`app::app`] builds the router so tests can call it in-process; [`run`] serves it on a
//! listener until a shutdown future completes.

pub mod app;
pub mod backup;
pub mod mirror;
pub mod publish;
pub mod store;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

/// Serves `state` on `listener` until `shutdown` completes, through [`pass_http::serve`]
/// (header-read timeout, connections per address and in all, a write deadline per response,
/// a bounded drain), re-signing the heartbeat on a timer meanwhile.
pub async fn run(
    listener: TcpListener,
    state: Arc<app::AppState>,
    options: pass_http::Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
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
    let served = pass_http::serve(listener, app::app(state), options, shutdown).await;
    heartbeat.abort();
    served
}
