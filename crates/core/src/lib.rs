//! The pure heart of checkpass: what a pass is, how it is signed and encoded, which issuers are
//! trusted, and the verdict a checkpoint reaches. No I/O, no clock (time is always a parameter),
//! no printing: the issuer, verifier and server crates do those.
//!
//! # Layout
//! - [`division`]: GB/T 2260 administrative division codes and zone coverage.
//! - [`model`]: the pass payload, its enums and field limits.
//! - [`keys`]: key ids, public keys, secret keys (feature `sign`), PEM and `.pub` files.
//! - [`envelope`]: the signed binary envelope (format v2; v1 still read) and its text form.
//! - [`rice`]: Golomb-Rice coding of sorted serial sets.
//! - [`revocation`]: revocation state, signed snapshots and deltas.
//! - [`authority`]: documents signed by the authority key (revocations, trust lists).
//! - [`authorities`]: the root's signed list of authorities (nationwide recognition).
//! - [`trust`]: the trust list (TOML) naming trusted issuers.
//! - [`verdict`]: reason codes and the checkpoint's decision.
//! - [`time`]: parsing and formatting instants in a time zone (Asia/Shanghai by default).
//! - [`view`]: the JSON view of a pass shared by every tool's `--json` output.
//! - [`rules`]: when an authority's offered document replaces what a checkpoint or a mirror
//!   holds (one validator for both, clock skew included).
//! - [`api`]: the revocation server's JSON requests and answers, for the server and its clients.
//! - [`audit`]: an issuing office's audit trail head, signed with the office key.
//!
//! The byte layout is documented in `docs/FORMAT.md` with golden vectors under `tests/vectors/`.

pub mod api;
pub mod audit;
pub mod authorities;
pub mod authority;
pub mod division;
pub mod envelope;
pub mod keys;
pub mod model;
pub mod revocation;
pub mod rice;
pub mod rules;
pub mod time;
pub mod trust;
pub mod verdict;
pub mod view;

pub use division::Division;

/// Whether this build carries the signing code (the `sign` feature). A checkpoint's
/// `pass-verifier` must not: it says which it is in `--version`.
pub const SIGNING: bool = cfg!(feature = "sign");

/// An error and its causes on one line (`a: b: c`), skipping a cause whose text the line
/// already holds (many errors repeat their source in their own message). For the binaries'
/// one-line messages on stderr.
pub fn one_line_error(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line = format!("{line}: {text}");
        }
        source = cause.source();
    }
    // Errors carry file names, server answers and trust-list names: never terminal controls.
    view::printable(&line).into_owned()
}

/// Whether an error was caused by a closed pipe (`| head`): not an error for a command line.
pub fn is_broken_pipe(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) {
            return true;
        }
        current = e.source();
    }
    false
}
pub use envelope::{Envelope, EnvelopeError};
#[cfg(feature = "sign")]
pub use keys::SecretKey;
pub use keys::{KeyId, PublicKey};
pub use model::{Pass, PassKind, VehicleType};
pub use trust::TrustList;
pub use verdict::{Checkpoint, Freshness, Reason, Verdict, Warning};
