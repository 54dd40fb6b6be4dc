//! The camera: where the page sits (pose, curl, fold), how it is lit, the lens (defocus,
//! motion) and the sensor (noise, 8-bit quantisation, JPEG).

use image::GrayImage;

use crate::rng::Rng;
use crate::scene::Page;

/// Focal length in frame pixels (about 65° across a 1280-pixel frame).
const FOCAL: f64 = 1100.0;

/// Where the page is, as seen by the camera.
#[derive(Clone, Debug)]
pub struct Pose {
    /// Frame pixels per page pixel at the code, facing the camera.
    pub scale: f64,
    /// In-plane rotation, radians.
    pub roll: f64,
    /// Tilt about the vertical axis, radians.
    pub yaw: f64,
    /// Tilt about the horizontal axis, radians.
    pub pitch: f64,
    /// Where the code's centre lands in the frame.
    pub centre: (f64, f64),
}

/// A bend of the page.
#[derive(Clone, Copy, Debug)]
pub enum Bend {
    /// Flat.
    None,
    /// Curled round a vertical axis through the code's centre: radius in page pixels.
    Curl(f64),
    /// Folded along a line through the code at `offset` page pixels from its centre, the far
    /// side tilted by `angle` radians.
    Fold {
        /// Distance of the crease from the code's centre (page pixels).
        offset: f64,
        /// Tilt of the far side.
        angle: f64,
    },
}

/// Something between the lamp and the sensor.
#[derive(Clone, Debug, Default)]
pub struct Light {
    /// Overall illumination (1 = well lit, the camera's exposure makes up for less but
    /// amplifies the noise).
    pub level: f64,
    /// Left-to-right falloff (0 = even).
    pub gradient: f64,
    /// A shadow edge across the code: darkening factor and the edge's angle.
    pub shadow: Option<(f64, f64)>,
    /// A glare spot: centre (frame), radius (frame px), peak brightness added.
    pub glare: Option<((f64, f64), f64, f64)>,
    /// A reflection band across a screen: strength.
    pub reflection: f64,
    /// The beat between the sensor's grid and a screen's sub-pixel grid (on the page only).
    pub moire: Option<Moire>,
    /// (The window, sheen and specular spot are reflections on the page's glass or laminate:
    /// they fall on the page only.)
    /// A lamp or window mirrored in the glass.
    pub window: Option<Window>,
    /// A glossy sheen band across a laminated page: angle, offset from the code's centre
    /// (frame px), half-width (frame px), strength added.
    pub sheen: Option<(f64, f64, f64, f64)>,
    /// A screen seen at an angle: brightness falls by this fraction across the page along
    /// `falloff_angle`.
    pub falloff: f64,
    /// Direction of the falloff, radians.
    pub falloff_angle: f64,
    /// A specular spot with a flat clipped core: centre (frame), radius (frame px), peak added
    /// (1 = paper white; several times it clips), `exp(-(d/r)^4)`.
    pub specular: Option<((f64, f64), f64, f64)>,
    /// A screen's own brightness against the exposure (1 = exposed right; above 1 overexposed).
    pub screen_gain: f64,
}

/// A lamp or window mirrored in a screen's glass: a soft-edged bright rectangle.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Centre (frame).
    pub centre: (f64, f64),
    /// Half-sizes (frame px).
    pub half: (f64, f64),
    /// Angle, radians.
    pub angle: f64,
    /// Brightness added (1 = paper white).
    pub strength: f64,
}

/// A moiré pattern: `1 + contrast · sin(2π (along + curvature · across²) / period + phase)`,
/// with `along`/`across` measured from `centre` at `angle`: curved fringes, not straight ones.
#[derive(Clone, Copy, Debug)]
pub struct Moire {
    /// Centre of the fringes' curvature (frame).
    pub centre: (f64, f64),
    /// Fringe period, frame px.
    pub period: f64,
    /// Direction across the fringes, radians.
    pub angle: f64,
    /// Curvature, 1/px.
    pub curvature: f64,
    /// Phase (where the fringes have drifted to).
    pub phase: f64,
    /// Contrast, 0..1.
    pub contrast: f64,
}

