//! skylanectl: the command-line client of the Skylane REST API.
//!
//! `list`, `show`, `add`, `delete`, `status`, `health`, `stats`, `import`, `cache`,
//! `completions`. The API address comes from `--addr` / `SKYLANE_API_ADDR` (default
//! `http://127.0.0.1:9001`; a bare `host:port` means `http://host:port`); the token from, in order, `--token`,
//! `SKYLANE_API_TOKEN`, `--token-file` / `SKYLANE_API_TOKEN_FILE`, then the
//! token file a default `skylane serve` generates (`<data-dir>/api-token`), so
//! the same user needs no flag. Errors print the server's message and exit
//! non-zero. docs/skylanectl.md has examples.

mod client;
mod import;
mod output;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand, ValueEnum};
use client::{segment, Client};
use output::ListFormat;
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "skylanectl",
    version,
    about = "Manage Skylane records, health status and statistics"
)]
struct Cli {
    /// API address: host:port (http), http://host:port or https://host:port.
    #[arg(
        long,
        env = "SKYLANE_API_ADDR",
        default_value = "http://127.0.0.1:9001",
        global = true
    )]
    addr: String,
    /// API token (sent as a bearer token).
    #[arg(long, env = "SKYLANE_API_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// File holding the API token (first line); default: the token file `skylane serve`
    /// generates, `~/.local/share/skylane/api-token`.
    #[arg(long, env = "SKYLANE_API_TOKEN_FILE", global = true)]
    token_file: Option<PathBuf>,
    /// PEM CA certificate to trust for an https:// address (e.g. a self-signed API cert).
    #[arg(long, env = "SKYLANE_API_CA", global = true)]
    ca_cert: Option<PathBuf>,
    /// Print the server's JSON instead of human output.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List names and their records.
    List {
        /// Only names at or below this domain.
        #[arg(long)]
        domain: Option<String>,
        /// Only records of this type.
        #[arg(long = "type")]
        rtype: Option<String>,
        /// Output: an aligned table, the server's JSON, or ContainerDNS
        /// `domain: … val: { … }` seed lines (`--json` means `-o json`).
        #[arg(short = 'o', long = "output", value_enum, default_value_t = ListFormat::Table)]
        output: ListFormat,
    },
    /// Show one name's records.
    Show { name: String },
    /// Add records to a name (or replace them all with --replace).
    Add(AddArgs),
    /// Delete a name's own records (never the names below it).
    Delete {
        name: String,
        /// Only records of this type.
        #[arg(long = "type")]
        rtype: Option<String>,
        /// Only these addresses (A/AAAA).
        #[arg(long = "ip")]
        ips: Vec<String>,
    },
    /// Show or set the health status of an address.
    Status {
        ip: String,
        state: Option<Health>,
        /// Forget the stored status (the address counts as UP); also clears a manual pin.
        #[arg(long, conflicts_with = "state")]
        clear: bool,
        /// Pin the status: health scanners never overwrite it until it is cleared.
        #[arg(long, requires = "state")]
        manual: bool,
    },
    /// What the health scanners see: each address, and the live agents.
    Health,
    /// Query and data-plane statistics.
    Stats {
        /// Top-N queried names.
        #[arg(long, default_value_t = 10)]
        top: usize,
    },
    /// The forward cache: show a name's entries, or purge.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Import records from a JSON or line-format file, in atomic chunks.
    Import {
        file: PathBuf,
        /// replace: each name's records become those in the file; add: added to them.
        #[arg(long, value_enum)]
        mode: Option<Mode>,
        /// Entries per API call (a name is never split).
        #[arg(long, default_value_t = 1000)]
        chunk: usize,
    },
    /// Print a shell completion script (e.g. `skylanectl completions bash > /etc/bash_completion.d/skylanectl`).
    Completions { shell: CompletionShell },
}

/// The shells `skylanectl completions` writes scripts for.
#[derive(Clone, Copy, ValueEnum)]
enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Subcommand)]
enum CacheCommand {
    /// A name's cached entries: type, rcode, remaining TTL, hits.
    Show { name: String },
    /// Purge NAME's entries, or the whole cache without NAME.
    Purge { name: Option<String> },
}

#[derive(Clone, Copy, ValueEnum)]
enum Health {
    Up,
    Down,
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Replace,
    Add,
}

