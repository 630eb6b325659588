//! Restartable control-plane tasks: a task runs with its current input until a reload
//! publishes a new one, then it is stopped (it finishes what it does, e.g. the store sync
//! flushes `last-known`) and started again with the new input. Used for the store sync
//! (new zone configuration and static records) and the health agent (new `[health]`).
//! The data plane is never touched: it keeps serving the last published snapshot.

use std::future::Future;
use tokio::sync::watch;

/// Resolves once `true` is sent on `rx` (never, if its sender is dropped first).
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Runs `make(input, stop)` for each input published on `inputs` (one at a time) until
/// `stop` turns true. Returns the task's own result when it ends by itself.
pub async fn run<I, F, Fut>(
    name: &'static str,
    mut inputs: watch::Receiver<I>,
    mut stop: watch::Receiver<bool>,
    make: F,
) -> anyhow::Result<()>
where
    I: Clone,
    F: Fn(I, watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    loop {
        let input = inputs.borrow_and_update().clone();
        let (generation_tx, generation_rx) = watch::channel(false);
        let task = make(input, generation_rx);
        tokio::pin!(task);
        let restart = tokio::select! {
            done = &mut task => return done,
            _ = stopped(&mut stop) => false,
            changed = inputs.changed() => changed.is_ok(),
        };
        let _ = generation_tx.send(true);
        task.await?;
        if !restart {
            return Ok(());
        }
        tracing::info!("{name}: restarted with the reloaded configuration");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn restarts_with_each_input_and_stops() {
        let (in_tx, in_rx) = watch::channel(1u32);
        let (stop_tx, stop_rx) = watch::channel(false);
        let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
        let finished = Arc::new(AtomicUsize::new(0));
        let f = finished.clone();
        let handle = tokio::spawn(run("test", in_rx, stop_rx, move |input, mut stop| {
            let (seen, f) = (seen_tx.clone(), f.clone());
            async move {
                seen.send(input).unwrap();
                stopped(&mut stop).await;
                f.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        }));
        assert_eq!(seen_rx.recv().await, Some(1));
        in_tx.send(2).unwrap();
        assert_eq!(seen_rx.recv().await, Some(2));
        assert_eq!(finished.load(Ordering::SeqCst), 1);
        stop_tx.send(true).unwrap();
        handle.await.unwrap().unwrap();
        assert_eq!(finished.load(Ordering::SeqCst), 2);
    }
}
