//! Work a service repeats for as long as it runs (expiry, reservation timeouts, purging what is
//! past its retention): one loop that logs a failing pass and tries again at the next tick, and
//! stops when the server drains.
use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Runs `pass` every `every` until `stop` is cancelled. A pass returns how many things it changed;
/// a failed pass is logged with its cause chain and the next one runs on time.
pub async fn every<F, Fut>(name: &'static str, every: Duration, stop: CancellationToken, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<u64>>,
{
    loop {
        match pass().await {
            Ok(0) => {}
            Ok(changed) => tracing::debug!(sweep = name, changed, "sweep pass"),
            Err(error) => tracing::warn!(sweep = name, error = format!("{error:#}"), "sweep pass failed"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
