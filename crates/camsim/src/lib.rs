//! Synthetic webcam frames of real passes, for the decoding tests and the decode bench.
//!
//! Every frame is made from a seed, so a set of frames is the same on every machine. A frame
//! with a pass holds a real pass, signed with the example issuer key (`keys-example/`), laid
//! out as a printed page (or shown on a phone), then photographed by a simulated 720p webcam
//! in one [`Category`] of trouble at a severity between 0 and 1:
//!
//! - the page: position, perspective tilt up to 45°, any rotation, distance (1.5–3 pixels a
//!   module), small and turned 30–45° with a tilt, paper curl or a fold, a thumb over a corner;
//! - the light: low light with sensor noise, uneven light and a shadow edge, a glare spot,
//!   a phone screen's pixel grid and reflections (and dark mode);
//! - the lens and sensor: defocus, motion blur, JPEG quality 20–50.
//!
//! Frames without a code ([`Category::NoCode`]: cloth, desks, text and 1D barcodes, art in
//! the code's place) check that nothing is read where nothing is.
//!
//! Modules: [`scene`] (what is in front of the camera), [`camera`] (pose, light, lens,
//! sensor), [`rng`] (the seeded generator), [`video`] (y4m files for a browser's fake webcam),
//! [`qr`] (the QR symbol drawn into a frame).

pub mod camera;
pub mod qr;
pub mod rng;
pub mod scene;
pub mod video;

use std::f64::consts::PI;

use crate::qr::Qr;
use image::GrayImage;
use pass_core::keys::SecretKey;
use pass_core::{Pass, envelope};

use crate::camera::{Bend, Light, Optics, Pose, Thumb};
use crate::rng::Rng;
use crate::scene::PAGE_MODULE;

/// The example issuer key that signs the passes in the frames (published: demo only).
const EXAMPLE_ISSUER_KEY: &str = include_str!("../../../keys-example/issuer.key");
/// The example trust list that accepts them.
pub const EXAMPLE_TRUST: &str = include_str!("../../../keys-example/trust.toml");

/// A laptop webcam's frame.
pub const FRAME_720P: (u32, u32) = (1280, 720);
/// A full-HD frame (for the time budget).
pub const FRAME_1080P: (u32, u32) = (1920, 1080);

/// What goes wrong in a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    /// The page tilted away from the camera, up to 45°.
    Perspective,
    /// The page at any angle in its plane.
    Rotation,
    /// Far from the camera: 3 down to 1.5 pixels a module.
    Distance,
    /// Out of focus.
    Defocus,
    /// Moving while the shutter is open.
    Motion,
    /// Dim light: high gain, sensor noise.
    LowLight,
    /// Light falling off across the page and a shadow edge over the code.
    Uneven,
    /// A lamp's reflection on glossy paper.
    Glare,
    /// Paper curled round the code, or folded across it.
    Curl,
    /// Heavy JPEG compression, quality 50 down to 20.
    Jpeg,
    /// The code on a phone screen (pixel grid, reflections, half of them dark mode).
    Phone,
    /// A thumb holding the page over a corner of the code.
    Thumb,
    /// No code at all.
    NoCode,
    /// A phone held up to the webcam, modelled harder: curved moiré fringes
    /// drifting across the code at 15–45% contrast, an overexposed screen whose bloom eats thin
    /// dark modules, a lamp or window mirrored on the glass over part of the code, dark mode in
    /// a third of the frames, the phone at an angle so one side is dimmer.
    PhoneHard,
    /// Glare on a laminated pass or a plastic sleeve, modelled harder: a specular
    /// spot a tenth to a third of the code's width, from mildly bright to clipped at several
    /// times paper white, on a finder pattern in half the frames, and a glossy sheen band.
    GlareHard,
    /// A small code turned in its plane and tilted, modelled harder: about 2.5 down to 2.1
    /// pixels a module, turned 30–45° from upright (in any quadrant), tilted 5–20° away from
    /// the camera in a random direction. A pass held low at arm's length, at an angle.
    SmallTurned,
}