/// A thumb over the page, in page coordinates: centre, semi-axes, angle.
#[derive(Clone, Copy, Debug)]
pub struct Thumb {
    /// Centre (page px).
    pub centre: (f64, f64),
    /// Semi-axes (page px).
    pub axes: (f64, f64),
    /// Rotation, radians.
    pub angle: f64,
}

/// Lens and sensor.
#[derive(Clone, Debug, Default)]
pub struct Optics {
    /// Gaussian defocus, sigma in frame pixels.
    pub defocus: f64,
    /// Motion blur: length in frame pixels and direction.
    pub motion: Option<(f64, f64)>,
    /// Sensor read noise (fraction of full scale, before the exposure gain).
    pub read_noise: f64,
    /// JPEG quality, when the frame is JPEG-compressed.
    pub jpeg: Option<u8>,
    /// Bloom around bright areas (overexposed screens): Gaussian sigma (frame px) and the
    /// fraction of the blurred light added back.
    pub bloom: Option<(f64, f64)>,
}

/// 3×3 homography, row-major.
type Homography = [f64; 9];

fn apply(h: &Homography, x: f64, y: f64) -> (f64, f64) {
    let w = h[6] * x + h[7] * y + h[8];
    ((h[0] * x + h[1] * y + h[2]) / w, (h[3] * x + h[4] * y + h[5]) / w)
}

/// The homography taking each `from` point to its `to` point (Gaussian elimination, 8×8).
fn homography(from: [(f64, f64); 4], to: [(f64, f64); 4]) -> Homography {
    let mut a = [[0.0f64; 9]; 8];
    for (i, (&(x, y), &(u, v))) in from.iter().zip(&to).enumerate() {
        a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
        a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
    }
    for col in 0..8 {
        let pivot = (col..8).max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs())).unwrap_or(col);
        a.swap(col, pivot);
        let d = a[col][col];
        if d.abs() < 1e-12 {
            continue;
        }
        a[col].iter_mut().for_each(|v| *v /= d);
        let pivot_row = a[col];
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let f = row[col];
                row.iter_mut().zip(&pivot_row).for_each(|(v, p)| *v -= f * p);
            }
        }
    }
    [a[0][8], a[1][8], a[2][8], a[3][8], a[4][8], a[5][8], a[6][8], a[7][8], 1.0]
}

impl Pose {
    /// Where page point (u, v) lands in the frame.
    pub fn project(&self, page: &Page, u: f64, v: f64) -> (f64, f64) {
        let (x, y) = ((u - page.code_centre.0) * self.scale, (v - page.code_centre.1) * self.scale);
        // Roll, then pitch (about x), then yaw (about y).
        let (x, y) = (x * self.roll.cos() - y * self.roll.sin(), x * self.roll.sin() + y * self.roll.cos());
        let (y, z) = (y * self.pitch.cos(), y * self.pitch.sin());
        let (x, z) = (x * self.yaw.cos() + z * self.yaw.sin(), -x * self.yaw.sin() + z * self.yaw.cos());
        let depth = FOCAL + z;
        (self.centre.0 + FOCAL * x / depth, self.centre.1 + FOCAL * y / depth)
    }
}

fn sample(img: &GrayImage, u: f64, v: f64) -> Option<f64> {
    let (w, h) = (img.width() as f64, img.height() as f64);
    if !(0.0..w - 1.0).contains(&u) || !(0.0..h - 1.0).contains(&v) {
        return None;
    }
    let (x0, y0) = (u.floor(), v.floor());
    let (fx, fy) = (u - x0, v - y0);
    let (x0, y0) = (x0 as u32, y0 as u32);
    let p = |x, y| f64::from(img.get_pixel(x, y).0[0]);
    let top = p(x0, y0) * (1.0 - fx) + p(x0 + 1, y0) * fx;
    let bottom = p(x0, y0 + 1) * (1.0 - fx) + p(x0 + 1, y0 + 1) * fx;
    Some(top * (1.0 - fy) + bottom * fy)
}

