//! `skylane`: the DNS appliance. See `skylane serve --help`.

use clap::Parser;
use skylane::cli::{Cli, Command};
use std::process::ExitCode;

/// See docs/performance.md, "Memory (issue 11)": with glibc's malloc, memory freed after a
/// snapshot build stayed resident (per-thread arenas); mimalloc returns it
/// (`skylane serve` runs [`skylane_alloc::spawn_releaser`]).
#[global_allocator]
static GLOBAL: skylane_alloc::MiMalloc = skylane_alloc::MiMalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SKYLANE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    skylane::supervise::install_panic_hook();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => skylane::serve::run(args),
        Command::Scan(args) => skylane::scan::run(args),
        Command::Reload(args) => skylane::reload_client::run(&args),
        Command::CheckConfig(args) => match skylane::check::check(&args) {
            Ok(summary) => {
                println!("{summary}");
                Ok(())
            }
            Err(findings) => {
                for f in &findings {
                    eprintln!("{f}");
                }
                Err(anyhow::anyhow!("check-config: {} error(s)", findings.len()))
            }
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skylane: {e:#}");
            ExitCode::FAILURE
        }
    }
}
