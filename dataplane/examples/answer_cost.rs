//! Instructions per query of the answer engine, for callgrind: builds the engine
//! benchmark's snapshot (`benches/fixture`), then answers its queries in
//! [`run_queries`], the only function `scripts/bench-instructions.sh` counts.
//!
//! On a machine whose speed changes between runs (the development VM's did by 2.3×
//! between sessions), time cannot resolve a change of a few percent; an instruction count
//! can, and it is deterministic. It is not a time: a cache miss costs one instruction here.
//!
//! Usage: `answer_cost <names> <a_hit_1|a_hit_1_hot|nxdomain> <rounds of 4096 queries>`

#[path = "../benches/fixture/mod.rs"]
mod fixture;

use skylane_dataplane::engine::{answer, Client, EngineState};
use skylane_dataplane::snapshot::Snapshot;
use std::hint::black_box;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: answer_cost <names> <a_hit_1|a_hit_1_hot|nxdomain> <rounds>";
    let (Some(names), Some(case), Some(rounds)) = (
        args.get(1)
            .and_then(|a| a.parse::<usize>().ok())
            .filter(|&n| n >= 100),
        args.get(2),
        args.get(3).and_then(|a| a.parse::<usize>().ok()),
    ) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let queries = match case.as_str() {
        "a_hit_1" => fixture::a_hit_1(names),
        "a_hit_1_hot" => fixture::a_hit_1_hot(),
        "nxdomain" => fixture::nxdomain(),
        other => {
            eprintln!("answer_cost: unknown case {other:?}\n{usage}");
            return ExitCode::from(2);
        }
    };
    let snap = fixture::build(names);
    let client = fixture::client();
    let mut state = EngineState::new(1, 1232);
    run_queries(&snap, &queries, rounds, &client, &mut state);
    ExitCode::SUCCESS
}

/// Answers every query `rounds` times: what callgrind counts (`--toggle-collect`).
#[inline(never)]
fn run_queries(
    snap: &Snapshot,
    queries: &[Vec<u8>],
    rounds: usize,
    client: &Client,
    state: &mut EngineState,
) {
    let mut buf = vec![0u8; 4096];
    for _ in 0..rounds {
        for q in queries {
            buf[..q.len()].copy_from_slice(q);
            black_box(answer(snap, black_box(&mut buf), q.len(), client, state));
        }
    }
}
