//! The `gavel` binary: parses the command line and hands over to the library.

use anyhow::Context as _;
use clap::Parser;

use gavel::config::{Cli, Command, LogFormat, ServeConfig};
use gavel::startup::Application;
use gavel::{admin_cli, load, store, telemetry};

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
        Some(Command::Verify {
            auction,
            database_url,
        }) => verify(auction.as_deref(), &database_url),
    }
}

/// `gavel verify`: prints one line per auction and a summary; exits 1 when
/// anything differs.
fn verify(auction: Option<&str>, database_url: &str) -> anyhow::Result<()> {
    telemetry::init(LogFormat::Pretty);
    let only = auction
        .map(|id| uuid::Uuid::parse_str(id).context("--auction must be an auction id (a UUID)"))
        .transpose()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        let store = store::connect(database_url).await?;
        let report = gavel::auction::verify::verify(&store, only, |record, check| {
            if check.problems.is_empty() {
                println!(
                    "ok    {} ({} events, {} answers)",
                    record.id, check.events, check.answers
                );
            } else {
                println!("FAIL  {}", record.id);
                for problem in &check.problems {
                    println!("      {problem}");
                }
            }
        })
        .await?;
        anyhow::Ok(report)
    })?;
    if only.is_some() && report.auctions == 0 {
        anyhow::bail!("no such auction");
    }
    println!(
        "verified {} auctions, {} events, {} answers: {}",
        report.auctions,
        report.events,
        report.answers,
        if report.problems.is_empty() {
            "no differences".to_string()
        } else {
            format!("{} differences", report.problems.len())
        }
    );
    if !report.problems.is_empty() {
        std::process::exit(1);
    }
    Ok(())
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
