//! Running out of file descriptors never stops the accept loop for good
//! (issue 11): the real binary under an open-file limit of 64, flooded with
//! idle connections until `accept` fails, serves again once they are gone.
//! It also says at start which limit it runs with.

use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use crate::common::TempDir;
use crate::process::GavelProcess;

const OPEN_FILES: u64 = 64;

#[tokio::test]
async fn the_server_accepts_again_after_running_out_of_file_descriptors() {
    let dir = TempDir::new("gavel-fds");
    let url = format!("sqlite://{}", dir.0.join("gavel.db").display());
    let mut server = GavelProcess::start_with_open_files(&url, Some(OPEN_FILES)).await;
    let limit = server.log_lines(|line| line["message"] == "open-file limit");
    assert_eq!(limit.len(), 1, "the start-up log names the open-file limit");
    assert_eq!(limit[0]["soft"], OPEN_FILES);
    assert_eq!(limit[0]["hard"], OPEN_FILES);

    // More idle connections than the process has descriptors for: each
    // sends half a request line, so it counts as a client still talking.
    let address = server.api.url("").trim_start_matches("http://").to_string();
    let mut flood = Vec::new();
    for _ in 0..(OPEN_FILES * 2) {
        if let Ok(Ok(mut socket)) =
            tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(&address)).await
        {
            let _ = socket.write_all(b"GET /healthz HT").await;
            flood.push(socket);
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let refused = tokio::time::timeout(
        Duration::from_secs(2),
        reqwest::Client::new()
            .get(server.api.url("/healthz"))
            .send(),
    )
    .await;
    assert!(
        !matches!(refused, Ok(Ok(ref response)) if response.status().is_success()),
        "with every descriptor taken a new request cannot be served"
    );
    drop(flood);
    // Accepting resumes by itself once descriptors are free again.
    let waited = server
        .api
        .wait_for_status("/healthz", 200, Duration::from_secs(15))
        .await;
    eprintln!("served again {waited:?} after the flood ended");
    assert!(server.panics().is_empty(), "{:?}", server.panics());
    server.terminate().await;
}