impl Category {
    /// Every category, the code-free one last.
    pub const ALL: [Category; 13] = [
        Category::Perspective,
        Category::Rotation,
        Category::Distance,
        Category::Defocus,
        Category::Motion,
        Category::LowLight,
        Category::Uneven,
        Category::Glare,
        Category::Curl,
        Category::Jpeg,
        Category::Phone,
        Category::Thumb,
        Category::NoCode,
    ];

    /// The harder models, generated at the three [`SEVERITIES`] by [`hard_set`]. They are not
    /// in [`Category::ALL`], so the fixed set's frames stay exactly as they were.
    pub const HARD: [Category; 3] = [Category::PhoneHard, Category::GlareHard, Category::SmallTurned];

    /// A short name (the bench's set name).
    pub fn name(self) -> &'static str {
        match self {
            Category::Perspective => "perspective",
            Category::Rotation => "rotation",
            Category::Distance => "distance",
            Category::Defocus => "defocus",
            Category::Motion => "motion",
            Category::LowLight => "low-light",
            Category::Uneven => "uneven-light",
            Category::Glare => "glare",
            Category::Curl => "curl-fold",
            Category::Jpeg => "jpeg",
            Category::Phone => "phone-screen",
            Category::Thumb => "thumb",
            Category::NoCode => "no-code",
            Category::PhoneHard => "phone-hard",
            Category::GlareHard => "glare-hard",
            Category::SmallTurned => "small-turned",
        }
    }
}

/// The recipe for one frame.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// What goes wrong.
    pub category: Category,
    /// How badly, 0..=1.
    pub severity: f64,
    /// The seed of everything random in the frame.
    pub seed: u64,
    /// Frame size.
    pub size: (u32, u32),
}

/// A generated frame.
pub struct Frame {
    /// The recipe.
    pub spec: Spec,
    /// A name unique in its set: category, index, severity.
    pub name: String,
    /// The grey frame, as the camera delivers it.
    pub image: GrayImage,
    /// The pass in the frame (`None` for [`Category::NoCode`]).
    pub pass: Option<Pass>,
    /// The signed envelope bytes in its QR code.
    pub code: Option<Vec<u8>>,
}

/// The fixed set used by the tests and the bench: `per_category` 720p frames for each category
/// with a pass, severities spread evenly over 0..=1, and twice as many frames without a code.
pub fn fixed_set(per_category: usize) -> Vec<Spec> {
    let mut specs = Vec::new();
    for (c, &category) in Category::ALL.iter().enumerate() {
        let count = if category == Category::NoCode { 2 * per_category } else { per_category };
        for i in 0..count {
            let severity = if count == 1 { 1.0 } else { i as f64 / (count - 1) as f64 };
            specs.push(Spec { category, severity, seed: (c * 1000 + i) as u64, size: FRAME_720P });
        }
    }
    specs
}

/// The three severities of the harder models: name and value.
pub const SEVERITIES: [(&str, f64); 3] = [("mild", 1.0 / 3.0), ("moderate", 2.0 / 3.0), ("severe", 1.0)];

/// The harder models' set: `per_severity` 720p frames of each [`Category::HARD`] category at
/// each of the [`SEVERITIES`], seeded apart from the fixed set.
pub fn hard_set(per_severity: usize) -> Vec<Spec> {
    let mut specs = Vec::new();
    for (c, &category) in Category::HARD.iter().enumerate() {
        for (l, &(_, severity)) in SEVERITIES.iter().enumerate() {
            for i in 0..per_severity {
                let seed = (70_000 + c * 10_000 + l * 1_000 + i) as u64;
                specs.push(Spec { category, severity, seed, size: FRAME_720P });
            }
        }
    }
    specs
}

