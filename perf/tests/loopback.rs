//! Runs the `skylane-perf` binary against a tiny UDP responder on 127.0.0.1 and checks the
//! JSON report against what the responder actually did.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// What the responder does with each query.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Answer everything: NXDOMAIN for names whose first label starts with `nx`, else NOERROR.
    AnswerAll,
    /// Drop every `n`th query, answer the rest.
    DropEvery(u64),
    /// Answer with the right ID but another name in the question.
    WrongQuestion,
}

struct Responder {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    dropped: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Responder {
    fn start(behaviour: Behaviour) -> Responder {
        Responder::start_on("127.0.0.1:0", behaviour)
    }

    fn start_on(bind: &str, behaviour: Behaviour) -> Responder {
        let socket = UdpSocket::bind(bind).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let dropped = Arc::new(AtomicU64::new(0));
        let (s, a, d) = (stop.clone(), answered.clone(), dropped.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            let mut seen = 0u64;
            while !s.load(Ordering::Relaxed) {
                let Ok((len, peer)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                seen += 1;
                if let Behaviour::DropEvery(n) = behaviour {
                    if seen.checked_rem(n) == Some(0) {
                        d.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                }
                let Some(mut reply) = reply_to(&buf[..len]) else {
                    continue;
                };
                if let Behaviour::WrongQuestion = behaviour {
                    reply[13] ^= 0x01; // first letter of the name
                }
                socket.send_to(&reply, peer).unwrap();
                a.fetch_add(1, Ordering::Relaxed);
            }
        });
        Responder {
            addr,
            stop,
            answered,
            dropped,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        (
            self.answered.load(Ordering::Relaxed),
            self.dropped.load(Ordering::Relaxed),
        )
    }
}

/// Header + question of the query, QR and AA set, no other sections.
fn reply_to(query: &[u8]) -> Option<Vec<u8>> {
    let mut pos = 12;
    loop {
        let len = usize::from(*query.get(pos)?);
        pos += 1 + len;
        if len == 0 {
            break;
        }
    }
    let end = pos + 4;
    let mut reply = query.get(..end)?.to_vec();
    reply[2] |= 0x84;
    let nx = query.get(13..15) == Some(b"nx");
    reply[3] = if nx { 3 } else { 0 };
    reply[6..12].fill(0);
    Some(reply)
}

fn query_file(tag: &str, lines: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("skylane-perf-{tag}-{}.txt", std::process::id()));
    std::fs::write(&path, lines).unwrap();
    path
}

fn run_perf(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_skylane-perf"))
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skylane-perf failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn one_second_against_a_responder_loses_nothing() {
    let responder = Responder::start(Behaviour::AnswerAll);
    let file = query_file(
        "all",
        "# test\nhost1.perf.test A\nnx1.perf.test AAAA\nhost2.perf.test TXT\n",
    );
    let port = responder.addr.port().to_string();
    let report = run_perf(&[
        "-s",
        "127.0.0.1",
        "-p",
        &port,
        "-d",
        file.to_str().unwrap(),
        "-l",
        "1",
        "-q",
        "20",
        "-c",
        "2",
        "-T",
        "2",
        "-Q",
        "20000",
        "-e",
    ]);
    let (answered, _) = responder.finish();
    std::fs::remove_file(&file).ok();
    let completed = report["completed"].as_u64().unwrap();
    assert!(completed > 0, "{report}");
    assert_eq!(report["lost"], 0, "{report}");
    assert_eq!(report["unexpected"], 0, "{report}");
    assert_eq!(report["sent"].as_u64().unwrap(), completed);
    assert_eq!(completed, answered);
    // One query in three is an nx name.
    let nx = report["rcodes"]["NXDOMAIN"].as_u64().unwrap();
    let noerror = report["rcodes"]["NOERROR"].as_u64().unwrap();
    assert_eq!(nx + noerror, completed);
    assert!(nx.abs_diff(completed / 3) <= 2, "{report}");
    assert!(report["latency"]["p50_us"].as_f64().unwrap() > 0.0);
    // -Q 20000 for one second bounds the load.
    assert!(completed <= 20_100, "{report}");
}

#[test]
fn counts_dropped_queries_as_lost() {
    let responder = Responder::start(Behaviour::DropEvery(10));
    let file = query_file("drop", "a.perf.test A\nb.perf.test A\n");
    let port = responder.addr.port().to_string();
    let report = run_perf(&[
        "-s",
        "127.0.0.1",
        "-p",
        &port,
        "-d",
        file.to_str().unwrap(),
        "-n",
        "100",
        "-q",
        "5",
        // Long enough that no answered query expires on a loaded machine (an expired one
        // would count as lost and its late answer as unexpected); the 20 dropped ones
        // each hold one of the 5 slots this long.
        "-t",
        "1.5",
    ]);
    let (answered, dropped) = responder.finish();
    std::fs::remove_file(&file).ok();
    assert_eq!(report["sent"], 200, "{report}");
    assert_eq!(dropped, 20);
    assert_eq!(report["completed"].as_u64().unwrap(), answered);
    assert_eq!(report["lost"].as_u64().unwrap(), dropped, "{report}");
}

#[test]
fn passes_mode_sends_each_query_exactly_n_times() {
    let responder = Responder::start(Behaviour::AnswerAll);
    let lines: String = (0..50).map(|i| format!("host{i}.perf.test A\n")).collect();
    let file = query_file("passes", &lines);
    let port = responder.addr.port().to_string();
    let report = run_perf(&[
        "-s",
        "127.0.0.1",
        "-p",
        &port,
        "-d",
        file.to_str().unwrap(),
        "-n",
        "3",
        "-c",
        "3",
        "-T",
        "2",
        "-q",
        "9",
    ]);
    let (answered, _) = responder.finish();
    std::fs::remove_file(&file).ok();
    assert_eq!(report["sent"], 150, "{report}");
    assert_eq!(report["completed"], 150, "{report}");
    assert_eq!(answered, 150);
}

#[test]
fn answers_to_another_question_are_unexpected_not_completed() {
    let responder = Responder::start(Behaviour::WrongQuestion);
    let file = query_file("wrong", "host1.perf.test A\n");
    let port = responder.addr.port().to_string();
    let report = run_perf(&[
        "-s",
        "127.0.0.1",
        "-p",
        &port,
        "-d",
        file.to_str().unwrap(),
        "-n",
        "20",
        "-q",
        "4",
        "-t",
        "0.2",
    ]);
    let (answered, _) = responder.finish();
    std::fs::remove_file(&file).ok();
    assert_eq!(answered, 20);
    assert_eq!(report["completed"], 0, "{report}");
    assert_eq!(report["unexpected"], 20, "{report}");
    assert_eq!(report["lost"], 20, "{report}");
}

#[test]
fn works_over_ipv6() {
    if UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    }
    let responder = Responder::start_on("[::1]:0", Behaviour::AnswerAll);
    let file = query_file("v6", "host1.perf.test AAAA\nnx.perf.test A\n");
    let port = responder.addr.port().to_string();
    let report = run_perf(&[
        "-s",
        "::1",
        "-p",
        &port,
        "-d",
        file.to_str().unwrap(),
        "-n",
        "50",
        "-q",
        "10",
    ]);
    let (answered, _) = responder.finish();
    std::fs::remove_file(&file).ok();
    assert_eq!(report["completed"], 100, "{report}");
    assert_eq!(answered, 100);
    assert_eq!(report["rcodes"]["NXDOMAIN"], 50, "{report}");
}

#[test]
fn bad_arguments_fail_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_skylane-perf"))
        .args(["-d", "/nonexistent/queries.txt", "-l", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/queries.txt"));
    let bad = query_file("bad", "ok.example A\nbad..example A\n");
    let out = Command::new(env!("CARGO_BIN_EXE_skylane-perf"))
        .args(["-d", bad.to_str().unwrap()])
        .output()
        .unwrap();
    std::fs::remove_file(&bad).ok();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 2"),
        "{out:?}"
    );
}
