//! The station's whole path, measured: a WebSocket client sends 1280×720 luma frames one at a
//! time (as the page does) to a station on 127.0.0.1:0, which decodes, verifies, tracks the
//! presentation and answers. Prints frames/s and the latency from frame received to answer
//! sent (`station_ms`, measured by the station) and as the client sees it (round trip).
//!
//! `scripts/bench-station.sh` runs it pinned to one core (`taskset -c 0`), release build.
//! `station-bench [FRAMES_PER_MODE]` (default 300).

#![allow(missing_docs, clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use pass_camsim::{Category, Spec, generate, generate_with};
use pass_core::{Pass, SecretKey, envelope};
use pass_verifier::scanlog::ScanLog;
use pass_verifier::settings::{Options, Settings};
use pass_verifier::station::{Station, web};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn message(image: &image::GrayImage) -> Message {
    let (w, h) = image.dimensions();
    let mut bytes = vec![1];
    bytes.extend_from_slice(&(w as u16).to_le_bytes());
    bytes.extend_from_slice(&(h as u16).to_le_bytes());
    bytes.extend_from_slice(image.as_raw());
    Message::Binary(bytes.into())
}

fn main() {
    let per_mode: usize = std::env::args().nth(1).map_or(300, |n| n.parse().unwrap());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let key = SecretKey::from_pem(&std::fs::read_to_string(root.join("keys-example/issuer.key")).unwrap()).unwrap();
    let pass = Pass::realistic_example();
    let code = envelope::sign(&pass, &key).unwrap();

    // One pass held up to the camera in varied conditions (one presentation, as at a
    // checkpoint), and scenes without a code.
    let kinds = [
        Category::Perspective,
        Category::Rotation,
        Category::LowLight,
        Category::Uneven,
        Category::Glare,
        Category::Defocus,
    ];
    let with: Vec<_> = (0..24)
        .map(|i| {
            let spec = Spec {
                category: kinds[i % kinds.len()],
                severity: 0.1 + 0.02 * i as f64,
                seed: 500 + i as u64,
                size: (1280, 720),
            };
            message(&generate_with(spec, pass.clone(), code.clone()).image)
        })
        .collect();
    let without: Vec<_> = (0..24)
        .map(|i| {
            message(
                &generate(Spec { category: Category::NoCode, severity: 0.5, seed: 700 + i, size: (1280, 720) }).image,
            )
        })
        .collect();

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("verifier.toml"), "").unwrap();
    let options = Options {
        trust: Some(root.join("keys-example/trust.toml")),
        zone: Some("440114".parse().unwrap()),
        at: Some("2022-04-15T12:00:00+08:00".into()),
        state: Some(dir.path().join("state.bin")),
        max_age: "24h".into(),
        config: Some(dir.path().join("verifier.toml")),
        ..Options::default()
    };
    let settings = Settings::load(&options).unwrap();
    let log = ScanLog::open(&dir.path().join("scanlog.sqlite")).unwrap();
    let station = Arc::new(Station::new(settings, log));

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    runtime.block_on(async move {
        let token = web::new_token().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = token.clone();
        tokio::spawn(async move { web::run(listener, station, &served, std::future::pending()).await });
        let mut request = format!("ws://{addr}/ws?token={token}").into_client_request().unwrap();
        request.headers_mut().insert("origin", format!("http://{addr}").parse().unwrap());
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();

        println!(
            "station path, 1280×720 luma frames, one in flight, {per_mode} frames a mode ({} cores visible, {})",
            std::thread::available_parallelism().map_or(1, usize::from),
            std::env::consts::ARCH
        );
        println!("| frames | frames/s | station p50 ms | station p95 ms | round trip p50 ms | round trip p95 ms | decode p50 ms | in view |");
        println!("|---|---|---|---|---|---|---|---|");
        for (name, frames) in [("pass in view", &with), ("no code", &without)] {
            let (mut station_ms, mut rtt, mut decode_ms, mut in_view) = (Vec::new(), Vec::new(), Vec::new(), 0);
            let start = Instant::now();
            for i in 0..per_mode {
                let sent = Instant::now();
                socket.send(frames[i % frames.len()].clone()).await.unwrap();
                let answer: serde_json::Value = loop {
                    let Some(Ok(Message::Text(text))) = socket.next().await else { panic!("the station hung up") };
                    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
                    if value["type"] == "result" {
                        break value;
                    }
                };
                rtt.push(sent.elapsed().as_secs_f64() * 1000.0);
                station_ms.push(answer["station_ms"].as_f64().unwrap());
                decode_ms.push(answer["ms"].as_f64().unwrap_or(0.0));
                in_view += usize::from(answer["in_view"] == true);
            }
            let elapsed = start.elapsed();
            for v in [&mut station_ms, &mut rtt, &mut decode_ms] {
                v.sort_by(f64::total_cmp);
            }
            println!(
                "| {name} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {in_view}/{per_mode} |",
                per_mode as f64 / elapsed.as_secs_f64(),
                percentile(&station_ms, 0.5),
                percentile(&station_ms, 0.95),
                percentile(&rtt, 0.5),
                percentile(&rtt, 0.95),
                percentile(&decode_ms, 0.5),
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
}
