//! The notification gateway as the tests see it: a loopback HTTP server that records every
//! JSON body posted to it and returns 204, or 503 for as many requests as `fail_next` set.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http_body_util::BodyExt;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// A running sink; it stops when dropped.
pub struct Sink {
    /// Bound address.
    pub address: SocketAddr,
    received: Arc<Mutex<Vec<Value>>>,
    failures_left: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Sink {
    /// Starts a sink on a free loopback port.
    pub async fn start() -> std::io::Result<Sink> {
        Self::start_at("127.0.0.1:0").await
    }

    /// Starts a sink on `address`, such as `127.0.0.1:3099`.
    pub async fn start_at(address: &str) -> std::io::Result<Sink> {
        let listener = tokio::net::TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        let received = Arc::new(Mutex::new(Vec::new()));
        let failures_left = Arc::new(AtomicUsize::new(0));
        let store = received.clone();
        let failing = failures_left.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = store.clone();
                let failing = failing.clone();
                tokio::spawn(async move {
                    let service =
                        service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                            let store = store.clone();
                            let failing = failing.clone();
                            async move {
                                let body = request
                                    .into_body()
                                    .collect()
                                    .await
                                    .map(|collected| collected.to_bytes())
                                    .unwrap_or_default();
                                let mut response = hyper::Response::new(String::new());
                                let fail = failing
                                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                                        left.checked_sub(1)
                                    })
                                    .is_ok();
                                if fail {
                                    *response.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
                                    return Ok::<_, Infallible>(response);
                                }
                                let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                                store
                                    .lock()
                                    .unwrap_or_else(|poison| poison.into_inner())
                                    .push(value);
                                *response.status_mut() = hyper::StatusCode::NO_CONTENT;
                                Ok::<_, Infallible>(response)
                            }
                        });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Sink {
            address,
            received,
            failures_left,
            task,
        })
    }

    /// Makes the next `count` requests fail with 503; failed requests are not recorded.
    pub fn fail_next(&self, count: usize) {
        self.failures_left.store(count, Ordering::SeqCst);
    }

    /// The webhook URL to configure.
    pub fn url(&self) -> String {
        format!("http://{}/notify", self.address)
    }

    /// The origin for `allowed_outbound_hosts`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every body received so far.
    pub fn received(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}
