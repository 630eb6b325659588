//! The apex of a reverse zone served from the synthetic auto-PTR tree
//! ([`crate::snapshot::Snapshot::served_zone`]) answered as a real
//! authoritative zone, as Knot and NSD answer a minimal reverse zone: SOA and
//! NS at the zone's apex, and the negative answers' SOA owned and named by
//! that zone (`ns.<zone>`, `hostmaster.<zone>` unless `[dns.soa]` names them;
//! serial, timers and TTLs those of the synthetic reverse apex).
//!
//! The reverse zone's name is the suffix of the QNAME already in the message
//! (at `soa_at`); RDATA is assembled in a stack buffer (no allocation).

use super::{Ctx, Step};
use crate::record::rtype;
use crate::snapshot::ZoneRef;
use crate::wire::header::HEADER_LEN;
use crate::wire::rcode;
use crate::wire::writer::{Owner, Section};

/// Longest wire name.
const MAX_NAME: usize = 255;
/// SOA RDATA: two names and five 32-bit fields.
const SOA_RDATA_MAX: usize = 2 * MAX_NAME + 20;

/// RDATA under construction on the stack.
struct Rdata {
    buf: [u8; SOA_RDATA_MAX],
    len: usize,
}

impl Rdata {
    fn new() -> Rdata {
        Rdata {
            buf: [0; SOA_RDATA_MAX],
            len: 0,
        }
    }

    fn extend(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.len..self.len + bytes.len()) {
            dst.copy_from_slice(bytes);
            self.len += bytes.len();
        }
    }

    /// `label.zone` (lowercased), or `zone` alone when that would be too long.
    fn prefixed(&mut self, label: &[u8], zone: &[u8]) {
        if zone.len() + 1 + label.len() <= MAX_NAME {
            self.extend(&[label.len() as u8]);
            self.extend(label);
        }
        let start = self.len;
        self.extend(zone);
        if let Some(name) = self.buf.get_mut(start..self.len) {
            name.make_ascii_lowercase();
        }
    }

    fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

impl<'s> Ctx<'s, '_, '_, '_> {
    /// True when `cur`, the first name of the chain, is the apex of a reverse zone
    /// inside the synthetic tree.
    pub(super) fn at_reverse_apex(&self, first: bool) -> bool {
        first && self.soa_at == Some(HEADER_LEN)
    }

    /// The reverse zone's name as written in the question, when the QNAME lies in one.
    fn reverse_zone_name(&self) -> Option<&[u8]> {
        let at = self.soa_at?;
        let msg = self.resp.message();
        let len = crate::wire::writer::wire_name_len(msg.get(at..)?)?;
        msg.get(at..at + len)
    }

    /// SOA RDATA of the reverse zone the QNAME lies in, from the synthetic
    /// reverse apex's SOA (`apex_soa`).
    fn reverse_soa(&self, apex_soa: &[u8]) -> Option<Rdata> {
        let zone = self.reverse_zone_name()?;
        let soa = &self.snap.config().soa;
        let mut out = Rdata::new();
        match &soa.mname {
            Some(m) => out.extend(m.as_wire()),
            None => out.prefixed(b"ns", zone),
        }
        match &soa.rname {
            Some(r) => out.extend(r.as_wire()),
            None => out.prefixed(b"hostmaster", zone),
        }
        out.extend(apex_soa.get(apex_soa.len().checked_sub(20)?..)?);
        Some(out)
    }

    /// SOA or NS asked at a reverse zone's apex.
    pub(super) fn reverse_apex_answer(
        &mut self,
        zone: ZoneRef<'s>,
        owner: Owner<'_>,
        qt: u16,
    ) -> Step<'s> {
        let rdata = if qt == rtype::SOA {
            let soa = zone.soa();
            (!soa.is_empty())
                .then(|| self.reverse_soa(soa.rdata(0)))
                .flatten()
                .map(|r| (r, soa.ttl()))
        } else {
            let ns = zone.ns();
            self.reverse_zone_name().map(|z| {
                let mut r = Rdata::new();
                r.prefixed(b"ns", z);
                (r, ns.ttl())
            })
        };
        if let Some((rdata, ttl)) = rdata {
            self.push(Section::Answer, owner, qt, ttl, rdata.bytes());
        }
        Step::Done(rcode::NOERROR)
    }

    /// The negative answer's SOA when the QNAME lies in a reverse zone; false
    /// when it cannot be made (the zone's own SOA is written by the caller).
    pub(super) fn reverse_negative(&mut self, zone: ZoneRef<'s>) -> bool {
        let Some(rdata) = self.reverse_soa(zone.soa().rdata(0)) else {
            return false;
        };
        self.push_negative_soa(zone, rdata.bytes());
        true
    }
}
