//! `skylane`: the DNS appliance. See `skylane serve --help`.

use clap::Parser;
use skylane::cli::{Cli, Command};
use std::process::ExitCode;

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
        Command::Serve(args) => args.resolve().and_then(skylane::serve::run),
        Command::Scan(args) => args.resolve().and_then(skylane::scan::run),
        Command::CheckConfig(args) => args.resolve().and_then(|cfg| {
            let data = skylane::static_data::load_static(&cfg)?;
            skylane::serve::forward_settings(&cfg)?;
            println!(
                "config ok: {} domain(s), {} static record(s)",
                data.zone.domains.len(),
                data.records.len()
            );
            Ok(())
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skylane: {e:#}");
            ExitCode::FAILURE
        }
    }
}
