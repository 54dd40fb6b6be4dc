//! The checkpass revocation and trust-list server: issuing offices post revocations, the
//! authority revokes keys, and every checkpoint fetches small signed snapshots and deltas.
//!
//! # Layout
//! - [`store`]: the SQLite database (revocations, versions, tokens, the signed snapshot).
//! - [`publish`]: the served snapshot, deltas and their caches.
//! - [`app`]: routes, authentication, errors, metrics, limits.
//!
//! [`app::app`] builds the router so tests can call it in-process; [`run`] serves it on a
//! listener until a shutdown future completes.

pub mod app;
pub mod publish;
pub mod store;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

/// How long in-flight requests may take to finish after shutdown is requested.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `state` on `listener` until `shutdown` completes, then drains for at most
/// [`DRAIN_TIMEOUT`].
pub async fn run(
    listener: TcpListener,
    state: Arc<app::AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
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
    let server = axum::serve(listener, app::app(state)).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = tx.send(());
    });
    let drain = async move {
        let _ = rx.await;
        tokio::time::sleep(DRAIN_TIMEOUT).await;
    };
    let result = tokio::select! {
        result = server => result,
        () = drain => {
            tracing::warn!("drain timeout: closing remaining connections");
            Ok(())
        }
    };
    heartbeat.abort();
    result
}