/// The name of a severity of the harder models.
pub fn severity_name(severity: f64) -> &'static str {
    SEVERITIES.iter().min_by(|a, b| (a.1 - severity).abs().total_cmp(&(b.1 - severity).abs())).map_or("", |s| s.0)
}

/// Full-HD frames, one per category at a middling-to-high severity: for the time budget.
pub fn full_hd_set() -> Vec<Spec> {
    Category::ALL
        .iter()
        .enumerate()
        .map(|(c, &category)| Spec { category, severity: 0.7, seed: 90_000 + c as u64, size: FRAME_1080P })
        .collect()
}

/// A window or lamp mirrored on a phone's glass at `centre`: a fifth to a half of the code's
/// width across (`code_px`), 0.4–1 of that the other way, adding 0.15–0.6 of paper white
/// (less at lower severities `s`).
fn mirrored_window(rng: &mut Rng, centre: (f64, f64), code_px: f64, s: f64) -> camera::Window {
    let across = code_px * rng.range(0.2, 0.3 + 0.2 * s);
    let strength = rng.range(0.15, 0.25 + 0.35 * s);
    // Half-sizes: half of the extent across.
    let half = (across / 2.0, across / 2.0 * rng.range(0.4, 1.0));
    camera::Window { centre, half, angle: rng.range(0.0, PI), strength }
}

/// Issues a real pass (serial and plate from the seed) signed with the example issuer key.
pub fn issue(rng: &mut Rng) -> (Pass, Vec<u8>) {
    let key = SecretKey::from_pem(EXAMPLE_ISSUER_KEY).unwrap_or_else(|e| panic!("example issuer key: {e}"));
    let mut pass = Pass::realistic_example();
    pass.serial = 1 + rng.next_u64() % 1_000_000;
    let letters = "ABCDEFGHJKLMNPQRSTUVWXYZ".as_bytes();
    pass.plate = format!("粤{}{:05}", letters[rng.below(letters.len())] as char, rng.next_u64() % 100_000);
    let bytes = envelope::sign(&pass, &key).unwrap_or_else(|e| panic!("signing the example pass: {e}"));
    (pass, bytes)
}

/// Makes the frame `spec` describes.
pub fn generate(spec: Spec) -> Frame {
    generate_inner(spec, None)
}

/// Makes the frame `spec` describes with a code of the caller's (a pass issued at test time,
/// a revoked or a forged one) in place of the seeded example pass; everything else about the
/// frame is as [`generate`] makes it. For [`Category::NoCode`] the code is not used.
pub fn generate_with(spec: Spec, pass: Pass, bytes: Vec<u8>) -> Frame {
    generate_inner(spec, Some((pass, bytes)))
}

fn generate_inner(spec: Spec, supplied: Option<(Pass, Vec<u8>)>) -> Frame {
    let mut rng = Rng::new(spec.seed);
    let (pass, code) = match spec.category {
        Category::NoCode => (None, None),
        _ => {
            // Issued even when the caller supplies a code: the seeded draws stay the same.
            let (pass, bytes) = supplied.unwrap_or(issue(&mut rng));
            (Some(pass), Some(bytes))
        }
    };
    let qr = code
        .as_deref()
        .map(|bytes| Qr::new(bytes).unwrap_or_else(|| panic!("a {}-byte code fits no QR version", bytes.len())));
    let page = match (&qr, spec.category) {
        (Some(qr), Category::Phone) => scene::phone(qr, rng.unit() < 0.5),
        (Some(qr), Category::PhoneHard) => scene::phone(qr, rng.unit() < 1.0 / 3.0),
        (Some(qr), _) => scene::printed(qr, &mut rng),
        (None, _) => scene::no_code(&mut rng),
    };
    photograph(spec, &page, rng, pass, code)
}

/// Where the code is in a screenshot given to [`photograph_screen`], in its pixels.
#[derive(Clone, Copy, Debug)]
pub struct ScreenCode {
    /// The code's centre.
    pub centre: (f64, f64),
    /// The code's side, quiet zone excluded.
    pub side: f64,
    /// Modules a side.
    pub modules: usize,
}