/// The background behind the page: a desk with a gradient and a few objects.
fn background(rng: &mut Rng, w: u32, h: u32) -> Vec<f64> {
    let base = rng.range(0.2, 0.5);
    let tilt = rng.range(-0.15, 0.15);
    let mut out: Vec<f64> =
        (0..w * h).map(|i| base + tilt * f64::from(i % w) / f64::from(w) + 0.02 * rng.normal()).collect();
    for _ in 0..6 {
        let (x0, y0) = (rng.range(0.0, f64::from(w)), rng.range(0.0, f64::from(h)));
        let (bw, bh, value) = (rng.range(30.0, 300.0), rng.range(30.0, 300.0), rng.range(0.05, 0.8));
        for y in (y0 as u32).min(h)..((y0 + bh) as u32).min(h) {
            for x in (x0 as u32).min(w)..((x0 + bw) as u32).min(w) {
                out[(y * w + x) as usize] = value;
            }
        }
    }
    out
}

/// Renders what the sensor sees: page reflectance under the light, over the background.
#[allow(clippy::too_many_arguments)]
pub fn expose(
    page: &Page,
    pose: &Pose,
    bend: Bend,
    thumb: Option<Thumb>,
    light: &Light,
    optics: &Optics,
    rng: &mut Rng,
    (w, h): (u32, u32),
) -> GrayImage {
    let mut radiance = background(rng, w, h);
    // How much of each frame pixel the page covers, for effects on the page alone.
    let mut on_page = vec![0.0f64; radiance.len()];
    // Frame → page through the inverse of the pose (exact for a flat page), then the bend.
    let (pw, ph) = (f64::from(page.albedo.width()), f64::from(page.albedo.height()));
    let corners = [(0.0, 0.0), (pw, 0.0), (pw, ph), (0.0, ph)];
    let projected = corners.map(|(u, v)| pose.project(page, u, v));
    let to_page = homography(projected, corners);
    let (min_x, max_x) = projected.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (min_y, max_y) = projected.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let (cu, cv) = page.code_centre;
    // Supersampling: enough sub-samples that each covers at most about one page pixel.
    let n = ((1.0 / pose.scale).ceil() as usize).clamp(1, 4);
    let x_range = (min_x.floor().max(0.0) as u32)..(max_x.ceil().min(f64::from(w)) as u32);
    for y in (min_y.floor().max(0.0) as u32)..(max_y.ceil().min(f64::from(h)) as u32) {
        for x in x_range.clone() {
            let (mut sum, mut hits, mut shade) = (0.0, 0usize, 0.0);
            for sy in 0..n {
                for sx in 0..n {
                    let fx = f64::from(x) + (sx as f64 + 0.5) / n as f64;
                    let fy = f64::from(y) + (sy as f64 + 0.5) / n as f64;
                    let (mut u, mut v) = apply(&to_page, fx, fy);
                    let mut s = 1.0;
                    match bend {
                        Bend::None => {}
                        Bend::Curl(radius) => {
                            let a = (u - cu) / radius;
                            if a.abs() >= 1.0 {
                                continue;
                            }
                            u = cu + radius * a.asin();
                            s = (1.0 - a * a).sqrt().powf(0.6);
                        }
                        Bend::Fold { offset, angle } => {
                            let d = v - (cv + offset);
                            if d > 0.0 {
                                v = cv + offset + d / angle.cos();
                                s = 0.78;
                            } else if d > -1.0 {
                                s = 0.6;
                            }
                        }
                    }
                    if let Some(t) = thumb {
                        let (dx, dy) = (u - t.centre.0, v - t.centre.1);
                        let (rx, ry) =
                            (dx * t.angle.cos() + dy * t.angle.sin(), -dx * t.angle.sin() + dy * t.angle.cos());
                        let r = (rx / t.axes.0).powi(2) + (ry / t.axes.1).powi(2);
                        if r < 1.0 {
                            // Skin, rounder and darker towards the edge.
                            sum += 150.0 * (1.0 - 0.35 * r);
                            hits += 1;
                            shade += 1.0;
                            continue;
                        }
                    }
                    if let Some(a) = sample(&page.albedo, u, v) {
                        let a = if page.screen {
                            // Sub-pixel grid of the screen.
                            a * if (u * 1.3).rem_euclid(3.0) < 2.0 { 1.0 } else { 0.8 }
                        } else {
                            a
                        };
                        sum += a;
                        hits += 1;
                        shade += s;
                    }
                }
            }
            if hits > 0 {
                let i = (y * w + x) as usize;
                let covered = hits as f64 / (n * n) as f64;
                let mut value = sum / hits as f64 / 255.0 * (shade / hits as f64);
                if page.screen && light.screen_gain > 0.0 {
                    value *= light.screen_gain;
                }
                radiance[i] = radiance[i] * (1.0 - covered) + value * covered;
                on_page[i] = covered;
            }
        }
    }

    // Light.
    let fw = f64::from(w);
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (f64::from(x), f64::from(y));
            let mut l = 1.0 - light.gradient * fx / fw;
            if let Some((dark, angle)) = light.shadow {
                let d = (fx - pose.centre.0) * angle.cos() + (fy - pose.centre.1) * angle.sin();
                let t = (d / 6.0).clamp(-1.0, 1.0) * 0.5 + 0.5;
                l *= 1.0 - (1.0 - dark) * t;
            }
            let i = (y * w + x) as usize;
            let mut r = radiance[i] * l;
            if let Some(((gx, gy), radius, peak)) = light.glare {
                let d2 = ((fx - gx).powi(2) + (fy - gy).powi(2)) / (radius * radius);
                r += peak * (-d2).exp();
            }
            if light.reflection > 0.0 {
                let band = ((fx - fy * 0.6) / fw * 3.0).sin().max(0.0);
                r += light.reflection * band;
            }
            let covered = on_page[i];
            if covered > 0.0 {
                let (dx, dy) = (fx - pose.centre.0, fy - pose.centre.1);
                if let Some(m) = light.moire {
                    let (mx, my) = (fx - m.centre.0, fy - m.centre.1);
                    let along = mx * m.angle.cos() + my * m.angle.sin();
                    let across = -mx * m.angle.sin() + my * m.angle.cos();
                    let beat = (2.0 * std::f64::consts::PI * (along + m.curvature * across * across) / m.period
                        + m.phase)
                        .sin();
                    r *= 1.0 + covered * m.contrast * beat;
                }
                if light.falloff > 0.0 {
                    let d = dx * light.falloff_angle.cos() + dy * light.falloff_angle.sin();
                    r *= 1.0 - covered * light.falloff * (0.5 + (d / fw * 2.0).clamp(-0.5, 0.5));
                }
            }
            if let Some(Window { centre: (cx, cy), half: (hw, hh), angle, strength }) = light.window {
                let (dx, dy) = (fx - cx, fy - cy);
                let (a, b) = (dx * angle.cos() + dy * angle.sin(), -dx * angle.sin() + dy * angle.cos());
                let edge = |d: f64, half: f64| ((half - d.abs()) / (0.15 * half).max(1.0)).clamp(0.0, 1.0);
                r += covered * strength * edge(a, hw) * edge(b, hh);
            }
            if let Some((angle, offset, half, strength)) = light.sheen {
                let d = (fx - pose.centre.0) * angle.cos() + (fy - pose.centre.1) * angle.sin() - offset;
                r += covered * strength * (-(d / half).powi(2)).exp();
            }
            if let Some(((gx, gy), radius, peak)) = light.specular {
                let d2 = ((fx - gx).powi(2) + (fy - gy).powi(2)) / (radius * radius);
                r += covered * peak * (-(d2 * d2)).exp();
            }
            radiance[i] = r;
        }
    }

    // Lens.
    if let Some((sigma, strength)) = optics.bloom {
        let halo = gaussian(&radiance, w as usize, h as usize, sigma);
        radiance.iter_mut().zip(halo).for_each(|(r, b)| *r += strength * b);
    }
    if optics.defocus > 0.0 {
        radiance = gaussian(&radiance, w as usize, h as usize, optics.defocus);
    }
    if let Some((length, angle)) = optics.motion {
        radiance = motion(&radiance, w as usize, h as usize, length, angle);
    }

    // Sensor: the exposure gain makes up for dim light and amplifies the noise with it.
    let level = light.level.max(0.02);
    let gain = 0.9 / level.clamp(0.05, 0.9);
    let mut out = Vec::with_capacity(radiance.len());
    for r in radiance {
        let signal = r * level;
        let noise = rng.normal() * (optics.read_noise + 0.01 * signal.max(0.0).sqrt());
        let v = ((signal + noise) * gain).clamp(0.0, 1.0);
        out.push((v.powf(1.0 / 1.3) * 255.0).round() as u8);
    }
    let frame = GrayImage::from_raw(w, h, out).unwrap_or_default();
    match optics.jpeg {
        Some(q) => jpeg_round_trip(&frame, q),
        None => frame,
    }
}

