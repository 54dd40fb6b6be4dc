//! The station's local web server: the embedded page and one WebSocket.
//!
//! Only the officer's own browser may use it. It listens on loopback only; every request must
//! carry the per-run token (in the URL the station prints) and name a loopback `Host` (no DNS
//! rebinding); a request whose `Origin` is not the station itself is refused with 403, and the
//! WebSocket demands an `Origin`, so another page open in the same browser can neither drive
//! nor read the station.
//!
//! The WebSocket protocol (page → station):
//! - binary `0x01 | width u16 LE | height u16 LE | width×height luma bytes`: a camera frame;
//! - binary `0x02 | image file bytes`: an uploaded photo (JPEG, PNG, WebP);
//! - text `{"type":"text","text":"CP:..."}`: a typed, pasted or scanned text form.
//!
//! Station → page: `{"type":"result",...}` for every input (the page sends its next frame when
//! the answer to the last one has come: one frame in flight), `{"type":"status",...}` every
//! two seconds and after each announcement, `{"type":"error","message":...}` for a message that
//! could not be used. Frames are decoded on a blocking thread, the newest first: a frame that
//! arrives while another is decoded replaces any frame still waiting.

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use image::GrayImage;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::protocol::ToPage;
use super::{MAX_FRAME_SIDE, Station};

const INDEX_HTML: &str = include_str!("assets/index.html");
const STATION_JS: &str = include_str!("assets/station.js");
const STATION_CSS: &str = include_str!("assets/station.css");

/// Largest WebSocket message: a photo upload of up to 16 MiB and its tag byte.
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024 + 1;
/// Largest text form accepted.
pub const MAX_TEXT: usize = 4096;
/// Text forms and photos waiting at most (more are refused: the page sends one at a time).
const MAX_QUEUED: usize = 4;

/// Page, scripts, WebSocket: no other host, no inline code, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
                   connect-src 'self'; media-src 'self' blob: mediastream:; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

/// A fresh per-run token: 128 random bits as 32 hex digits.
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[derive(Clone)]
struct Shared {
    station: Arc<Station>,
    token: Arc<str>,
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The station's routes, for `run` and for in-process tests.
pub fn app(station: Arc<Station>, token: &str) -> Router {
    let shared = Shared { station, token: token.into() };
    Router::new()
        .route("/", get(index))
        .route("/station.js", get(|| async { asset("text/javascript; charset=utf-8", STATION_JS) }))
        .route("/station.css", get(|| async { asset("text/css; charset=utf-8", STATION_CSS) }))
        .route("/ws", get(websocket))
        .layer(middleware::from_fn_with_state(shared.clone(), guard))
        .with_state(shared)
}

/// How long a connection may take to send a request's headers, and stay idle between requests:
/// a connection that sends nothing (or half a request) is closed after it, so idle ones cannot
/// pile up. An open WebSocket is not affected (it is no longer HTTP once upgraded).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves until `shutdown` completes, through `pass_http::serve` (the header-read timeout
/// above, connections per address, a write deadline, a bounded drain), as the server and the
/// console are served.
pub async fn run(
    listener: TcpListener,
    station: Arc<Station>,
    token: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let options = pass_http::Options { header_read_timeout: HEADER_READ_TIMEOUT, ..pass_http::Options::new(64) };
    pass_http::serve(listener, app(station, token), options, shutdown).await
}

fn forbidden(why: &'static str) -> Response {
    (StatusCode::FORBIDDEN, format!("forbidden: {why}\n")).into_response()
}

/// Token, `Host` and `Origin` checks in front of every route.
async fn guard(
    State(shared): State<Shared>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let token_ok = query.token.as_deref().is_some_and(|t| bool::from(t.as_bytes().ct_eq(shared.token.as_bytes())));
    if !token_ok {
        return forbidden("open the address the station printed (it carries this run's token)");
    }
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()).filter(|h| loopback_host(h)) else {
        return forbidden("the station answers only to a loopback address");
    };
    if let Some(origin) = headers.get(header::ORIGIN)
        && origin.as_bytes() != format!("http://{host}").as_bytes()
    {
        return forbidden("requests from other pages are refused");
    }
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// `127.0.0.1:PORT`, `localhost:PORT` or `[::1]:PORT`.
fn loopback_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.parse::<u16>().is_ok() => name,
        _ => host,
    };
    name == "localhost"
        || name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn index(State(shared): State<Shared>) -> Response {
    // The token is hex: safe inside an attribute.
    let page = INDEX_HTML.replace("{{TOKEN}}", &shared.token);
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

async fn websocket(State(shared): State<Shared>, headers: HeaderMap, upgrade: WebSocketUpgrade) -> Response {
    // Browsers always send Origin on a WebSocket; the guard has checked it when present.
    if !headers.contains_key(header::ORIGIN) {
        return forbidden("a WebSocket needs an Origin");
    }
    upgrade
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| session(socket, shared.station))
}

/// One unit of work from the page.
enum Job {
    Frame(GrayImage),
    Text(String),
    Photo(Vec<u8>),
}