/// A real screenshot (a phone e-pass PNG as the driver's phone shows it) held up to the
/// webcam: the screen in a dark bezel, emitting light, photographed as `spec` says (use
/// [`Category::Phone`] or [`Category::PhoneHard`]: pixel grid, reflections, moiré, tilt).
/// Unlike [`generate`], the frame carries no pass of its own (`pass` and `code` are `None`).
pub fn photograph_screen(spec: Spec, screen: &GrayImage, code: ScreenCode) -> Frame {
    let rng = Rng::new(spec.seed);
    // The screenshot scaled so a module is PAGE_MODULE wide, as the modelled screens are.
    let k = PAGE_MODULE * code.modules as f64 / code.side;
    let (sw, sh) = ((screen.width() as f64 * k).round().max(1.0), (screen.height() as f64 * k).round().max(1.0));
    let shown = image::imageops::resize(screen, sw as u32, sh as u32, image::imageops::FilterType::Triangle);
    let bezel = 4.0 * PAGE_MODULE;
    let mut albedo = GrayImage::from_pixel((sw + 2.0 * bezel) as u32, (sh + 2.0 * bezel) as u32, image::Luma([18]));
    image::imageops::replace(&mut albedo, &shown, bezel as i64, bezel as i64);
    let page = scene::Page {
        albedo,
        code_centre: (bezel + code.centre.0 * k, bezel + code.centre.1 * k),
        code_side: code.modules as f64 * PAGE_MODULE,
        modules: code.modules,
        screen: true,
    };
    photograph(spec, &page, rng, None, None)
}

