//! The station without a browser: a real server on 127.0.0.1:0, a real WebSocket client
//! pushing synthetic webcam frames of real passes (camsim), a real scan log on disk.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pass_camsim::{Category, Frame, Spec, generate, generate_with};
use pass_core::revocation::{RevocationState, sign_snapshot};
use pass_core::{Pass, SecretKey, envelope};
use pass_verifier::scanlog::ScanLog;
use pass_verifier::settings::{Options, Settings};
use pass_verifier::state::LocalState;
use pass_verifier::station::{Station, web};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, Message, client::IntoClientRequest};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The frame budget in these tests.
const FRAME_BUDGET: Duration = Duration::from_secs(5);
const GRACE: Duration = Duration::from_millis(400);
const DURING: &str = "2022-04-15T12:00:00+08:00";

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn key(file: &str) -> SecretKey {
    SecretKey::from_pem(&std::fs::read_to_string(root().join("keys-example").join(file)).unwrap()).unwrap()
}

/// The realistic pass with `serial`, signed with the example issuer key.
fn pass(serial: u64, change: impl FnOnce(&mut Pass)) -> (Pass, Vec<u8>) {
    let mut pass = Pass::realistic_example();
    pass.serial = serial;
    change(&mut pass);
    let bytes = envelope::sign(&pass, &key("issuer.key")).unwrap();
    (pass, bytes)
}

fn frame_of((pass, bytes): &(Pass, Vec<u8>), seed: u64) -> Frame {
    let spec = Spec { category: Category::Rotation, severity: 0.1, seed, size: (1280, 720) };
    generate_with(spec, pass.clone(), bytes.clone())
}

fn blank(seed: u64) -> Frame {
    generate(Spec { category: Category::NoCode, severity: 0.5, seed, size: (1280, 720) })
}

fn frame_message(frame: &Frame) -> Message {
    let (w, h) = frame.image.dimensions();
    let mut bytes = vec![1];
    bytes.extend_from_slice(&(w as u16).to_le_bytes());
    bytes.extend_from_slice(&(h as u16).to_le_bytes());
    bytes.extend_from_slice(frame.image.as_raw());
    Message::Binary(bytes.into())
}

struct Harness {
    addr: std::net::SocketAddr,
    token: String,
    log_path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// A station checking as of `DURING`, with serial 666 revoked by signed revocation data.
async fn start() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let state_path = dir.path().join("state.bin");
    let mut revoked = RevocationState { version: 3, issued_at: 1_649_995_200, ..RevocationState::default() };
    revoked.add_serials(key("issuer.key").public_key().id(), [666]);
    let document = sign_snapshot(&revoked.snapshot(), &key("authority.key"));
    let mut state = LocalState::default();
    pass_verifier::sync::import(&document, &key("authority.key").public_key(), &mut state, 1_649_995_200).unwrap();
    state.save(&state_path).unwrap();

