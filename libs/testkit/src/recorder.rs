//! A local HTTP server standing in for a provider at its documented request shape (an SMS
//! gateway, the Telegram Bot API, a push service): it answers as told and keeps every request.
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// When it arrived.
    pub at: Instant,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

type Answer = Arc<dyn Fn(&Request) -> (u16, String) + Send + Sync>;

pub struct Recorder {
    /// http://127.0.0.1:port
    pub url: String,
    seen: Arc<Mutex<Vec<Request>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    /// Serves on a free local port, answering each request with `answer(request)`: (status, body).
    pub async fn start(answer: impl Fn(&Request) -> (u16, String) + Send + Sync + 'static) -> Recorder {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let seen: Arc<Mutex<Vec<Request>>> = Arc::default();
        let (keep, answer): (_, Answer) = (seen.clone(), Arc::new(answer));
        let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (keep, answer) = (keep.clone(), answer.clone());
            async move {
                let request = Request {
                    method: method.to_string(),
                    path: uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
                    headers: headers
                        .iter()
                        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
                        .collect(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                    at: Instant::now(),
                };
                let (status, text) = answer(&request);
                keep.lock().unwrap_or_else(|p| p.into_inner()).push(request);
                (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), text)
            }
        };
        let router = axum::Router::new().fallback(handler);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Recorder { url, seen, task }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits until at least `n` requests came (panics after `within`), then a moment more.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Request> {
        let deadline = Instant::now() + within;
        while self.requests().len() < n {
            assert!(Instant::now() < deadline, "{} of {n} requests arrived within {within:?}", self.requests().len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.requests()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}