/// Reads one message: a job, nothing (control frames), or an error for the page.
fn parse(message: Message) -> Result<Option<Job>, String> {
    match message {
        Message::Binary(bytes) => match bytes.first() {
            Some(1) => {
                let [_, w0, w1, h0, h1, pixels @ ..] = &bytes[..] else {
                    return Err("frame: shorter than its header".into());
                };
                let (w, h) = (u32::from(u16::from_le_bytes([*w0, *w1])), u32::from(u16::from_le_bytes([*h0, *h1])));
                if w == 0 || h == 0 || w > MAX_FRAME_SIDE || h > MAX_FRAME_SIDE {
                    return Err(format!("frame: {w}×{h} pixels (1 to {MAX_FRAME_SIDE} a side)"));
                }
                if pixels.len() != (w * h) as usize {
                    return Err(format!("frame: {} bytes of pixels for {w}×{h}", pixels.len()));
                }
                GrayImage::from_raw(w, h, pixels.to_vec())
                    .map(|f| Some(Job::Frame(f)))
                    .ok_or_else(|| "frame: bad size".into())
            }
            Some(2) => Ok(Some(Job::Photo(bytes[1..].to_vec()))),
            Some(tag) => Err(format!("unknown binary message type {tag}")),
            None => Err("empty message".into()),
        },
        Message::Text(text) => {
            #[derive(Deserialize)]
            struct TextMessage {
                #[serde(rename = "type")]
                kind: String,
                text: String,
            }
            let message: TextMessage =
                serde_json::from_str(&text).map_err(|e| format!("not a station message: {e}"))?;
            if message.kind != "text" {
                return Err(format!("unknown message type {:?}", message.kind));
            }
            if message.text.len() > MAX_TEXT {
                return Err(format!("the text is longer than {MAX_TEXT} bytes: not a pass"));
            }
            Ok(Some(Job::Text(message.text)))
        }
        Message::Ping(_) | Message::Pong(_) | Message::Close(_) => Ok(None),
    }
}

fn error_answer(source: &'static str, message: &str) -> ToPage {
    ToPage::Error { source, message: message.to_owned() }
}

/// Runs `job` on a blocking thread.
fn start(station: &Arc<Station>, job: Job) -> JoinHandle<ToPage> {
    let station = Arc::clone(station);
    tokio::task::spawn_blocking(move || {
        let (source, result) = match job {
            Job::Frame(image) => ("camera", station.frame(&image)),
            Job::Text(text) => ("text", station.text(&text)),
            Job::Photo(bytes) => ("photo", station.photo(&bytes)),
        };
        result.map_or_else(|e| error_answer(source, &e.to_string()), ToPage::Result)
    })
}

async fn send(socket: &mut WebSocket, message: &ToPage) -> bool {
    match serde_json::to_string(message) {
        Ok(text) => socket.send(Message::Text(text.into())).await.is_ok(),
        Err(_) => false,
    }
}

/// One page's session: read messages, keep the newest frame, decode one job at a time.
/// Every answer carries `station_ms`: from the message's arrival to the answer being sent.
async fn session(mut socket: WebSocket, station: Arc<Station>) {
    let mut frame: Option<(GrayImage, Instant)> = None;
    let mut queue: VecDeque<(Job, Instant)> = VecDeque::new();
    let mut running: Option<(JoinHandle<ToPage>, Instant)> = None;
    let mut status = tokio::time::interval(Duration::from_secs(2));
    loop {
        if running.is_none() {
            let next = queue.pop_front().or_else(|| frame.take().map(|(image, at)| (Job::Frame(image), at)));
            running = next.map(|(job, at)| (start(&station, job), at));
        }
        tokio::select! {
            message = socket.recv() => {
                let Some(Ok(message)) = message else { break };
                let received = Instant::now();
                match parse(message) {
                    // The newest frame replaces one still waiting.
                    Ok(Some(Job::Frame(image))) => frame = Some((image, received)),
                    Ok(Some(job)) if queue.len() < MAX_QUEUED => queue.push_back((job, received)),
                    Ok(Some(_)) => {
                        if !send(&mut socket, &error_answer("text", "busy: wait for the last answer")).await { break }
                    }
                    Ok(None) => {}
                    Err(why) => {
                        if !send(&mut socket, &error_answer("message", &why)).await { break }
                    }
                }
            }
            done = async { (&mut running.as_mut().expect("guarded by the branch condition").0).await }, if running.is_some() => {
                let received = running.take().map_or_else(Instant::now, |(_, at)| at);
                let mut answer = done.unwrap_or_else(|e| error_answer("camera", &format!("the check failed: {e}")));
                let mut announced = false;
                if let ToPage::Result(result) = &mut answer {
                    result.station_ms = Some(received.elapsed().as_secs_f64() * 1000.0);
                    announced = result.announce;
                }
                if !send(&mut socket, &answer).await { break }
                if announced {
                    let status = ToPage::Status(station.status());
                    if !send(&mut socket, &status).await { break }
                }
            }
            _ = status.tick() => {
                let station = Arc::clone(&station);
                let Ok(status) = tokio::task::spawn_blocking(move || station.status()).await else { break };
                if !send(&mut socket, &ToPage::Status(status)).await { break }
            }
        }
    }
}

/// The URL the officer opens.
pub fn url(addr: SocketAddr, token: &str) -> String {
    format!("http://{addr}/?token={token}")
}
