//! The committed seed corpora reach the paths worth fuzzing: every seed runs through the
//! same code as its fuzz target, and the paths the seeds took are checked.

// Built with the fuzz targets' coverage flags: libFuzzer provides the instrumentation's
// callbacks (its `main` stays out: the test harness has one).
use libfuzzer_sys as _;
use skylane_dataplane::dpdk::{Action, DropCause, ReplyKind};
use skylane_fuzz::run::{dpdk_responder, engine_answer, FrameOutcome, Reply};
use std::fmt::Debug;
use std::path::PathBuf;

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// Each seed of `target` that `run` takes somewhere, with where.
fn outcomes<T>(target: &str, run: fn(&[u8]) -> Option<T>) -> Vec<(String, T)> {
    seeds(target)
        .into_iter()
        .filter_map(|(name, data)| run(&data).map(|o| (name, o)))
        .collect()
}

/// Some seed's outcome satisfies `f`; the message lists every seed's outcome.
fn assert_reached<T: Debug>(
    target: &str,
    what: &str,
    outcomes: &[(String, T)],
    f: &dyn Fn(&T) -> bool,
) {
    assert!(
        outcomes.iter().any(|(_, o)| f(o)),
        "no {target} seed reaches {what}: {outcomes:#?}"
    );
}

#[test]
fn dpdk_seeds_reach_every_reply_and_the_dns_path_in_each_framing() {
    let outcomes = outcomes("dpdk_responder", dpdk_responder);
    let reached = |what: &str, f: &dyn Fn(&FrameOutcome) -> bool| {
        assert_reached("dpdk_responder", what, &outcomes, f)
    };
    let dns = |o: &FrameOutcome| {
        matches!(
            o.action,
            Action::Reply {
                kind: ReplyKind::Dns,
                ..
            }
        )
    };
    reached("a DNS reply over IPv4", &|o| dns(o) && !o.v6 && !o.vlan);
    reached("a DNS reply over IPv6", &|o| dns(o) && o.v6 && !o.vlan);
    reached("a DNS reply over VLAN/IPv4", &|o| dns(o) && !o.v6 && o.vlan);
    reached("a DNS reply over VLAN/IPv6", &|o| dns(o) && o.v6 && o.vlan);
    for kind in [
        ReplyKind::Arp,
        ReplyKind::NeighborAdvert,
        ReplyKind::EchoV4,
        ReplyKind::EchoV6,
    ] {
        reached(
            &format!("a {kind:?} reply"),
            &|o| matches!(o.action, Action::Reply { kind: k, .. } if k == kind),
        );
    }
    reached("the exception path (to the kernel)", &|o| {
        o.action == Action::Exception
    });
    reached("an unneeded multicast drop", &|o| {
        o.action == Action::Drop(DropCause::Unneeded)
    });
    reached("a query the engine does not answer", &|o| {
        o.action == Action::Drop(DropCause::NoAnswer)
    });
}

#[test]
fn engine_seeds_reach_answers_errors_truncation_and_edns() {
    let replies = outcomes("engine_answer", engine_answer);
    let reached =
        |what: &str, f: &dyn Fn(&Reply) -> bool| assert_reached("engine_answer", what, &replies, f);
    reached("an authoritative answer", &|r| {
        r.rcode == 0 && r.aa && r.answers > 0
    });
    reached("NODATA", &|r| r.rcode == 0 && r.aa && r.answers == 0);
    reached("NXDOMAIN", &|r| r.rcode == 3);
    reached("FORMERR", &|r| r.rcode == 1);
    reached("NOTIMP", &|r| r.rcode == 4);
    reached("REFUSED", &|r| r.rcode == 5);
    reached("a truncated answer", &|r| r.tc);
    reached("an EDNS answer", &|r| r.rcode == 0 && r.additional > 0);
}
