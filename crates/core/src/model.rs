//! The pass payload: what a pass says, its enums and the limits every field must respect.
//!
//! Limits are checked when signing and again when verifying ([`Pass::validate`]); they are
//! listed in `docs/FORMAT.md`. Field order and enum discriminants are part of the format
//! (v2, and v1 which differs only in field 7): never reorder them, only append.

use serde::{Deserialize, Serialize};

use crate::division::{Division, DivisionError};

/// Longest plate, in characters (粤A12345 has 7; new-energy plates 8).
pub const MAX_PLATE_CHARS: usize = 12;
/// The largest serial a pass may carry, and a revocation name: no office issues a hundred
/// million passes, and an unbounded serial (2^64 - 1) would make one issuer's coded set of
/// revoked serials many times larger. A pass above it could never be revoked, so checkpoints
/// refuse it (`malformed`).
pub const MAX_SERIAL: u64 = 99_999_999;
/// Shortest plate, in characters.
pub const MIN_PLATE_CHARS: usize = 2;
/// Longest holder organisation name, in characters.
pub const MAX_HOLDER_CHARS: usize = 64;
/// Longest name of one of the crew, in characters.
pub const MAX_NAME_CHARS: usize = 32;
/// Most names on one pass: the driver and two more (司乘人员).
pub const MAX_CREW: usize = 3;
/// Longest cargo description, in characters.
pub const MAX_CARGO_CHARS: usize = 32;
/// Most zones on one pass.
pub const MAX_ZONES: usize = 8;
/// Longest validity window, in seconds (366 days).
pub const MAX_VALIDITY_SECS: u64 = 366 * 24 * 3600;
/// Length of a unified social credit code (统一社会信用代码).
pub const ORG_CODE_LEN: usize = 18;

/// What the pass is for. On the wire: a varint discriminant (0, 1, 2, 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum PassKind {
    /// 重点物资运输: key materials for production (the 2022 pass).
    KeyMaterials,
    /// 生活物资保障: daily necessities.
    DailyNecessities,
    /// 应急保障: emergency services.
    Emergency,
    /// 其他.
    Other,
}

/// The type of vehicle. On the wire: a varint discriminant (0..=5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum VehicleType {
    /// 重型货车.
    HeavyTruck,
    /// 轻型货车.
    LightTruck,
    /// 厢式货车.
    Van,
    /// 小型汽车.
    Car,
    /// 半挂牵引车 (semi-trailer tractor).
    Tractor,
    /// 其他.
    Other,
}

