//! One announcement per presentation of a pass.
//!
//! A pass held in front of the camera for 20 s is one presentation: one verdict on screen, one
//! sound, one log row. It becomes a new presentation when it has been out of view for longer
//! than the grace (a few missed frames while the hand moves do not count), when another code
//! comes into view, or when its verdict changes (revocation data synced meanwhile).

use std::time::{Duration, Instant};

/// How often a presentation's log row is brought up to date while the pass stays in view.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// The presentation on screen.
#[derive(Debug)]
struct Current {
    identity: [u8; 32],
    outcome: String,
    last_seen: Instant,
    frames: u64,
    log_id: Option<i64>,
    flushed: Instant,
}

/// What a frame with a code means.
#[derive(Debug, PartialEq, Eq)]
pub enum Observation {
    /// A new presentation: announce it.
    New,
    /// The presentation on screen continues.
    Same {
        /// Its log row, once written.
        log_id: Option<i64>,
        /// Frames that have shown it so far.
        frames: u64,
        /// Whether its log row is due for an update.
        flush: bool,
    },
}

/// The presentation tracker.
#[derive(Debug)]
pub struct Presence {
    grace: Duration,
    current: Option<Current>,
}

impl Presence {
    /// A tracker with the given grace.
    pub fn new(grace: Duration) -> Presence {
        Presence { grace, current: None }
    }

    /// A frame at `now` showed the code with hash `identity`, whose verdict is `outcome`
    /// (`accepted` or a reason code).
    pub fn observe(&mut self, identity: [u8; 32], outcome: &str, now: Instant) -> Observation {
        if let Some(current) = &mut self.current
            && current.identity == identity
            && current.outcome == outcome
            && now.saturating_duration_since(current.last_seen) <= self.grace
        {
            current.last_seen = now;
            current.frames += 1;
            let flush = now.saturating_duration_since(current.flushed) >= FLUSH_EVERY;
            if flush {
                current.flushed = now;
            }
            return Observation::Same { log_id: current.log_id, frames: current.frames, flush };
        }
        self.current = Some(Current {
            identity,
            outcome: outcome.to_owned(),
            last_seen: now,
            frames: 1,
            log_id: None,
            flushed: now,
        });
        Observation::New
    }

    /// Whether a presentation is still open at `now`: a pass seen within the grace.
    pub fn presenting(&self, now: Instant) -> bool {
        self.current.as_ref().is_some_and(|c| now.saturating_duration_since(c.last_seen) <= self.grace)
    }

    /// The new presentation's log row.
    pub fn logged(&mut self, log_id: i64) {
        if let Some(current) = &mut self.current {
            current.log_id = Some(log_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_announcement_per_presentation() {
        let mut p = Presence::new(Duration::from_secs(2));
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert_eq!(p.observe([1; 32], "accepted", at(0)), Observation::New);
        p.logged(7);
        // 20 s in view, a frame every 40 ms, with gaps of up to 1.5 s (the hand moves).
        let mut ms = 40;
        while ms < 20_000 {
            let seen = p.observe([1; 32], "accepted", at(ms));
            assert!(matches!(seen, Observation::Same { log_id: Some(7), .. }), "at {ms} ms: {seen:?}");
            ms += if ms % 5000 < 40 { 1500 } else { 40 };
        }
        // Out of view for longer than the grace: a new presentation.
        assert_eq!(p.observe([1; 32], "accepted", at(ms + 2500)), Observation::New);
        // Another code: new. The first one back at once: new again.
        assert_eq!(p.observe([2; 32], "accepted", at(ms + 2540)), Observation::New);
        assert_eq!(p.observe([1; 32], "accepted", at(ms + 2580)), Observation::New);
        // The verdict changes while it is in view (revocation data synced): new.
        assert_eq!(p.observe([1; 32], "revoked", at(ms + 2620)), Observation::New);
        assert!(matches!(p.observe([1; 32], "revoked", at(ms + 2660)), Observation::Same { frames: 2, .. }));
    }
}
