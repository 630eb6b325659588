//! Automatic PTR records of the synthetic reverse trees, kept by address instead of as
//! table nodes (issue 11: with the 1 M-name zone the reverse names and their empty
//! non-terminals were 138 MB of a 231 MB table, ≈ 115 B a name).
//!
//! An auto-PTR whose reverse name lies in the synthetic `in-addr.arpa.` / `ip6.arpa.` tree
//! (not inside a configured domain: those stay ordinary table nodes) is stored here, one
//! entry per address: the address bytes as key (4 or 16 bytes) and the node entry the
//! engine reads (the usual [`NodeRef`] encoding with an empty key: the PTR RRset, kind
//! auto-PTR). Entries are kept sorted by address in chunks of a few hundred, each chunk
//! one shared allocation (`family`): an update copies only the chunks it touches and the
//! short list of chunk heads, so it stays cheap at a million addresses, and the sorted
//! order answers "does any address start with this prefix" (the reverse tree's empty
//! non-terminals: NODATA, not NXDOMAIN) by one range check instead of a node per prefix.
//!
//! [`crate::snapshot::Snapshot::node`] asks [`AutoPtr::node`] when the table has no node
//! (or only an empty non-terminal) at a name: a reverse name of a full address gives its
//! PTR node, a shorter one an empty non-terminal when some address lies below it. So the
//! engine's answers are those of the nodes this replaces: PTR answers, NODATA for reverse
//! ENTs, the reverse zones derived from the /24 or /64 that exists, NXDOMAIN otherwise.
//! PTR records given explicitly at the same name stay in the table and are shown over the
//! auto-PTR, as before. Unlike a table ENT, the empty non-terminal made here lists no
//! children (a SkyDNS wildcard pattern inside the reverse tree matches no auto-PTR).

mod family;

use super::node::NodeRef;
use super::reverse::{IN_ADDR_ARPA, IP6_ARPA, REVERSE_APEXES};
use super::shard::Table;
use family::Family;
pub(crate) use family::Input;
use std::sync::Arc;

/// Labels of a full address below its reverse apex: 4 octets, 32 nibbles.
const FULL_LABELS: [usize; 2] = [4, 32];
/// Key bytes of an address: IPv4, IPv6.
const KEY_LEN: [usize; 2] = [4, 16];

/// An empty node entry (empty key, no flags, no RRsets, no children): what a reverse
/// empty non-terminal looks like to the engine.
static ENT_ENTRY: [u8; 14] = [14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// A name under `in-addr.arpa.` / `ip6.arpa.` read as an address prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RevName {
    /// 0 = IPv4, 1 = IPv6.
    pub family: usize,
    /// The address bytes given by the labels, zero past them.
    pub bytes: [u8; 16],
    /// Labels below the apex (octets or nibbles).
    pub depth: usize,
}

/// The value of a decimal octet label as written by `reverse_name` (no leading zero).
fn octet(label: &[u8]) -> Option<u8> {
    if label.is_empty() || label.len() > 3 || (label.len() > 1 && label[0] == b'0') {
        return None;
    }
    let mut v: u16 = 0;
    for &c in label {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u16::from(c - b'0');
    }
    u8::try_from(v).ok()
}