macro_rules! named_enum {
    ($ty:ident, $what:literal, $($variant:ident => $name:literal, $label:literal;)+) => {
        impl $ty {
            /// Every value, in wire order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The stable command-line and JSON name, e.g. `heavy-truck` (parsing also accepts
            /// the Chinese label, as typed in spreadsheets).
            pub fn name(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }

            /// The Chinese label shown on printed passes and verdicts.
            pub fn label(self) -> &'static str {
                match self { $($ty::$variant => $label),+ }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                match s.trim() {
                    $($name | $label => Ok($ty::$variant),)+
                    _ => Err(format!(
                        concat!("unknown ", $what, " {:?}; expected one of: {}"),
                        s,
                        [$($name),+].join(", ")
                    )),
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

named_enum!(PassKind, "pass kind",
    KeyMaterials => "key-materials", "重点物资运输车辆通行证";
    DailyNecessities => "daily-necessities", "生活物资保障车辆通行证";
    Emergency => "emergency", "应急保障车辆通行证";
    Other => "other", "车辆通行证";
);

named_enum!(VehicleType, "vehicle type",
    HeavyTruck => "heavy-truck", "重型货车";
    LightTruck => "light-truck", "轻型货车";
    Van => "van", "厢式货车";
    Car => "car", "小型汽车";
    Tractor => "tractor", "半挂牵引车";
    Other => "other", "其他";
);

/// A pass: the payload the issuer signs. Times are Unix seconds (UTC instants).
///
/// Field order is the postcard wire order of format v2. A format v1 pass (one optional driver
/// in place of the crew) reads as a pass with a crew of none or one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pass {
    /// Unique per issuer key, never reused; at least 1.
    pub serial: u64,
    /// What the pass is for.
    pub kind: PassKind,
    /// Vehicle plate, e.g. 粤A12345.
    pub plate: String,
    /// Vehicle type.
    pub vehicle_type: VehicleType,
    /// Holder organisation (company) name.
    pub holder: String,
    /// Holder's 18-character unified social credit code, when given.
    pub org_code: Option<String>,
    /// The crew (司乘人员): the driver first, then up to two more; names only, never ID numbers
    /// (the QR is readable by anyone). May be empty.
    pub crew: Vec<String>,
    /// Where the trip starts.
    pub origin: Division,
    /// Where the trip ends.
    pub destination: Division,
    /// Zones where the pass is valid (a zone covers the codes under it).
    pub zones: Vec<Division>,
    /// Cargo category, e.g. 汽车零部件.
    pub cargo: String,
    /// First valid instant (inclusive), Unix seconds.
    pub valid_from: u64,
    /// Last valid instant (inclusive), Unix seconds.
    pub valid_until: u64,
    /// When the pass was signed, Unix seconds.
    pub issued_at: u64,
    /// Serial of the pass this one replaces, when it is a reissue.
    pub supersedes: Option<u64>,
}

/// A pass in format v1: the same fields, with one optional driver where v2 has the crew.
/// Only read (a checkpoint accepts v1 passes for as long as they are valid); never signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassV1 {
    /// See [`Pass`].
    pub serial: u64,
    /// See [`Pass`].
    pub kind: PassKind,
    /// See [`Pass`].
    pub plate: String,
    /// See [`Pass`].
    pub vehicle_type: VehicleType,
    /// See [`Pass`].
    pub holder: String,
    /// See [`Pass`].
    pub org_code: Option<String>,
    /// The driver, when given.
    pub driver: Option<String>,
    /// See [`Pass`].
    pub origin: Division,
    /// See [`Pass`].
    pub destination: Division,
    /// See [`Pass`].
    pub zones: Vec<Division>,
    /// See [`Pass`].
    pub cargo: String,
    /// See [`Pass`].
    pub valid_from: u64,
    /// See [`Pass`].
    pub valid_until: u64,
    /// See [`Pass`].
    pub issued_at: u64,
    /// See [`Pass`].
    pub supersedes: Option<u64>,
}

impl From<PassV1> for Pass {
    fn from(v1: PassV1) -> Pass {
        Pass {
            serial: v1.serial,
            kind: v1.kind,
            plate: v1.plate,
            vehicle_type: v1.vehicle_type,
            holder: v1.holder,
            org_code: v1.org_code,
            crew: v1.driver.into_iter().collect(),
            origin: v1.origin,
            destination: v1.destination,
            zones: v1.zones,
            cargo: v1.cargo,
            valid_from: v1.valid_from,
            valid_until: v1.valid_until,
            issued_at: v1.issued_at,
            supersedes: v1.supersedes,
        }
    }
}

/// The pass number officers read out over the phone: the issuing office's six-digit division
/// code (from its trust-list entry) and the serial zero-padded to six digits, 440114000195. A
/// serial above 999,999 makes it longer (4401141000000); an office without a division has
/// the bare serial.
pub fn pass_number(division: Option<Division>, serial: u64) -> String {
    match division {
        Some(division) => format!("{division}{serial:06}"),
        None => serial.to_string(),
    }
}

/// A field that breaks the limits of the format.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// Serial 0 is reserved, and no serial is above [`MAX_SERIAL`].
    #[error("serial {0} is outside 1 to {MAX_SERIAL}")]
    Serial(u64),
    /// A text field is empty, too long, or has characters it must not have.
    #[error("{field}: {problem}")]
    Text {
        /// Which field.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// A division code is invalid.
    #[error("{field}: {source}")]
    Division {
        /// Which field.
        field: &'static str,
        /// Why the code is invalid.
        source: DivisionError,
    },
    /// No zones, too many zones, or a zone listed twice.
    #[error("zones: {0}")]
    Zones(String),
    /// The validity window is empty, reversed or too long.
    #[error("validity: {0}")]
    Validity(String),
    /// The unified social credit code is malformed or its check character is wrong.
    #[error("org_code: {0}")]
    OrgCode(String),
    /// A pass cannot supersede itself.
    #[error("supersedes: a pass cannot supersede its own serial")]
    SupersedesItself,
}

impl Pass {
    /// The realistic pass of the brief, for tests, benches and documentation: 粤A12345, heavy
    /// truck, 东风日产乘用车公司花都工厂, driver 张三, 440114 → 310115, zones 440114 310000 320500,
    /// 汽车零部件, valid 2022-04-01 to 2022-04-30 (Asia/Shanghai), issued 2022-03-31 09:30, serial 1.
    pub fn realistic_example() -> Self {
        let d = |code| Division::new(code).unwrap_or_else(|_| unreachable!("valid constant"));
        Pass {
            serial: 1,
            kind: PassKind::KeyMaterials,
            plate: "粤A12345".into(),
            vehicle_type: VehicleType::HeavyTruck,
            holder: "东风日产乘用车公司花都工厂".into(),
            org_code: None,
            crew: vec!["张三".into()],
            origin: d(440_114),
            destination: d(310_115),
            zones: vec![d(440_114), d(310_000), d(320_500)],
            cargo: "汽车零部件".into(),
            valid_from: 1_648_742_400,
            valid_until: 1_651_334_399,
            issued_at: 1_648_690_200,
            supersedes: None,
        }
    }

    /// The driver: the first of the crew.
    pub fn driver(&self) -> Option<&str> {
        self.crew.first().map(String::as_str)
    }

    /// Checks every field against the limits of the format.
    pub fn validate(&self) -> Result<(), FieldError> {
        if !(1..=MAX_SERIAL).contains(&self.serial) {
            return Err(FieldError::Serial(self.serial));
        }
        check_plate(&self.plate)?;
        check_text("holder", &self.holder, MAX_HOLDER_CHARS)?;
        if let Some(code) = &self.org_code {
            check_org_code(code)?;
        }
        if self.crew.len() > MAX_CREW {
            return Err(FieldError::Text {
                field: "crew",
                problem: format!(
                    "{} names; a pass names at most {MAX_CREW} (the driver and two more)",
                    self.crew.len()
                ),
            });
        }
        for name in &self.crew {
            check_text("crew", name, MAX_NAME_CHARS)?;
        }
        check_text("cargo", &self.cargo, MAX_CARGO_CHARS)?;
        self.origin.validate().map_err(|source| FieldError::Division { field: "origin", source })?;
        self.destination.validate().map_err(|source| FieldError::Division { field: "destination", source })?;
        if self.zones.is_empty() || self.zones.len() > MAX_ZONES {
            return Err(FieldError::Zones(format!("{} zones given; a pass has 1 to {MAX_ZONES}", self.zones.len())));
        }
        for (i, zone) in self.zones.iter().enumerate() {
            zone.validate().map_err(|source| FieldError::Division { field: "zones", source })?;
            if self.zones[..i].contains(zone) {
                return Err(FieldError::Zones(format!("{zone} is listed twice")));
            }
        }
        if self.valid_from >= self.valid_until {
            return Err(FieldError::Validity("valid_from must be before valid_until".into()));
        }
        if self.valid_until - self.valid_from > MAX_VALIDITY_SECS {
            return Err(FieldError::Validity("a pass is valid for at most 366 days".into()));
        }
        if self.issued_at > self.valid_until {
            return Err(FieldError::Validity("issued after it expired".into()));
        }
        if self.supersedes == Some(self.serial) {
            return Err(FieldError::SupersedesItself);
        }
        Ok(())
    }

    /// Whether one of the pass's zones covers `checkpoint`.
    pub fn valid_in(&self, checkpoint: Division) -> bool {
        self.zones.iter().any(|zone| zone.covers(checkpoint))
    }
}

fn check_text(field: &'static str, value: &str, max_chars: usize) -> Result<(), FieldError> {
    let problem = |problem: String| Err(FieldError::Text { field, problem });
    let chars = value.chars().count();
    if chars == 0 {
        return problem("must not be empty".into());
    }
    if chars > max_chars {
        return problem(format!("{chars} characters; at most {max_chars}"));
    }
    if value.trim() != value {
        return problem("must not start or end with spaces".into());
    }
    if let Some(c) = value.chars().find(|c| c.is_control() || is_invisible(*c)) {
        return problem(format!("contains the control or invisible character U+{:04X}", c as u32));
    }
    Ok(())
}

/// Characters that render as nothing or reorder text: a forger's tools for look-alike fields.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

fn check_plate(plate: &str) -> Result<(), FieldError> {
    check_text("plate", plate, MAX_PLATE_CHARS)?;
    let chars = plate.chars().count();
    let problem = |problem: String| Err(FieldError::Text { field: "plate", problem });
    if chars < MIN_PLATE_CHARS {
        return problem(format!("{chars} characters; at least {MIN_PLATE_CHARS}"));
    }
    if let Some(c) = plate.chars().find(|c| !(c.is_alphanumeric() || *c == '·')) {
        return problem(format!("{c:?} is not a letter, digit or Chinese character"));
    }
    if plate.chars().any(|c| c.is_ascii_lowercase()) {
        return problem("letters must be upper case".into());
    }
    Ok(())
}

/// Characters of a unified social credit code (GB 32100-2015): digits and upper-case letters
/// without I, O, Z, S, V. The position in this string is the character's value.
const USCC_CHARSET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// Checks a unified social credit code: length, alphabet and the check character.
pub fn check_org_code(code: &str) -> Result<(), FieldError> {
    let values: Option<Vec<u32>> = code.chars().map(|c| USCC_CHARSET.find(c).map(|i| i as u32)).collect();
    let Some(values) = values else {
        return Err(FieldError::OrgCode(format!(
            "{code:?} has characters outside 0-9 and A-Y (without I, O, S, V, Z)"
        )));
    };
    if values.len() != ORG_CODE_LEN {
        return Err(FieldError::OrgCode(format!(
            "{} characters; a unified social credit code has {ORG_CODE_LEN}",
            values.len()
        )));
    }
    let sum: u32 = values.iter().zip(USCC_WEIGHTS).map(|(v, w)| v * w).sum();
    let check = (31 - sum % 31) % 31;
    if values[17] != check {
        return Err(FieldError::OrgCode(format!("{code} has a wrong check character")));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> Pass {
        Pass::realistic_example()
    }

    #[test]
    fn the_sample_is_valid() {
        sample().validate().expect("valid");
    }

    #[test]
    fn limits_are_enforced() {
        type Change = Box<dyn Fn(&mut Pass)>;
        let cases: Vec<(&str, Change)> = vec![
            ("zero serial", Box::new(|p| p.serial = 0)),
            ("serial past what a revocation can name", Box::new(|p| p.serial = MAX_SERIAL + 1)),
            ("serial 2^64 - 1", Box::new(|p| p.serial = u64::MAX)),
            ("empty plate", Box::new(|p| p.plate.clear())),
            ("lower-case plate", Box::new(|p| p.plate = "粤a12345".into())),
            ("plate with space", Box::new(|p| p.plate = "粤A 12345".into())),
            ("long holder", Box::new(|p| p.holder = "厂".repeat(65))),
            ("holder with newline", Box::new(|p| p.holder = "a\nb".into())),
            ("holder with RLO", Box::new(|p| p.holder = "ab\u{202E}c".into())),
            ("padded cargo", Box::new(|p| p.cargo = " 零部件".into())),
            ("empty driver", Box::new(|p| p.crew = vec![String::new()])),
            ("four crew", Box::new(|p| p.crew = vec!["张三".into(), "李四".into(), "王五".into(), "赵六".into()])),
            ("co-driver with newline", Box::new(|p| p.crew.push("李\n四".into()))),
            ("long name", Box::new(|p| p.crew.push("名".repeat(33)))),
            ("no zones", Box::new(|p| p.zones.clear())),
            ("repeated zone", Box::new(|p| p.zones.push(p.zones[0]))),
            ("reversed validity", Box::new(|p| p.valid_until = p.valid_from)),
            ("too long validity", Box::new(|p| p.valid_until = p.valid_from + MAX_VALIDITY_SECS + 1)),
            ("issued after expiry", Box::new(|p| p.issued_at = p.valid_until + 1)),
            ("supersedes itself", Box::new(|p| p.supersedes = Some(p.serial))),
            ("bad org code", Box::new(|p| p.org_code = Some("91440101MA5CXXXXXX".into()))),
        ];
        for (what, change) in cases {
            let mut pass = sample();
            change(&mut pass);
            assert!(pass.validate().is_err(), "{what} accepted");
        }
    }

    #[test]
    fn pass_numbers_are_the_division_and_six_digits() {
        let huadu = Division::new(440_114).ok();
        assert_eq!(pass_number(huadu, 195), "440114000195");
        assert_eq!(pass_number(huadu, 999_999), "440114999999");
        assert_eq!(pass_number(huadu, 1_000_000), "4401141000000");
        assert_eq!(pass_number(None, 195), "195");
    }

    #[test]
    fn a_v1_pass_reads_as_a_crew_of_its_driver() {
        let v2 = sample();
        let v1 = PassV1 {
            serial: v2.serial,
            kind: v2.kind,
            plate: v2.plate.clone(),
            vehicle_type: v2.vehicle_type,
            holder: v2.holder.clone(),
            org_code: None,
            driver: Some("张三".into()),
            origin: v2.origin,
            destination: v2.destination,
            zones: v2.zones.clone(),
            cargo: v2.cargo.clone(),
            valid_from: v2.valid_from,
            valid_until: v2.valid_until,
            issued_at: v2.issued_at,
            supersedes: None,
        };
        assert_eq!(Pass::from(v1.clone()), v2);
        assert_eq!(Pass::from(PassV1 { driver: None, ..v1 }).crew, Vec::<String>::new());
    }

    #[test]
    fn org_code_check_character() {
        // A well-known published code (Huawei Technologies Co., Ltd.).
        check_org_code("914403001922038216").expect("valid code");
        assert!(check_org_code("914403001922038217").is_err());
        assert!(check_org_code("91440300192203821").is_err());
        assert!(check_org_code("91440300192203821I").is_err());
    }

    #[test]
    fn names_round_trip() {
        for kind in VehicleType::ALL {
            assert_eq!(kind.name().parse::<VehicleType>(), Ok(*kind));
        }
        for kind in PassKind::ALL {
            assert_eq!(kind.name().parse::<PassKind>(), Ok(*kind));
        }
        assert!("bus".parse::<VehicleType>().is_err());
        assert_eq!("重型货车".parse::<VehicleType>(), Ok(VehicleType::HeavyTruck));
        assert_eq!(" 半挂牵引车 ".parse::<VehicleType>(), Ok(VehicleType::Tractor));
    }
}
