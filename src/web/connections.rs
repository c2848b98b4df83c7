//! How the web chat holds its connections: a cap on how many are open at once, a deadline
//! for a request's headers (which also closes a kept-alive connection that sits idle), and a
//! deadline for the whole request, body included. So slow or idle clients (a phone on a
//! weak signal, a workshop's browsers keeping connections open, or someone trickling bytes on
//! purpose) cannot use up the server while others wait.
//!
//! At the cap, new connections wait in the kernel's queue until one closes; they are never
//! refused. Nothing about a connection is logged but errors without addresses.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

/// Limits on connections and on how long a request may take to arrive.
#[derive(Clone, Copy, Debug)]
pub struct Connections {
    /// Connections open at once; more wait until one closes. Keep the process's file limit
    /// (`LimitNOFILE`) well above it.
    pub max_open: usize,
    /// A request's headers must arrive within this; a kept-alive connection that sends no
    /// new request for this long is closed.
    pub header_timeout: Duration,
    /// A whole request, body included, must arrive and be answered within this.
    pub request_timeout: Duration,
}

impl Default for Connections {
    fn default() -> Connections {
        Connections {
            max_open: 4096,
            header_timeout: Duration::from_secs(15),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` fires, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Connections,
    shutdown: CancellationToken,
) -> Result<()> {
    let max_open = limits.max_open.clamp(1, Semaphore::MAX_PERMITS);
    let open = Arc::new(Semaphore::new(max_open));
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = open.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was taken:
                    // wait a moment rather than spin.
                    tracing::warn!(error = %e, "cannot accept a web connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _permit = permit;
            serve_connection(stream, peer, app, limits, shutdown).await;
        });
    }
    // Wait for every open connection to finish: each holds a permit until it closes.
    let _ = open.acquire_many(max_open as u32).await;
    Ok(())
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: Connections,
    shutdown: CancellationToken,
) {
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(axum::body::Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request)
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "a web connection ended with an error");
            }
        }
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}