/// The value of a lowercase one-digit hex label.
fn nibble(label: &[u8]) -> Option<u8> {
    match label {
        [c @ b'0'..=b'9'] => Some(c - b'0'),
        [c @ b'a'..=b'f'] => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Reads `lname` (lowercased wire) as a reverse name: `None` unless it is at or below
/// `in-addr.arpa.` / `ip6.arpa.` with labels that an address's reverse name has.
pub(crate) fn parse(lname: &[u8]) -> Option<RevName> {
    if !lname.ends_with(IN_ADDR_ARPA) && !lname.ends_with(IP6_ARPA) {
        return None;
    }
    let mut offs = [0usize; 32];
    let mut n = 0;
    let mut i = 0;
    loop {
        let rest = lname.get(i..)?;
        if let Some(family) = REVERSE_APEXES
            .iter()
            .position(|a| a.len() == rest.len() && *a == rest)
        {
            return from_labels(lname, offs.get(..n)?, family);
        }
        let len = usize::from(*rest.first()?);
        if len == 0 {
            return None;
        }
        *offs.get_mut(n)? = i;
        n += 1;
        i += 1 + len;
    }
}

/// The address prefix of the labels at `offs` (leftmost first) of `lname`.
fn from_labels(lname: &[u8], offs: &[usize], family: usize) -> Option<RevName> {
    if offs.len() > FULL_LABELS[family] {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (j, &o) in offs.iter().rev().enumerate() {
        let len = usize::from(*lname.get(o)?);
        let label = lname.get(o + 1..o + 1 + len)?;
        if family == 0 {
            *bytes.get_mut(j)? = octet(label)?;
        } else {
            let v = nibble(label)?;
            *bytes.get_mut(j / 2)? |= if j % 2 == 0 { v << 4 } else { v };
        }
    }
    Some(RevName {
        family,
        bytes,
        depth: offs.len(),
    })
}

/// One auto-PTR change (the editor's, applied by [`AutoPtr::applied`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edit {
    pub family: usize,
    pub bytes: [u8; 16],
    /// The forward owner (the PTR's RDATA), in its given case.
    pub owner: Box<[u8]>,
    pub ttl: u32,
    /// Add (or set the TTL and case of) the owner; false: remove it.
    pub add: bool,
}

impl Edit {
    /// The edit for a 4- or 16-byte address; `None` for any other length.
    pub(crate) fn new(addr: &[u8], owner: &[u8], ttl: u32, add: bool) -> Option<Edit> {
        let family = KEY_LEN.iter().position(|&l| l == addr.len())?;
        let mut bytes = [0u8; 16];
        bytes.get_mut(..addr.len())?.copy_from_slice(addr);
        Some(Edit {
            family,
            bytes,
            owner: owner.into(),
            ttl,
            add,
        })
    }
}

/// The auto-PTR records of both families (see the module docs).
#[derive(Default)]
pub(crate) struct AutoPtr {
    families: [Arc<Family>; 2],
}

impl AutoPtr {
    /// Compiles `inputs` (IPv4, IPv6), owners' bytes in `arena`.
    pub(crate) fn build(inputs: [Vec<Input>; 2], arena: &[u8]) -> AutoPtr {
        let [v4, v6] = inputs;
        AutoPtr {
            families: [
                Arc::new(Family::build(KEY_LEN[0], v4, arena)),
                Arc::new(Family::build(KEY_LEN[1], v6, arena)),
            ],
        }
    }

    /// True when no auto-PTR is held.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.families.iter().all(|f| f.is_empty())
    }

    /// The node at `lname` (lowercased wire): an address's PTR node, or an empty
    /// non-terminal when some address lies below the prefix `lname` names.
    #[inline]
    pub(crate) fn node<'a>(&'a self, shards: &'a Table, lname: &[u8]) -> Option<NodeRef<'a>> {
        if self.is_empty() {
            return None;
        }
        let r = parse(lname)?;
        let fam = self.families.get(r.family)?;
        if r.depth == 0 {
            return None;
        }
        if r.depth == FULL_LABELS[r.family] {
            let e = fam.leaf(r.bytes.get(..KEY_LEN[r.family])?)?;
            return Some(NodeRef::new(shards, e));
        }
        let units = if r.family == 0 { r.depth * 2 } else { r.depth };
        fam.has_prefix(&r.bytes, units)
            .then(|| NodeRef::new(shards, &ENT_ENTRY))
    }

    /// A copy with `edits` applied in order (untouched chunks shared), and which
    /// families changed.
    pub(crate) fn applied(&self, edits: &[Edit]) -> (AutoPtr, [bool; 2]) {
        let mut changed = [false; 2];
        let families = std::array::from_fn(|f| {
            let mine: Vec<&Edit> = edits.iter().filter(|e| e.family == f).collect();
            match self.families.get(f) {
                Some(fam) if mine.is_empty() => fam.clone(),
                Some(fam) => {
                    changed[f] = true;
                    Arc::new(fam.applied(&mine))
                }
                None => Arc::default(),
            }
        });
        (AutoPtr { families }, changed)
    }

    /// Heap bytes held (chunks shared with other snapshots included).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.families.iter().map(|f| f.heap_bytes()).sum()
    }

    /// Every auto-PTR held, in a comparable form (tests comparing snapshots).
    #[cfg(test)]
    pub(crate) fn dump(&self) -> Vec<String> {
        self.families.iter().flat_map(|f| f.dump()).collect()
    }

    /// Addresses held, per family.
    #[cfg(test)]
    pub(crate) fn len(&self, family: usize) -> usize {
        self.families.get(family).map_or(0, |f| f.len())
    }
}

#[cfg(test)]
mod tests;
