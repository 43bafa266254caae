//! The real `gavel` binary as a child process: started with `serve` on a
//! random port (read back from its JSON "gavel listening" log line), its
//! log kept for the test to read, SIGKILLed on demand.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use crate::support::{Api, ADMIN_PASSWORD, ADMIN_USER};

pub struct GavelProcess {
    child: Child,
    pub api: Api,
    logs: Arc<Mutex<Vec<String>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl GavelProcess {
    /// Starts `gavel serve` on `database_url` and waits until it listens.
    pub async fn start(database_url: &str) -> Self {
        Self::start_with_open_files(database_url, None).await
    }

    /// As [`GavelProcess::start`], with both open-file limits set to
    /// `open_files` (through `prlimit`) when given.
    pub async fn start_with_open_files(database_url: &str, open_files: Option<u64>) -> Self {
        let binary = env!("CARGO_BIN_EXE_gavel");
        let mut command = match open_files {
            None => Command::new(binary),
            Some(limit) => {
                let mut command = Command::new("prlimit");
                command.arg(format!("--nofile={limit}:{limit}")).arg(binary);
                command
            }
        };
        command
            .arg("serve")
            .env_remove("REDIS_URL")
            .env_remove("GAVEL_PUBLIC_ORIGINS")
            .env_remove("GAVEL_NODE_ID")
            .env("GAVEL_BIND", "127.0.0.1:0")
            .env("DATABASE_URL", database_url)
            .env("GAVEL_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .env("GAVEL_BID_RATE_PER_SEC", "0")
            .env("GAVEL_AUTH_RATE_PER_MIN", "0")
            .env("GAVEL_ADMIN_USER", ADMIN_USER)
            .env("GAVEL_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("GAVEL_WORKERS", "2")
            .env("GAVEL_SHUTDOWN_TIMEOUT_SECS", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("start the gavel binary");
        let stderr = child.stderr.take().expect("a stderr pipe");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (address_tx, address_rx) = tokio::sync::oneshot::channel::<String>();
        let kept = Arc::clone(&logs);
        tokio::spawn(async move {
            let mut address_tx = Some(address_tx);
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    if value["message"] == "gavel listening" {
                        if let (Some(tx), Some(address)) =
                            (address_tx.take(), value["address"].as_str())
                        {
                            let _ = tx.send(address.to_string());
                        }
                    }
                }
                lock(&kept).push(line);
            }
        });
        let address = match tokio::time::timeout(Duration::from_secs(60), address_rx).await {
            Ok(Ok(address)) => address,
            _ => {
                let _ = child.start_kill();
                tokio::time::sleep(Duration::from_millis(200)).await;
                panic!(
                    "gavel did not say where it listens; its log:\n{}",
                    lock(&logs).join("\n")
                );
            }
        };
        let api = Api::new(&format!("http://{address}"));
        Self { child, api, logs }
    }

    /// SIGKILL: no drain, no goodbye. Returns once the process is gone.
    pub async fn kill(&mut self) {
        self.child.start_kill().expect("send SIGKILL");
        let status = self.child.wait().await.expect("reap the process");
        assert!(!status.success(), "a killed process does not exit 0");
    }

    /// SIGTERM, then wait for the graceful exit.
    pub async fn terminate(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            self.kill().await;
        }
    }

    /// Every log line so far.
    pub fn logs(&self) -> Vec<String> {
        lock(&self.logs).clone()
    }

    /// The JSON log lines for which `pick` says yes.
    pub fn log_lines(&self, pick: impl Fn(&Value) -> bool) -> Vec<Value> {
        lock(&self.logs)
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|value| pick(value))
            .collect()
    }

    /// Lines that say something panicked.
    pub fn panics(&self) -> Vec<String> {
        lock(&self.logs)
            .iter()
            .filter(|line| line.contains("panicked"))
            .cloned()
            .collect()
    }
}
