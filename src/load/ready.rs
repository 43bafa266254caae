//! [`Ready`]: how a bidder or watcher task tells the runner, exactly once,
//! whether its first connection came up (dropping it unsent means "failed").

use tokio::sync::mpsc;

/// A one-time "connected / failed" report to the runner.
#[derive(Debug)]
pub struct Ready(Option<mpsc::UnboundedSender<bool>>);

impl Ready {
    pub fn new(sender: mpsc::UnboundedSender<bool>) -> Self {
        Self(Some(sender))
    }

    /// Reports success (once; later calls do nothing).
    pub fn ok(&mut self) {
        if let Some(sender) = self.0.take() {
            let _ = sender.send(true);
        }
    }
}

impl Drop for Ready {
    fn drop(&mut self) {
        if let Some(sender) = self.0.take() {
            let _ = sender.send(false);
        }
    }
}

/// Waits for `expected` reports (or until every task is gone), calling
/// `each` per report; returns how many succeeded.
pub async fn wait_all(
    receiver: &mut mpsc::UnboundedReceiver<bool>,
    expected: usize,
    mut each: impl FnMut(),
) -> usize {
    let mut succeeded = 0;
    for _ in 0..expected {
        match receiver.recv().await {
            Some(ok) => {
                succeeded += usize::from(ok);
                each();
            }
            None => break,
        }
    }
    succeeded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dropped_reports_count_as_failures() {
        let (sender, mut receiver) = mpsc::unbounded_channel();
        let mut good = Ready::new(sender.clone());
        let bad = Ready::new(sender.clone());
        drop(sender);
        good.ok();
        good.ok();
        drop(bad);
        drop(good);
        let mut seen = 0;
        assert_eq!(wait_all(&mut receiver, 5, || seen += 1).await, 1);
        assert_eq!(seen, 2);
    }
}
