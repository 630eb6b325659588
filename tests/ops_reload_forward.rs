//! Live reload of `[forward]`: a changed upstream is used after `skylane reload` without a
//! restart (real NSD upstreams), an invalid `[forward]` is rejected and the running one
//! kept, and keys the data-plane cores hold are reported as "restart required".

mod common;
mod ops_support;

use common::nsd::Nsd;
use common::{query, udp_exchange_from};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use ops_support::{a_addrs, reload_expecting, wait_for, Appliance};
use std::net::{IpAddr, SocketAddr};

/// An upstream zone: `www` and `mail` at `www_ip` and `mail_ip`.
fn zone(www_ip: &str, mail_ip: &str) -> String {
    format!(
        "$ORIGIN example.test.\n$TTL 300\n\
         @ IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 60\n\
         @ IN NS ns1.example.test.\nns1 IN A 127.0.0.1\n\
         www IN A {www_ip}\nmail IN A {mail_ip}\n"
    )
}

fn forward_to(upstream: SocketAddr, extra: &str) -> String {
    format!("enabled = true\nupstreams = [\"{upstream}\"]\ntimeout-ms = 2000\n{extra}")
}

/// The A addresses of a NOERROR answer for `name` (empty: no NOERROR answer).
fn a_of(app: &Appliance, name: &str) -> Vec<IpAddr> {
    let from = "127.0.0.1".parse().unwrap();
    let q = query(name, RecordType::A);
    let Some(r) = udp_exchange_from(app.server.addr4(), &q, from, 5_000) else {
        return Vec::new();
    };
    if r.response_code() != ResponseCode::NoError {
        return Vec::new();
    }
    a_addrs(&r)
}

fn ip(s: &str) -> Vec<IpAddr> {
    vec![s.parse().unwrap()]
}

/// Rewrites `[forward]` and reloads: the output, asserting success (`ok`) or failure.
fn reload_forward(app: &Appliance, forward: &str, ok: bool) -> String {
    app.rewrite_forward(forward);
    reload_expecting(app, ok)
}

/// Waits until `name` answers with the single address `want`.
fn wait_answer(app: &Appliance, name: &str, want: &str) {
    wait_for(&format!("{name} answered with {want}"), || {
        a_of(app, name) == ip(want)
    });
}

#[test]
fn a_changed_upstream_answers_after_reload_and_a_bad_forward_is_rejected() {
    let old = Nsd::start("example.test.", &zone("192.0.2.1", "192.0.2.25"));
    let new = Nsd::start("example.test.", &zone("198.51.100.1", "198.51.100.25"));
    let mut app = Appliance::start_forwarding(&[], &forward_to(old.addr(), ""));
    wait_answer(&app, "www.example.test.", "192.0.2.1");

    // The new upstream, live: the cached answer of the old one is gone too.
    let said = reload_forward(&app, &forward_to(new.addr(), "max-ttl = 600\n"), true);
    assert!(
        said.contains("reloaded: applied dns, zone-files, forward"),
        "{said}"
    );
    assert!(!said.contains("restart required"), "{said}");
    wait_answer(&app, "www.example.test.", "198.51.100.1");

    // A forwarding loop (our own listen address): rejected, the running upstream kept.
    let own = app.server.addr4();
    let said = reload_forward(&app, &forward_to(own, ""), false);
    assert!(
        said.contains("reload rejected") && said.contains("[forward]"),
        "{said}"
    );
    // An unparsable upstream: rejected too.
    let said = reload_forward(
        &app,
        "enabled = true\nupstreams = [\"not-an-address\"]\n",
        false,
    );
    assert!(said.contains("upstream"), "{said}");
    // Not cached yet, so answered by the upstream in force: still the new one.
    wait_answer(&app, "mail.example.test.", "198.51.100.25");

    // The client policy lives in the data-plane cores: restart required, value kept.
    let said = reload_forward(
        &app,
        &forward_to(new.addr(), "max-ttl = 600\nprefetch = false\n"),
        true,
    );
    assert!(
        said.contains("restart required for: forward.prefetch"),
        "{said}"
    );
    assert_eq!(a_of(&app, "www.example.test."), ip("198.51.100.1"));
    assert!(app.alive(), "{}", app.server.log_text());
    assert!(app.server.stop().success());
}
