//! `skylane-perf`: DNS load generator command line (dnsperf/queryperf flags) plus `gen`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use skylane_perf::options::{templates, RunArgs};
use skylane_perf::{gen, udp};

/// queryperf/dnsperf-compatible DNS load generator.
#[derive(Parser, Debug)]
#[command(name = "skylane-perf", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Send load (the default when no subcommand is given).
    Run(RunArgs),
    /// Generate benchmark data (zone files, query files).
    #[command(subcommand)]
    Gen(GenCommand),
}

#[derive(Subcommand, Debug)]
enum GenCommand {
    /// Write the synthetic zone: SOA, NS, host<i> A (+AAAA for even i, +TXT every 8th).
    Zone {
        /// Zone origin.
        #[arg(long, default_value = "perf.test.")]
        origin: String,
        /// Number of host names.
        #[arg(long, default_value_t = 100_000)]
        names: u64,
        /// Output file (default stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Write a query file of hits and NXDOMAIN misses for a zone.
    Queries {
        /// Take existing names from this master file (else: the synthetic zone).
        #[arg(long)]
        zone: Option<PathBuf>,
        /// Origin of the synthetic zone, or of `--zone` if it has no SOA / $ORIGIN.
        #[arg(long, default_value = "perf.test.")]
        origin: String,
        /// Host names in the synthetic zone.
        #[arg(long, default_value_t = 100_000)]
        names: u64,
        /// Number of query lines.
        #[arg(long, default_value_t = 100_000)]
        count: u64,
        /// Percentage of queries for names that do not exist.
        #[arg(long, default_value_t = 0)]
        miss_percent: u8,
        /// Comma-separated hit types, e.g. `A,AAAA,TXT` (default: every type in the zone).
        #[arg(long, default_value = "")]
        types: String,
        /// PRNG seed (same seed, same file).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output file (default stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

fn open_output(path: &Option<PathBuf>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) => Box::new(BufWriter::new(
            File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    })
}

fn generate(command: &GenCommand) -> anyhow::Result<()> {
    match command {
        GenCommand::Zone {
            origin,
            names,
            output,
        } => {
            let origin = gen::normalize_origin(origin)?;
            let mut out = open_output(output)?;
            gen::write_zone(&mut out, &origin, *names).context("writing zone")?;
            out.flush().context("writing zone")
        }
        GenCommand::Queries {
            zone,
            origin,
            names,
            count,
            miss_percent,
            types,
            seed,
            output,
        } => {
            let (origin, existing) = match zone {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading zone {}", path.display()))?;
                    gen::read_zone(&text, Some(origin))
                        .with_context(|| format!("reading zone {}", path.display()))?
                }
                None => {
                    let origin = gen::normalize_origin(origin)?;
                    let pairs = gen::synthetic_pairs(&origin, *names);
                    (origin, pairs)
                }
            };
            let mix = gen::QueryMix {
                count: *count,
                miss_percent: *miss_percent,
                types: gen::parse_type_list(types)?,
                seed: *seed,
            };
            let mut out = open_output(output)?;
            gen::write_queries(&mut out, &origin, &existing, &mix)?;
            out.flush().context("writing queries")
        }
    }
}

fn run_load(args: &RunArgs) -> anyhow::Result<()> {
    let options = args.options()?;
    let queries = args.queries()?;
    let templates = templates(&queries, options.flags);
    #[cfg(feature = "dpdk")]
    if args.dpdk.enabled() {
        let report = skylane_perf::dpdk::run(&options, &templates, &args.dpdk)?;
        return report.print(options.json).context("writing report");
    }
    let report = udp::run(&options, &templates)?;
    report.print(options.json).context("writing report")
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None => run_load(&cli.run),
        Some(Command::Run(args)) => run_load(&args),
        Some(Command::Gen(command)) => generate(&command),
    }
}