    let options = Options {
        trust: Some(root().join("keys-example/trust.toml")),
        zone: Some("440114".parse().unwrap()),
        at: Some(DURING.into()),
        state: Some(state_path.clone()),
        max_age: "100000d".into(),
        config: Some(dir.path().join("no-config.toml")),
        ..Options::default()
    };
    std::fs::write(dir.path().join("no-config.toml"), "").unwrap();
    let settings = Settings::load(&options).unwrap();
    let log_path = ScanLog::path_beside(&state_path);
    // A generous frame budget: these tests check what the station says about a frame, not how
    // fast a loaded machine decodes it (the budget is measured by scripts/bench-station.sh).
    let station = Arc::new(
        Station::new(settings, ScanLog::open(&log_path).unwrap()).with_grace(GRACE).with_frame_budget(FRAME_BUDGET),
    );
    let token = web::new_token().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = token.clone();
    tokio::spawn(async move { web::run(listener, station, &served, std::future::pending()).await });
    Harness { addr, token, log_path, _dir: dir }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn connect(h: &Harness, origin: &str) -> Result<Socket, tungstenite::Error> {
    let mut request = format!("ws://{}/ws?token={}", h.addr, h.token).into_client_request().unwrap();
    request.headers_mut().insert("origin", origin.parse().unwrap());
    tokio_tungstenite::connect_async(request).await.map(|(socket, _)| socket)
}

/// Sends one message and returns the first answer that is not a status update.
async fn ask(socket: &mut Socket, message: Message) -> Value {
    socket.send(message).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let next = tokio::time::timeout_at(deadline, socket.next()).await.expect("an answer within 30 s");
        let Message::Text(text) = next.unwrap().unwrap() else { continue };
        let value: Value = serde_json::from_str(&text).unwrap();
        if value["type"] != "status" {
            return value;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_give_one_announcement_per_presentation_and_a_log_row_each() {
    let h = start().await;
    let mut socket = connect(&h, &format!("http://{}", h.addr)).await.unwrap();
    let good = pass(1001, |_| {});
    let revoked = pass(666, |_| {});
    let mut forged = pass(1002, |_| {});
    let last = forged.1.len() - 1;
    forged.1[last] ^= 1; // one bit of the signature
    let expired = pass(1003, |p| p.valid_until = p.valid_from + 86_400);

    // The good pass held up for a while, one frame lost while the hand moves.
    let mut announced = Vec::new();
    for (i, frame) in
        [frame_of(&good, 1), frame_of(&good, 2), blank(3), frame_of(&good, 4), frame_of(&good, 5)].iter().enumerate()
    {
        let answer = ask(&mut socket, frame_message(frame)).await;
        assert_eq!(answer["type"], "result", "{answer}");
        assert_eq!(answer["in_view"], frame.code.is_some(), "frame {i}: {answer}");
        if answer["announce"] == true {
            announced.push(answer["verdict"].clone());
        }
    }
    assert_eq!(announced.len(), 1, "one announcement for one presentation: {announced:?}");
    assert_eq!(announced[0]["verdict"], "accepted");
    assert_eq!(announced[0]["pass"]["plate"], "粤A12345");

    // Revoked, forged, expired: each one announcement with its stable reason.
    for (presented, reason, seed) in
        [(&revoked, "revoked", 10), (&forged, "bad_signature", 20), (&expired, "expired", 30)]
    {
        let first = ask(&mut socket, frame_message(&frame_of(presented, seed))).await;
        assert_eq!(first["announce"], true, "{first}");
        assert_eq!(first["verdict"]["verdict"], "rejected");
        assert_eq!(first["verdict"]["reason"], reason, "{first}");
        let again = ask(&mut socket, frame_message(&frame_of(presented, seed + 1))).await;
        assert_eq!(again["announce"], false, "still the same presentation: {again}");
    }
    // The forged pass shows nothing of its (unauthenticated) contents.
    // The good pass again, after a gap longer than the grace: a new announcement that says it
    // was seen before today.
    let deadline = std::time::Instant::now() + GRACE + Duration::from_secs(10);
    let mut seed = 100;
    while ask(&mut socket, frame_message(&blank(seed))).await["presenting"] == true {
        assert!(std::time::Instant::now() < deadline, "the presentation never ended");
        seed += 1;
    }
    let back = ask(&mut socket, frame_message(&frame_of(&good, 40))).await;
    assert_eq!(back["announce"], true, "{back}");
    assert_eq!(back["verdict"]["seen_before"]["count"], 1, "{back}");

    // Text form and photo: same verdict path, each submission announced.
    let text = serde_json::json!({"type": "text", "text": envelope::to_text(&revoked.1)}).to_string();
    let answer = ask(&mut socket, Message::Text(text.into())).await;
    assert_eq!((answer["source"].as_str(), answer["verdict"]["reason"].as_str()), (Some("text"), Some("revoked")));
    let mut png = Vec::new();
    frame_of(&good, 50).image.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    let mut photo = vec![2];
    photo.extend_from_slice(&png);
    let answer = ask(&mut socket, Message::Binary(photo.into())).await;
    assert_eq!((answer["source"].as_str(), answer["verdict"]["verdict"].as_str()), (Some("photo"), Some("accepted")));

    // Garbage gets a clear error and the station goes on.
    for garbage in [
        Message::Binary(vec![1, 0, 5, 0, 5, 1, 2, 3].into()),
        Message::Binary(vec![1, 0xff, 0xff, 0xff, 0xff].into()),
        Message::Binary(vec![9, 9].into()),
        Message::Binary(vec![2, 1, 2, 3].into()),
        Message::Text("{\"type\":\"text\"".into()),
        Message::Text(serde_json::json!({"type": "text", "text": "x".repeat(10_000)}).to_string().into()),
    ] {
        let answer = ask(&mut socket, garbage).await;
        assert_eq!(answer["type"], "error", "{answer}");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let answer = ask(&mut socket, frame_message(&blank(60))).await;
    assert_eq!(answer["in_view"], false, "still answering: {answer}");

    // Every announcement is a log row, in order.
    let rows = ScanLog::open(&h.log_path).unwrap().entries_since(0).unwrap();
    let reasons: Vec<_> = rows.iter().map(|r| r.reason.as_deref().unwrap_or("accepted")).collect();
    assert_eq!(reasons, ["accepted", "revoked", "bad_signature", "expired", "accepted", "revoked", "accepted"]);
    assert_eq!(rows[0].plate.as_deref(), Some("粤A12345"));
    assert_eq!(rows[2].plate, None, "a forged pass's contents are not trusted, not logged");
    assert_eq!(rows[1].serial, Some(666));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_pages_and_requests_without_the_token_are_refused() {
    let h = start().await;
    let own = format!("http://{}", h.addr);
    // A foreign page's WebSocket, or one without an Origin: refused at the handshake.
    for origin in ["http://evil.example", "null", "http://127.0.0.1:1"] {
        match connect(&h, origin).await {
            Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403, "{origin}"),
            other => panic!("{origin}: {:?}", other.map(|_| "connected")),
        }
    }
    let no_origin = format!("ws://{}/ws?token={}", h.addr, h.token);
    match tokio_tungstenite::connect_async(no_origin).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("no Origin: {:?}", other.map(|_| "connected")),
    }
    let bad_token = format!("ws://{}/ws?token=0000", h.addr).into_client_request().unwrap();
    let mut bad_token = bad_token;
    bad_token.headers_mut().insert("origin", own.parse().unwrap());
    assert!(
        matches!(tokio_tungstenite::connect_async(bad_token).await, Err(tungstenite::Error::Http(r)) if r.status() == 403)
    );

    // Plain HTTP: the page needs the token, a loopback Host and no foreign Origin.
    let get = |path: &str, headers: &[(&str, &str)]| {
        let mut request = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        let addr = h.addr;
        async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).await.unwrap();
            response
        }
    };
    let host = h.addr.to_string();
    let with_token = format!("/?token={}", h.token);
    let page = get(&with_token, &[("Host", &host)]).await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("data-verdict=\"idle\"") && page.contains("content-security-policy"), "{page}");
    assert!(get("/", &[("Host", &host)]).await.starts_with("HTTP/1.1 403"));
    assert!(get("/?token=abc", &[("Host", &host)]).await.starts_with("HTTP/1.1 403"));
    let js = format!("/station.js?token={}", h.token);
    assert!(get(&js, &[("Host", &host)]).await.starts_with("HTTP/1.1 200"));
    assert!(get("/station.js", &[("Host", &host)]).await.starts_with("HTTP/1.1 403"));
    assert!(get(&with_token, &[("Host", &host), ("Origin", "http://evil.example")]).await.starts_with("HTTP/1.1 403"));
    let rebound = format!("evil.example:{}", h.addr.port());
    assert!(get(&with_token, &[("Host", &rebound)]).await.starts_with("HTTP/1.1 403"), "DNS rebinding");
}

/// A connection that sends nothing, or half a request, is closed by the station after its
/// header timeout, so idle connections cannot pile up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_sent_connections_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = start().await;
    let started = tokio::time::Instant::now();
    let mut silent = TcpStream::connect(h.addr).await.unwrap();
    let mut half = TcpStream::connect(h.addr).await.unwrap();
    half.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.unwrap();
    for stream in [&mut silent, &mut half] {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(web::HEADER_READ_TIMEOUT * 3, stream.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "still open after {:?}", started.elapsed());
    }
    assert!(started.elapsed() >= web::HEADER_READ_TIMEOUT - Duration::from_secs(1));
}
