//! Forwarded queries on the DPDK backend: the reply comes back through the
//! owning lcore's TX queue.
//!
//! When the engine hands a query to the forwarder, the lcore keeps the
//! query frame's headers (Ethernet, IP, UDP) in its [`Stash`], in the slot
//! whose index went to the forwarder as the request's `via`. The forwarder
//! pushes the reply bytes onto that lcore's return ring ([`DpdkReplies`]);
//! the lcore drains it between bursts, rebuilds the frame in a fresh mbuf
//! (saved headers + reply) and lets [`super::responder::Responder::finish_forwarded`]
//! swap the addresses and fix lengths and checksums, exactly as for an
//! answer made in place. A slot reused by a later miss (after
//! [`STASH_SLOTS`] more) no longer matches the reply's client: that reply is
//! dropped and counted.

use crate::cache::ReplySink;
use crossbeam::queue::ArrayQueue;
use std::net::SocketAddr;
use std::sync::Arc;

/// Forwarded queries whose headers an lcore remembers.
pub const STASH_SLOTS: usize = 4096;
/// Longest saved header: Ethernet with two VLAN tags, IPv4 with options, UDP.
pub const MAX_HEADERS: usize = 22 + 60 + 8;
/// Replies waiting in one lcore's return ring.
pub const RETURN_CAPACITY: usize = 4096;

#[derive(Clone, Copy)]
struct Slot {
    client: Option<SocketAddr>,
    len: u8,
    headers: [u8; MAX_HEADERS],
}

/// One lcore's saved query headers (only that lcore touches it).
pub struct Stash {
    slots: Box<[Slot]>,
    next: usize,
}

impl Default for Stash {
    fn default() -> Self {
        Stash {
            slots: vec![
                Slot {
                    client: None,
                    len: 0,
                    headers: [0; MAX_HEADERS],
                };
                STASH_SLOTS
            ]
            .into_boxed_slice(),
            next: 0,
        }
    }
}

impl Stash {
    /// The slot the next forwarded query will use (its `via`).
    #[inline]
    pub fn next_token(&self) -> u16 {
        self.next as u16
    }

    /// Saves the headers of the query just forwarded under
    /// [`Stash::next_token`]; `false` if they are too long to keep.
    #[inline]
    pub fn save(&mut self, client: SocketAddr, headers: &[u8]) -> bool {
        let Some(slot) = self.slots.get_mut(self.next) else {
            return false;
        };
        let Some(dst) = slot.headers.get_mut(..headers.len()) else {
            return false;
        };
        dst.copy_from_slice(headers);
        slot.len = headers.len() as u8;
        slot.client = Some(client);
        self.next = (self.next + 1) % STASH_SLOTS;
        true
    }

    /// The headers saved under `token` for `client`, if still there.
    pub fn headers(&self, token: u16, client: SocketAddr) -> Option<&[u8]> {
        let slot = self.slots.get(usize::from(token))?;
        if slot.client != Some(client) {
            return None;
        }
        slot.headers.get(..usize::from(slot.len))
    }
}

/// A forwarded reply on its way back to an lcore.
#[derive(Debug)]
pub struct Returned {
    pub via: u16,
    pub client: SocketAddr,
    pub msg: Box<[u8]>,
}

/// The return rings of every lcore (the forwarder's [`ReplySink`]).
#[derive(Debug)]
pub struct DpdkReplies {
    rings: Vec<Arc<ArrayQueue<Returned>>>,
}

impl DpdkReplies {
    pub fn new(lcores: usize) -> DpdkReplies {
        DpdkReplies {
            rings: (0..lcores)
                .map(|_| Arc::new(ArrayQueue::new(RETURN_CAPACITY)))
                .collect(),
        }
    }

    /// Lcore `i`'s ring.
    pub fn ring(&self, i: usize) -> Option<Arc<ArrayQueue<Returned>>> {
        self.rings.get(i).cloned()
    }
}

impl ReplySink for DpdkReplies {
    fn send(&self, core: u16, via: u16, to: SocketAddr, msg: &[u8]) -> bool {
        self.rings.get(usize::from(core)).is_some_and(|r| {
            r.push(Returned {
                via,
                client: to,
                msg: msg.into(),
            })
            .is_ok()
        })
    }
}
