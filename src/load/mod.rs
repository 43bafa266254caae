//! placeholder
use clap::Args;
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {}
pub fn run(_args: LoadArgs) -> anyhow::Result<()> { Ok(()) }
