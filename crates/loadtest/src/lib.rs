//! What the load tests and benches share: a seeded generator, a raw HTTP client, percentiles.

use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A small seeded generator (SplitMix64), so every run draws the same numbers.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next number.
    pub fn draw(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Longest a single request may take before it counts as an error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An answer: status, ETag, body.
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The `ETag` header, if any.
    pub etag: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// One HTTP/1.1 request on a new connection (`Connection: close`, so the body ends at EOF).
pub async fn request(addr: &str, head: &str, body: &[u8]) -> anyhow::Result<Reply> {
    let run = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(format!("{head}Host: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
        stream.write_all(body).await?;
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).await?;
        let split = bytes.windows(4).position(|w| w == b"\r\n\r\n").context("no end of headers")?;
        let head = std::str::from_utf8(&bytes[..split]).context("headers not UTF-8")?;
        let status = head.get(9..12).and_then(|s| s.parse().ok()).context("no status")?;
        let etag = head
            .lines()
            .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("etag")))
            .map(|(_, v)| v.trim().to_owned());
        Ok(Reply { status, etag, body: bytes[split + 4..].to_vec() })
    };
    tokio::time::timeout(REQUEST_TIMEOUT, run).await.context("timed out")?
}

/// The `p` quantile (0..=1) of `values` (sorted in place); NaN when empty.
pub fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * p).round() as usize]
}