/// The webcam's photograph of `page` as `spec` says, its random draws from `rng`.
fn photograph(spec: Spec, page: &scene::Page, mut rng: Rng, pass: Option<Pass>, code: Option<Vec<u8>>) -> Frame {
    let s = spec.severity.clamp(0.0, 1.0);
    let (w, h) = (f64::from(spec.size.0), f64::from(spec.size.1));
    let modules = if page.modules == 0 { 57.0 } else { page.modules as f64 };

    // Defaults: a pass held 30–45 cm from a 720p webcam, roughly square on, decent light,
    // a little defocus and the webcam's own MJPEG compression.
    let mut px_per_module = rng.range(3.0, 5.0) * spec.size.0 as f64 / 1280.0;
    let mut roll = rng.range(-8.0, 8.0).to_radians();
    let (mut yaw, mut pitch) = (rng.range(-8.0, 8.0).to_radians(), rng.range(-8.0, 8.0).to_radians());
    let mut bend = Bend::None;
    let mut thumb = None;
    let mut light = Light { level: rng.range(0.7, 1.0), gradient: rng.range(0.0, 0.15), ..Light::default() };
    let mut optics = Optics {
        defocus: rng.range(0.3, 0.7),
        read_noise: 0.004,
        jpeg: Some(rng.range(80.0, 92.0) as u8),
        ..Optics::default()
    };
    let category = if spec.category == Category::NoCode {
        // Code-free scenes get a random kind of trouble too.
        Category::ALL[rng.below(Category::ALL.len() - 1)]
    } else {
        spec.category
    };
    match category {
        Category::Perspective => {
            let tilt = (10.0 + 35.0 * s).to_radians();
            let direction = rng.range(0.0, 2.0 * PI);
            yaw = tilt * direction.cos();
            pitch = tilt * direction.sin();
        }
        Category::Rotation => roll = rng.sign() * 180.0f64.to_radians() * s.max(0.05) * rng.range(0.8, 1.0),
        Category::Distance => px_per_module = (3.0 - 1.5 * s) * spec.size.0 as f64 / 1280.0,
        Category::Defocus => optics.defocus = px_per_module * (0.15 + 0.4 * s),
        Category::Motion => optics.motion = Some((px_per_module * (0.4 + 1.2 * s), rng.range(0.0, PI))),
        Category::LowLight => {
            light.level = 0.3 - 0.24 * s;
            optics.read_noise = 0.003 + 0.005 * s;
        }
        Category::Uneven => {
            light.gradient = 0.3 + 0.4 * s;
            light.shadow = Some((0.75 - 0.45 * s, rng.range(0.0, 2.0 * PI)));
        }
        Category::Glare => {}
        Category::Curl => {
            let half = modules * PAGE_MODULE / 2.0;
            bend = if rng.unit() < 0.5 {
                // Radius from 4 down to 1.5 half-widths of the code.
                Bend::Curl(half * (4.0 - 2.5 * s))
            } else {
                Bend::Fold { offset: rng.range(-0.6, 0.6) * half, angle: (5.0 + 20.0 * s).to_radians() }
            };
        }
        Category::Jpeg => optics.jpeg = Some((50.0 - 30.0 * s).round() as u8),
        Category::Phone => light.reflection = 0.05 + 0.2 * s,
        Category::Thumb => {
            // The bottom-right corner holds no finder pattern: a thumb may reach well into
            // the code there. Elsewhere it covers the quiet zone and the finder's edge.
            let corner = rng.below(4);
            let (cu, cv) = page.code_centre;
            let half = modules * PAGE_MODULE / 2.0;
            let reach = if corner == 3 { (2.0 + 8.0 * s) * PAGE_MODULE } else { (0.5 + 1.0 * s) * PAGE_MODULE };
            let (sx, sy) = [(-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0), (1.0, 1.0)][corner];
            // Along the diagonal, tip first: the tip reaches `reach` inside the corner.
            let axes = (14.0 * PAGE_MODULE, 9.0 * PAGE_MODULE);
            let (dx, dy) = (sx / 2f64.sqrt(), sy / 2f64.sqrt());
            let (corner_u, corner_v) = (cu + sx * half, cv + sy * half);
            let out = axes.0 - reach;
            thumb = Some(Thumb { centre: (corner_u + dx * out, corner_v + dy * out), axes, angle: sy.atan2(sx) });
        }
        Category::NoCode => {}
        Category::PhoneHard => {
            // Held at an angle: tilted, and dimmer on the far side.
            let tilt = rng.range(10.0, 20.0 + 15.0 * s).to_radians();
            let direction = rng.range(0.0, 2.0 * PI);
            (yaw, pitch) = (tilt * direction.cos(), tilt * direction.sin());
            light.falloff = rng.range(0.15, 0.25 + 0.3 * s);
            light.falloff_angle = direction;
            // Overexposed: the screen outshines the room, and its light blooms.
            light.screen_gain = rng.range(1.0, 1.1 + 0.5 * s);
            optics.bloom = Some((px_per_module * rng.range(0.3, 0.3 + 0.4 * s), rng.range(0.1, 0.2 + 0.5 * s)));
            light.moire = Some(camera::Moire {
                centre: (rng.range(0.0, w), rng.range(0.0, h)),
                period: px_per_module * rng.range(0.6, 3.0),
                angle: rng.range(0.0, PI),
                curvature: rng.range(-1.0, 1.0) / (modules * px_per_module * rng.range(1.0, 3.0)),
                phase: rng.range(0.0, 2.0 * PI),
                contrast: rng.range(0.15, 0.25) + 0.2 * s,
            });
            light.reflection = 0.0;
        }
        Category::GlareHard => {}
        Category::SmallTurned => {
            px_per_module = (2.6 - 0.5 * s + rng.range(-0.1, 0.1)) * spec.size.0 as f64 / 1280.0;
            let quadrant = rng.below(4) as f64 * 90.0;
            roll = (quadrant + rng.sign() * rng.range(30.0, 45.0)).to_radians();
            let tilt = rng.range(5.0, 5.0 + 15.0 * s.max(1.0 / 3.0)).to_radians();
            let direction = rng.range(0.0, 2.0 * PI);
            (yaw, pitch) = (tilt * direction.cos(), tilt * direction.sin());
        }
    }
    let scale = px_per_module / PAGE_MODULE;
    // Keep the code (and its quiet zone) in the frame.
    let extent = (modules + 8.0) * px_per_module * 0.75;
    let centre = (
        w / 2.0 + rng.range(-1.0, 1.0) * (w / 2.0 - extent).max(0.0) * 0.8,
        h / 2.0 + rng.range(-1.0, 1.0) * (h / 2.0 - extent).max(0.0) * 0.8,
    );
    if category == Category::Glare {
        let code_px = modules * px_per_module;
        let offset = (rng.range(-0.3, 0.3) * code_px, rng.range(-0.3, 0.3) * code_px);
        light.glare = Some(((centre.0 + offset.0, centre.1 + offset.1), code_px * (0.08 + 0.07 * s), 0.5 + 0.9 * s));
    }
    let pose = Pose { scale, roll, yaw, pitch, centre };
    let code_px = modules * px_per_module;
    // A point of the code, in modules from its centre, as it lands in the frame.
    let in_code = |mx: f64, my: f64| {
        pose.project(page, page.code_centre.0 + mx * PAGE_MODULE, page.code_centre.1 + my * PAGE_MODULE)
    };
    if category == Category::PhoneHard {
        let half = modules / 2.0;
        let centre = in_code(rng.range(-half, half), rng.range(-half, half));
        light.window = Some(mirrored_window(&mut rng, centre, code_px, s));
    }
    if category == Category::GlareHard {
        // On a finder pattern in half the frames, on the data otherwise.
        let half = modules / 2.0;
        let (mx, my) = if rng.unit() < 0.5 {
            let corner = [(-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0)][rng.below(3)];
            ((half - 3.5) * corner.0, (half - 3.5) * corner.1)
        } else {
            (rng.range(-0.6, 0.6) * half, rng.range(-0.6, 0.6) * half)
        };
        let radius = code_px * (0.1 + 0.23 * rng.range((s - 1.0 / 3.0).max(0.0), s)) / 2.0;
        // Mildly bright at the lowest severity, clipped at several times paper white at the top.
        let peak = rng.range(0.3, 0.8) + 3.2 * s * s * rng.range(0.6, 1.0);
        light.specular = Some((in_code(mx, my), radius, peak));
        if rng.unit() < 2.0 / 3.0 {
            let angle = rng.range(0.0, PI);
            light.sheen = Some((
                angle,
                rng.range(-0.4, 0.4) * code_px,
                code_px * rng.range(0.08, 0.2),
                rng.range(0.1, 0.15 + 0.35 * s),
            ));
        }
    }
    let image = camera::expose(page, &pose, bend, thumb, &light, &optics, &mut rng, spec.size);
    let name = format!("{}-{:03}-s{:02}", spec.category.name(), spec.seed % 1000, (s * 100.0).round() as u32);
    Frame { spec, name, image, pass, code }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mirrored window covers part of the code, as documented: a fifth to a half of its
    /// width across, whatever the draw (it once took its half-size for the full extent and
    /// covered up to all of it).
    #[test]
    fn a_mirrored_window_spans_a_fifth_to_a_half_of_the_code() {
        let code_px = 228.0;
        for seed in 0..2000 {
            let mut rng = Rng::new(seed);
            for s in SEVERITIES.map(|(_, s)| s) {
                let window = mirrored_window(&mut rng, (640.0, 360.0), code_px, s);
                let (across, other) = (2.0 * window.half.0 / code_px, 2.0 * window.half.1 / code_px);
                assert!((0.2..=0.5).contains(&across), "seed {seed}, severity {s}: {across} of the code across");
                assert!(other <= across && other >= 0.4 * across, "seed {seed}: {other} the other way");
                assert!((0.15..=0.6).contains(&window.strength), "seed {seed}: strength {}", window.strength);
            }
        }
    }
}
