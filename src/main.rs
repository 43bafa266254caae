//! The `gavel` binary: parses the command line and hands over to the library.

use clap::Parser;

use gavel::config::{Cli, Command, LogFormat, ServeConfig};
use gavel::startup::Application;
use gavel::{admin_cli, load, telemetry};

/// jemalloc keeps per-connection memory low across worker threads: about
/// 14.8 KiB per idle SSE watcher, against 16.6 KiB with glibc's malloc
/// (measured with 10,000 watchers: the README's fan-out run).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None => serve(ServeConfig::from_defaults()),
        Some(Command::Serve(config)) => serve(*config),
        Some(Command::Admin { command }) => {
            telemetry::init(LogFormat::Pretty);
            admin_cli::run(command)
        }
        Some(Command::Load(args)) => load::run(*args),
    }
}

fn serve(config: ServeConfig) -> anyhow::Result<()> {
    telemetry::init(config.log_format);
    raise_open_file_limit();
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(config).await?;
        // For the person who started it: where to go (stdout, one line).
        let url = app.url();
        println!("Gavel is running at {url} — log in at {url}/login");
        app.run_until_stopped().await?;
        tracing::info!("gavel stopped");
        Ok(())
    })
}

/// Every connection is a file descriptor: take the hard limit on open files
/// as the soft one, so a flood of connections meets the per-IP cap long
/// before it meets the kernel's default of 1,024.
fn raise_open_file_limit() {
    let before = rlimit::Resource::NOFILE.get().ok();
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(soft) => {
            let hard = before.map(|(_, hard)| hard).unwrap_or(soft);
            let was = before.map(|(soft, _)| soft).unwrap_or(soft);
            tracing::info!(soft_before = was, soft, hard, "open-file limit");
        }
        Err(error) => tracing::warn!(error = %error, "could not raise the open-file limit"),
    }
}
