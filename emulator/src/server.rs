//! The accept loop and what wraps every request before routing: counting and recording,
//! latency, fault injection, authentication.
//!
//! Why hyper directly rather than `axum::serve`: a fault must be able to close the TCP
//! connection without any response — before handling (nothing done) or after handling (the
//! write done, the answer lost). Each connection is served by hyper's HTTP/1 connection
//! inside a `select!` with a per-connection kill signal; firing it drops the connection
//! (and its socket) while the request is in flight, so the client sees a connection error,
//! not a status. The axum [`Router`](axum::Router) is called as a plain tower service.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::response::IntoResponse;
use base64::Engine;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rand::Rng;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Notify};
use tower::ServiceExt;

use crate::errors::{self, ApiError};
use crate::{api, Auth, FaultKind, Recorded, Shared};

/// Accept connections until `stop` fires (or its sender is dropped).
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    let router = api::router(shared.clone());
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(stream, router.clone(), shared.clone()));
            }
        }
    }
}

/// How a fault ends a connection: fired from the request handler.
#[derive(Default)]
struct Kill {
    fired: Notify,
    /// `true`: a TCP RST (zero linger) rather than an orderly close.
    reset: AtomicBool,
}

impl Kill {
    fn fire(&self, reset: bool) {
        self.reset.store(reset, Ordering::SeqCst);
        self.fired.notify_one();
    }
}

async fn connection(stream: tokio::net::TcpStream, router: axum::Router, shared: Arc<Shared>) {
    // A second handle on the socket, to reset it after hyper's handle is dropped.
    let Some((stream, spare)) = stream
        .into_std()
        .and_then(|s| Ok((s.try_clone()?, s)))
        .ok()
        .and_then(|(a, b)| {
            Some((
                tokio::net::TcpStream::from_std(a).ok()?,
                tokio::net::TcpStream::from_std(b).ok()?,
            ))
        })
    else {
        return;
    };
    let kill = Arc::new(Kill::default());
    let svc_kill = kill.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        handle(req, router.clone(), shared.clone(), svc_kill.clone())
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = conn => {}
        // dropping `conn` closes the socket with the request unanswered
        _ = kill.fired.notified() => {
            if kill.reset.load(Ordering::SeqCst) {
                let _ = spare.set_zero_linger();
            }
        }
    }
    drop(spare);
}

/// Fault drawn for one request, if any.
fn draw_fault(shared: &Shared, method: &str, path: &str) -> Option<FaultKind> {
    let mut knobs = shared.knobs();
    let faults = knobs.faults.clone();
    if faults.rate <= 0.0 || faults.kinds.is_empty() {
        return None;
    }
    if let Some(only) = &faults.only_methods {
        if !only.iter().any(|m| m.eq_ignore_ascii_case(method)) {
            return None;
        }
    }
    if let Some(only) = &faults.only_paths {
        if !only.iter().any(|p| path.ends_with(p.as_str())) {
            return None;
        }
    }
    if faults
        .limit
        .is_some_and(|limit| knobs.faults_injected >= limit)
    {
        return None;
    }
    let hit = knobs.rng.gen_bool(faults.rate.clamp(0.0, 1.0));
    let pick = knobs.rng.gen_range(0..faults.kinds.len());
    if hit {
        knobs.faults_injected += 1;
        faults.kinds.get(pick).cloned()
    } else {
        None
    }
}

async fn handle(
    req: Request<Incoming>,
    router: axum::Router,
    shared: Arc<Shared>,
    kill: Arc<Kill>,
) -> Result<Response<Body>, Infallible> {
    shared.request_count.fetch_add(1, Ordering::SeqCst);
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let record = |status: Option<u16>| {
        shared.record(Recorded {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            status,
        })
    };
    let latency = shared.knobs().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let fault = draw_fault(&shared, &method, &path);
    match fault {
        Some(FaultKind::DropBeforeHandling | FaultKind::ResetBeforeHandling) => {
            record(None);
            kill.fire(fault == Some(FaultKind::ResetBeforeHandling));
            return std::future::pending().await;
        }
        Some(FaultKind::Status(code)) => {
            let resp = status_fault(&shared, code, &path);
            record(Some(resp.status().as_u16()));
            return Ok(resp);
        }
        Some(FaultKind::TooManyRequests { retry_after_secs }) => {
            let mut resp = (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response();
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            record(Some(429));
            return Ok(resp);
        }
        Some(FaultKind::Stall(d)) => tokio::time::sleep(d).await,
        Some(FaultKind::DropAfterHandling | FaultKind::ResetAfterHandling) | None => {}
    }
    let resp = if authorized(&shared, &req, &path) {
        match router.oneshot(req.map(Body::new)).await {
            Ok(r) => r,
            Err(never) => match never {},
        }
    } else {
        errors::unauthorized()
    };
    if matches!(
        fault,
        Some(FaultKind::DropAfterHandling | FaultKind::ResetAfterHandling)
    ) {
        // the handler ran to completion (the write is done); the answer is lost
        record(None);
        kill.fire(fault == Some(FaultKind::ResetAfterHandling));
        return std::future::pending().await;
    }
    record(Some(resp.status().as_u16()));
    Ok(resp)
}

/// 500 looks like Kestra's own error; 502/503/504 like the reverse proxy in front of it.
fn status_fault(shared: &Shared, code: u16, path: &str) -> Response<Body> {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        return ApiError::internal("injected fault").render(shared.version, path);
    }
    let reason = status.canonical_reason().unwrap_or("Error");
    let mut resp = (
        status,
        format!("<html><body><h1>{code} {reason}</h1></body></html>\n"),
    )
        .into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    resp
}

/// Kestra's `AuthenticationFilter`: `/api/v1/**` needs credentials except the open
/// configuration endpoint (`/api/v1/configs` before 2.0, `/api/v1/configs/login` since).
fn authorized(shared: &Shared, req: &Request<Incoming>, path: &str) -> bool {
    let open_path = if shared.version.configs_open() {
        "/api/v1/configs"
    } else {
        "/api/v1/configs/login"
    };
    if matches!(shared.auth, Auth::None) || !path.starts_with("/api/") || path == open_path {
        return true;
    }
    let Some(value) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    let basic_ok = |user: &str, pass: &str| {
        scheme.eq_ignore_ascii_case("basic")
            && base64::engine::general_purpose::STANDARD
                .decode(rest)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .is_some_and(|creds| creds == format!("{user}:{pass}"))
    };
    let bearer_ok = |token: &str| scheme.eq_ignore_ascii_case("bearer") && rest == token;
    match &shared.auth {
        Auth::None => true,
        Auth::Basic { username, password } => basic_ok(username, password),
        Auth::Bearer(token) => bearer_ok(token),
        Auth::BasicOrBearer {
            username,
            password,
            token,
        } => basic_ok(username, password) || bearer_ok(token),
    }
}