fn gaussian(src: &[f64], w: usize, h: usize, sigma: f64) -> Vec<f64> {
    let r = (sigma * 3.0).ceil() as isize;
    let kernel: Vec<f64> = (-r..=r).map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp()).collect();
    let total: f64 = kernel.iter().sum();
    let kernel: Vec<f64> = kernel.iter().map(|k| k / total).collect();
    let pass = |src: &[f64], horizontal: bool| -> Vec<f64> {
        let mut out = vec![0.0; w * h];
        for y in 0..h as isize {
            for x in 0..w as isize {
                let mut acc = 0.0;
                for (k, weight) in kernel.iter().enumerate() {
                    let o = k as isize - r;
                    let (sx, sy) = if horizontal {
                        ((x + o).clamp(0, w as isize - 1), y)
                    } else {
                        (x, (y + o).clamp(0, h as isize - 1))
                    };
                    acc += weight * src[sy as usize * w + sx as usize];
                }
                out[y as usize * w + x as usize] = acc;
            }
        }
        out
    };
    pass(&pass(src, true), false)
}

fn motion(src: &[f64], w: usize, h: usize, length: f64, angle: f64) -> Vec<f64> {
    let steps = length.ceil().max(1.0) as usize * 2 + 1;
    let (dx, dy) = (angle.cos() * length / (steps - 1) as f64, angle.sin() * length / (steps - 1) as f64);
    let mut out = vec![0.0; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0.0;
            for s in 0..steps {
                let t = s as f64 - (steps - 1) as f64 / 2.0;
                let sx = (x as f64 + t * dx).round().clamp(0.0, (w - 1) as f64) as usize;
                let sy = (y as f64 + t * dy).round().clamp(0.0, (h - 1) as f64) as usize;
                acc += src[sy * w + sx];
            }
            out[y * w + x] = acc / steps as f64;
        }
    }
    out
}

/// Encodes as JPEG at `quality` and decodes again: the blocks and ringing a webcam's MJPEG
/// stream or a messaging app leaves.
pub fn jpeg_round_trip(frame: &GrayImage, quality: u8) -> GrayImage {
    let mut bytes = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality);
    if frame.write_with_encoder(encoder).is_err() {
        return frame.clone();
    }
    image::load_from_memory(&bytes).map(|i| i.into_luma8()).unwrap_or_else(|_| frame.clone())
}