#[derive(Args)]
struct AddArgs {
    name: String,
    /// A, AAAA, CNAME, PTR, SRV, TXT or MX.
    #[arg(long = "type", short = 't')]
    rtype: String,
    /// Address (A/AAAA); repeat for several.
    #[arg(long = "ip")]
    ips: Vec<String>,
    /// Target name (CNAME, PTR, SRV, MX exchange); repeat for several (not CNAME).
    #[arg(long = "target")]
    targets: Vec<String>,
    /// SRV port, one per --target (or one for all).
    #[arg(long = "port")]
    ports: Vec<u16>,
    /// SRV priority, one per --target (or one for all).
    #[arg(long = "priority")]
    priorities: Vec<u16>,
    /// SRV weight, one per --target (or one for all).
    #[arg(long = "weight")]
    weights: Vec<u16>,
    /// MX preference, one per --target (or one for all).
    #[arg(long = "preference")]
    preferences: Vec<u16>,
    /// TXT string; repeat for several records.
    #[arg(long = "text")]
    texts: Vec<String>,
    /// TTL in seconds (default: the server's).
    #[arg(long)]
    ttl: Option<u32>,
    /// Replace all of the name's records instead of adding.
    #[arg(long)]
    replace: bool,
}

/// The i-th value of a per-target option: one value applies to all.
fn nth<T: Copy>(values: &[T], i: usize, n: usize, flag: &str) -> anyhow::Result<Option<T>> {
    match values.len() {
        0 => Ok(None),
        1 => Ok(Some(values[0])),
        len if len == n => Ok(Some(values[i])),
        len => bail!("{flag} given {len} times for {n} targets: give it once or once per --target"),
    }
}

/// Builds the record-set body of `add` (the server validates the values).
fn add_body(a: &AddArgs) -> anyhow::Result<Value> {
    let t = a.rtype.to_ascii_uppercase();
    let need = |ok: bool, what: &str| -> anyhow::Result<()> {
        if !ok {
            bail!("--type {t} needs {what}");
        }
        Ok(())
    };
    let n = a.targets.len();
    let mut body = match t.as_str() {
        "A" | "AAAA" => {
            need(!a.ips.is_empty(), "at least one --ip")?;
            json!({"ips": a.ips})
        }
        "CNAME" => {
            need(n == 1, "exactly one --target")?;
            json!({"target": a.targets[0]})
        }
        "PTR" => {
            need(n >= 1, "at least one --target")?;
            json!({"targets": a.targets})
        }
        "SRV" => {
            need(n >= 1 && !a.ports.is_empty(), "--target and --port")?;
            let mut list = Vec::new();
            for (i, target) in a.targets.iter().enumerate() {
                let mut e = json!({"target": target, "port": nth(&a.ports, i, n, "--port")?});
                if let Some(p) = nth(&a.priorities, i, n, "--priority")? {
                    e["priority"] = json!(p);
                }
                if let Some(w) = nth(&a.weights, i, n, "--weight")? {
                    e["weight"] = json!(w);
                }
                list.push(e);
            }
            json!({ "targets": list })
        }
        "MX" => {
            need(n >= 1, "at least one --target (the exchange)")?;
            let mut list = Vec::new();
            for (i, target) in a.targets.iter().enumerate() {
                let mut e = json!({ "exchange": target });
                if let Some(p) = nth(&a.preferences, i, n, "--preference")? {
                    e["preference"] = json!(p);
                }
                list.push(e);
            }
            json!({ "exchanges": list })
        }
        "TXT" => {
            need(!a.texts.is_empty(), "at least one --text")?;
            json!({"texts": a.texts})
        }
        other => bail!("unknown --type {other:?} (expected A, AAAA, CNAME, PTR, SRV, TXT, MX)"),
    };
    body["type"] = json!(t);
    if let Some(ttl) = a.ttl {
        body["ttl"] = json!(ttl);
    }
    Ok(body)
}

/// `GET /v1/records` page after page (following `continue` tokens), merged into one answer.
fn list_all(client: &Client, query: &[String]) -> anyhow::Result<Value> {
    let mut names: Vec<Value> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut q = query.to_vec();
        if let Some(t) = &token {
            q.push(format!("continue={}", segment(t)));
        }
        let path = if q.is_empty() {
            "/v1/records".to_string()
        } else {
            format!("/v1/records?{}", q.join("&"))
        };
        let mut page = client.call("GET", &path, None)?;
        if let Some(list) = page["names"].as_array_mut() {
            names.append(list);
        }
        token = page["continue"].as_str().map(str::to_owned);
        if token.is_none() {
            return Ok(
                json!({ "count": names.len(), "names": names, "revision": page["revision"] }),
            );
        }
    }
}

fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// Writes the completion script for `shell` to stdout.
fn print_completions(shell: CompletionShell) {
    use clap::CommandFactory;
    use clap_complete::Shell;
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    clap_complete::generate(
        shell,
        &mut Cli::command(),
        "skylanectl",
        &mut std::io::stdout(),
    );
}

/// The token: `--token`/`SKYLANE_API_TOKEN`, else `--token-file`/`SKYLANE_API_TOKEN_FILE`
/// (which must be readable), else the default generated file when it exists.
fn resolve_token(cli: &Cli) -> anyhow::Result<Option<String>> {
    use skylane_controlplane::api::token_file::{default_token_path, read_token};
    if let Some(t) = cli.token.as_deref().filter(|t| !t.is_empty()) {
        return Ok(Some(t.to_string()));
    }
    if let Some(path) = &cli.token_file {
        let token = read_token(path).with_context(|| format!("--token-file {}", path.display()))?;
        return Ok(Some(token));
    }
    let path = default_token_path(&skylane_controlplane::store::default_data_dir());
    match read_token(&path) {
        Ok(token) => Ok(Some(token).filter(|t| !t.is_empty())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading the API token {}", path.display())),
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Completions { shell } = cli.command {
        print_completions(shell);
        return Ok(());
    }
    let client = Client::new(&cli.addr, resolve_token(&cli)?, cli.ca_cert.as_deref())?;
    match cli.command {
        Command::List {
            domain,
            rtype,
            output,
        } => {
            let mut query = Vec::new();
            if let Some(d) = domain {
                query.push(format!("domain={}", segment(&d)));
            }
            if let Some(t) = rtype {
                query.push(format!("type={}", segment(&t)));
            }
            let v = list_all(&client, &query)?;
            output::print_names(&v, if cli.json { ListFormat::Json } else { output });
        }
        Command::Show { name } => {
            let v = client.call("GET", &format!("/v1/records/{}", segment(&name)), None)?;
            if cli.json {
                print_json(&v);
            } else {
                for line in output::name_lines(v["name"].as_str().unwrap_or(""), &v["records"]) {
                    println!("{line}");
                }
            }
        }
        Command::Add(a) => {
            let body = add_body(&a)?;
            let method = if a.replace { "PUT" } else { "POST" };
            let v = client.call(
                method,
                &format!("/v1/records/{}", segment(&a.name)),
                Some(&body),
            )?;
            if cli.json {
                print_json(&v);
            } else {
                for line in output::name_lines(v["name"].as_str().unwrap_or(""), &v["records"]) {
                    println!("{line}");
                }
            }
        }
        Command::Delete { name, rtype, ips } => {
            let mut path = format!("/v1/records/{}", segment(&name));
            let body = if !ips.is_empty() {
                if rtype.is_some() {
                    bail!("give --type or --ip, not both");
                }
                let v6 = ips.iter().any(|ip| ip.contains(':'));
                Some(json!({"type": if v6 { "AAAA" } else { "A" }, "ips": ips}))
            } else {
                if let Some(t) = rtype {
                    path = format!("{path}?type={}", segment(&t));
                }
                None
            };
            let v = client.call("DELETE", &path, body.as_ref())?;
            if cli.json {
                print_json(&v);
            } else {
                println!(
                    "deleted {} value(s) of {}",
                    v["deleted"],
                    v["name"].as_str().unwrap_or("")
                );
            }
        }
        Command::Status {
            ip,
            state,
            clear,
            manual,
        } => {
            let path = format!("/v1/status/{}", segment(&ip));
            let v = match (state, clear) {
                (_, true) => client.call("DELETE", &path, None)?,
                (Some(s), false) => {
                    let s = match s {
                        Health::Up => "UP",
                        Health::Down => "DOWN",
                    };
                    let body = if manual {
                        json!({ "status": s, "manual": true })
                    } else {
                        json!({ "status": s })
                    };
                    client.call("PUT", &path, Some(&body))?
                }
                (None, false) => client.call("GET", &path, None)?,
            };
            if cli.json {
                print_json(&v);
            } else {
                let pin = if v["manual"].as_bool() == Some(true) {
                    " (manual)"
                } else {
                    ""
                };
                println!(
                    "{} {}{pin}",
                    v["ip"].as_str().unwrap_or(&ip),
                    v["status"].as_str().unwrap_or("?")
                );
            }
        }
        Command::Health => {
            let addresses = client.call("GET", "/v1/health", None)?;
            let agents = client.call("GET", "/v1/health/agents", None)?;
            if cli.json {
                print_json(&json!({ "health": addresses, "agents": agents }));
            } else {
                for line in output::health_lines(&addresses, &agents) {
                    println!("{line}");
                }
            }
        }
        Command::Stats { top } => {
            let v = client.call("GET", &format!("/v1/stats?top={top}"), None)?;
            if cli.json {
                print_json(&v);
            } else {
                for line in output::stats_lines(&v) {
                    println!("{line}");
                }
            }
        }
        Command::Cache(c) => run_cache(&client, c, cli.json)?,
        Command::Import { file, mode, chunk } => run_import(&client, &file, mode, chunk, cli.json)?,
        Command::Completions { .. } => unreachable!("handled before connecting"),
    }
    Ok(())
}

fn run_cache(client: &Client, cmd: CacheCommand, json: bool) -> anyhow::Result<()> {
    let v = match &cmd {
        CacheCommand::Show { name } => {
            client.call("GET", &format!("/v1/cache?name={}", segment(name)), None)?
        }
        CacheCommand::Purge { name: Some(name) } => {
            client.call("DELETE", &format!("/v1/cache?name={}", segment(name)), None)?
        }
        CacheCommand::Purge { name: None } => client.call("DELETE", "/v1/cache", None)?,
    };
    if json {
        print_json(&v);
        return Ok(());
    }
    match cmd {
        CacheCommand::Show { name } => {
            let entries = v["entries"].as_array().cloned().unwrap_or_default();
            if entries.is_empty() {
                println!("{name}: not cached");
            }
            for e in entries {
                println!(
                    "{} type={} rcode={} ttl={}{} hits={} do={}",
                    e["name"].as_str().unwrap_or(&name),
                    e["type"],
                    e["rcode"],
                    e["ttl"],
                    if e["stale"].as_bool() == Some(true) {
                        " (stale)"
                    } else {
                        ""
                    },
                    e["hits"],
                    e["dnssec_ok"],
                );
            }
        }
        CacheCommand::Purge { .. } => println!("purged {} entr(y/ies)", v["purged"]),
    }
    Ok(())
}

fn run_import(
    client: &Client,
    file: &std::path::Path,
    mode: Option<Mode>,
    chunk: usize,
    json_out: bool,
) -> anyhow::Result<()> {
    if chunk == 0 {
        bail!("--chunk must be at least 1");
    }
    let data = import::read(file)?;
    let mode = match (mode, data.mode.as_deref()) {
        (Some(Mode::Add), _) => "add".to_string(),
        (Some(Mode::Replace), _) => "replace".to_string(),
        (None, Some(m)) => m.to_string(),
        (None, None) => "replace".to_string(),
    };
    let total = data.records.len() + data.statuses.len();
    if total == 0 {
        bail!("{}: nothing to import", file.display());
    }
    let mut calls: Vec<Value> = import::chunks(data.records, chunk)
        .into_iter()
        .map(|records| json!({"mode": mode, "records": records}))
        .collect();
    for statuses in data.statuses.chunks(chunk) {
        calls.push(json!({"mode": mode, "statuses": statuses}));
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    if json_out || calls.len() < 2 {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} entries ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (mut names, mut puts, mut deletes) = (0u64, 0u64, 0u64);
    let mut done = 0usize;
    for (i, body) in calls.iter().enumerate() {
        let n = body["records"]
            .as_array()
            .or(body["statuses"].as_array())
            .map_or(0, Vec::len);
        let v = client
            .call("POST", "/v1/import", Some(body))
            .with_context(|| {
                format!(
                    "import chunk {} of {} (entries {}..{}; earlier chunks were stored)",
                    i + 1,
                    calls.len(),
                    done + 1,
                    done + n
                )
            })?;
        names += v["names"].as_u64().unwrap_or(0);
        puts += v["puts"].as_u64().unwrap_or(0);
        deletes += v["deletes"].as_u64().unwrap_or(0);
        done += n;
        bar.set_position(done as u64);
    }
    bar.finish_and_clear();
    if json_out {
        print_json(
            &json!({"entries": total, "calls": calls.len(), "names": names, "puts": puts, "deletes": deletes}),
        );
    } else {
        println!("imported {total} entries for {names} names in {} call(s): {puts} keys written, {deletes} deleted", calls.len());
    }
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        // Server errors carry the server's message; anything else (connection,
        // file) its own context. Both exit 1; clap usage errors exit 2.
        eprintln!("skylanectl: {e:#}");
        std::process::exit(1);
    }
}
