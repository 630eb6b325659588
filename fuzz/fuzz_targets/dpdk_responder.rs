//! The DPDK responder on whole Ethernet frames, answering with the real engine. The
//! first byte picks how the rest becomes a frame: a raw frame (sent to our MAC) as is
//! or with its IPv4/UDP checksums fixed up, or a DNS payload wrapped in a valid
//! IPv4/IPv6 (optionally VLAN-tagged) UDP frame to port 53, so the DNS path is reached
//! (`skylane_fuzz::run::dpdk_responder`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    skylane_fuzz::run::dpdk_responder(data);
});
