//! Negative answers (NXDOMAIN, NODATA): the zone's SOA in the authority section with the
//! zone's negative TTL — copied from the one pre-rendered with the snapshot when the QNAME's
//! own zone answers, written record by record otherwise (after a CNAME into another zone,
//! and for the reverse zones derived from the QNAME, see `reverse_zone`) — and the zone
//! response rate limiting keys such an answer by.

use super::{Ctx, Step};
use crate::record::rtype;
use crate::snapshot::ZoneRef;
use crate::wire::name::NameBuf;
use crate::wire::rcode;
use crate::wire::writer::{Owner, Section};

/// The zone (SOA owner) of a negative answer.
#[derive(Clone, Copy)]
pub(super) enum NegZone {
    /// No negative answer written.
    None,
    /// The zone apex: its hash ([`ZoneRef::apex_hash`]).
    Apex(u64),
    /// The reverse zone ending the QNAME: its wire length.
    QnameSuffix(usize),
}

impl<'s> Ctx<'s, '_, '_, '_> {
    /// The RRL hash ([`crate::rrl::classify::name_hash`]) of the zone whose SOA the
    /// negative answer carries (`None`: no negative answer); `qname` as resolved.
    pub fn negative_zone_hash(&self, qname: &NameBuf) -> Option<u64> {
        match self.neg_zone {
            NegZone::None => None,
            NegZone::Apex(hash) => Some(hash),
            NegZone::QnameSuffix(n) => {
                let zone = qname.as_wire().get(qname.len().checked_sub(n)?..)?;
                Some(crate::rrl::classify::name_hash(zone))
            }
        }
    }

    /// A negative answer (NXDOMAIN, or NODATA as NOERROR): the SOA and `rc` — or SERVFAIL
    /// while the record store is not loaded yet (the name may well exist there).
    pub(super) fn negative_answer(&mut self, zone: ZoneRef<'s>, rc: u16) -> Step<'s> {
        if self.snap.store_pending() {
            return Step::Done(rcode::SERVFAIL);
        }
        self.negative(zone);
        Step::Done(rc)
    }

    /// NODATA / NXDOMAIN authority: the zone SOA with the negative TTL (the one
    /// rendered with the snapshot, copied, when the QNAME's zone answers).
    pub(super) fn negative(&mut self, zone: ZoneRef<'s>) {
        self.neg_zone = match self.soa_at {
            Some(_) => NegZone::QnameSuffix(self.rev_zone_len),
            None => NegZone::Apex(zone.apex_hash()),
        };
        let soa = zone.soa();
        if soa.is_empty() || (self.soa_at.is_some() && self.reverse_negative(zone)) {
            return;
        }
        let (rr, pointers) = zone.negative_soa().parts();
        if let (Some(at), None, false) = (self.apex_at, self.soa_at, rr.is_empty()) {
            if self.truncated {
                return;
            }
            if self
                .resp
                .push_rendered(Section::Authority, rr, pointers, at)
                .is_err()
            {
                self.truncated = true;
            }
            return;
        }
        self.push_negative_soa(zone, soa.rdata(0));
    }

    /// Writes `rdata` as the negative answer's SOA (owner: the zone, or the
    /// reverse zone at `soa_at`; TTL: the zone's negative TTL).
    pub(super) fn push_negative_soa(&mut self, zone: ZoneRef<'s>, rdata: &[u8]) {
        let owner = Owner {
            name: zone.apex(),
            at: self.soa_at,
        };
        let ttl = zone.negative_ttl();
        self.push(Section::Authority, owner, rtype::SOA, ttl, rdata);
    }
}
