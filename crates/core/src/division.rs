//! GB/T 2260 administrative division codes: six digits, `PPCCDD` (province, city, county).
//!
//! A code ending in `0000` names a province and covers every code under it; one ending in `00`
//! names a city (prefecture) and covers its counties: 440000 covers 440100 and 440114,
//! 440100 covers 440114, and every code covers itself.
//!
//! Names come from a bundled table (about 3,400 codes, generated from a public source by
//! `scripts/gen-divisions.py`): [`Division::full_name`] for people, [`parse_place`] for names
//! typed by people. Only codes are signed; names never change the verdict.

mod names;
mod table;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use names::{PlaceError, parse_place, search};

/// A six-digit GB/T 2260 administrative division code, e.g. 440114 (Huadu District, Guangzhou).
///
/// On the wire it is a postcard varint `u32` (3 bytes for every valid code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Division(u32);

/// Why a division code was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DivisionError {
    /// Not exactly six ASCII digits.
    #[error("division code {0:?} is not six digits")]
    NotSixDigits(String),
    /// The province part is outside 11..=82.
    #[error("division code {0:06} has no such province ({1:02})")]
    BadProvince(u32, u32),
    /// A county part without a city part (`PP00DD` with `DD` ≠ 00).
    #[error("division code {0:06} has a county part but no city part")]
    CountyWithoutCity(u32),
}

impl Division {
    /// Checks and wraps a numeric code.
    pub fn new(code: u32) -> Result<Self, DivisionError> {
        if !(100_000..=999_999).contains(&code) {
            return Err(DivisionError::NotSixDigits(code.to_string()));
        }
        let province = code / 10_000;
        let city = code / 100 % 100;
        let county = code % 100;
        if !(11..=82).contains(&province) {
            return Err(DivisionError::BadProvince(code, province));
        }
        if city == 0 && county != 0 {
            return Err(DivisionError::CountyWithoutCity(code));
        }
        Ok(Self(code))
    }

    /// The numeric code.
    pub fn code(self) -> u32 {
        self.0
    }

    /// Whether `self`, as a pass zone, covers the checkpoint code `other`:
    /// equal, or `self` is a province or city that contains `other`.
    pub fn covers(self, other: Division) -> bool {
        if self.0.is_multiple_of(10_000) {
            self.0 / 10_000 == other.0 / 10_000
        } else if self.0.is_multiple_of(100) {
            self.0 / 100 == other.0 / 100
        } else {
            self.0 == other.0
        }
    }

    /// Checks a code that came off the wire (the type's invariant is not enforced by serde).
    pub fn validate(self) -> Result<Self, DivisionError> {
        Self::new(self.0)
    }
}

impl FromStr for Division {
    type Err = DivisionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DivisionError::NotSixDigits(s.to_owned()));
        }
        let code = s.parse().map_err(|_| DivisionError::NotSixDigits(s.to_owned()))?;
        Self::new(code)
    }
}

impl fmt::Display for Division {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Division {
        s.parse().expect("valid code")
    }

    #[test]
    fn coverage_follows_the_hierarchy() {
        assert!(d("440100").covers(d("440114")));
        assert!(d("440000").covers(d("440114")));
        assert!(d("440000").covers(d("440100")));
        assert!(d("310000").covers(d("310115")));
        assert!(d("440114").covers(d("440114")));
        assert!(!d("440114").covers(d("440100")));
        assert!(!d("440100").covers(d("440200")));
        assert!(!d("440000").covers(d("450100")));
        assert!(!d("110101").covers(d("440114")));
    }

    #[test]
    fn bad_codes_are_refused() {
        for bad in ["44011", "4401140", "44O114", "000000", "990000", "440014", "+44011", " 44011"] {
            assert!(bad.parse::<Division>().is_err(), "{bad} accepted");
        }
        assert!(Division::new(1_000_000).is_err());
    }
}
