//! A webhook receiver on loopback: records every request, answers with scripted status
//! codes (then a default), can hold each request a while, and notices when two requests
//! for the same event are in flight at once.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// What the receiver answered.
    pub status: u16,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// Requests whose answer was sent (a request cut off mid-delay is not here).
    answered: Vec<Received>,
    script: VecDeque<u16>,
    default_status: u16,
    delay: Duration,
    in_flight: HashMap<String, usize>,
    overlaps: usize,
    started: usize,
}

#[derive(Debug, Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

async fn receive(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let delay = {
        let mut i = inner.lock().unwrap();
        i.started += 1;
        let n = i.in_flight.entry(id.clone()).or_default();
        *n += 1;
        if *n > 1 {
            i.overlaps += 1;
        }
        i.delay
    };
    // Counts the request out even if the sender hangs up mid-delay.
    struct Leave(Arc<Mutex<Inner>>, String);
    impl Drop for Leave {
        fn drop(&mut self) {
            if let Ok(mut i) = self.0.lock()
                && let Some(n) = i.in_flight.get_mut(&self.1)
            {
                *n -= 1;
            }
        }
    }
    let _leave = Leave(inner.clone(), id);
    tokio::time::sleep(delay).await;
    let mut i = inner.lock().unwrap();
    let status = i.script.pop_front().unwrap_or(i.default_status);
    let headers = headers.iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())).collect();
    i.answered.push(Received { headers, body: body.to_vec(), status });
    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
}

impl Receiver {
    /// Listens on loopback; answers 200 unless told otherwise.
    pub async fn start() -> Receiver {
        let inner = Arc::new(Mutex::new(Inner { default_status: 200, ..Inner::default() }));
        let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, inner }
    }

    /// The next answers, in order; then the default.
    pub fn script(&self, statuses: &[u16]) {
        self.inner.lock().unwrap().script.extend(statuses);
    }

    pub fn set_default(&self, status: u16) {
        self.inner.lock().unwrap().default_status = status;
    }

    /// Holds each request this long before answering.
    pub fn set_delay(&self, delay: Duration) {
        self.inner.lock().unwrap().delay = delay;
    }

    pub fn answered(&self) -> Vec<Received> {
        self.inner.lock().unwrap().answered.clone()
    }

    /// Requests that arrived, answered or not.
    pub fn started(&self) -> usize {
        self.inner.lock().unwrap().started
    }

    /// How many times a request arrived while another for the same event was in flight.
    pub fn overlaps(&self) -> usize {
        self.inner.lock().unwrap().overlaps
    }

    /// Waits until at least `n` requests were answered.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        crate::eventually(&format!("{n} webhook requests"), timeout, || async {
            let got = self.answered();
            (got.len() >= n).then_some(got)
        })
        .await
    }
}
