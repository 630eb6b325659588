//! Auto-PTR edits: the PTR records made from a name's A/AAAA records follow its address
//! changes. In the synthetic reverse trees they go to the auto-PTR store
//! (`snapshot::autoptr`, applied by `Snapshot::apply`); inside a configured domain they are
//! table nodes edited here.

use super::{AutoEdit, Editor};
use crate::record::rtype;
use crate::snapshot::reverse::reverse_name;
use crate::snapshot::rrset::{RrData, KIND_AUTO_PTR};

impl Editor<'_> {
    /// The reverse name of `addr`, unless it lies in the synthetic reverse tree: then the
    /// edit is kept for the auto-PTR store (`autoptr`) instead and `None` returned.
    fn auto_ptr_key(&mut self, addr: &[u8], owner: &[u8], ttl: u32, add: bool) -> Option<Vec<u8>> {
        let rkey = reverse_name(addr)?;
        if self.rules.is_configured(&rkey) {
            return Some(rkey);
        }
        self.auto_edits.extend(AutoEdit::new(addr, owner, ttl, add));
        None
    }

    /// The auto-PTR edits of the synthetic reverse trees, in order ([`Editor::auto_ptr_key`]).
    pub(crate) fn take_auto_edits(&mut self) -> Vec<AutoEdit> {
        std::mem::take(&mut self.auto_edits)
    }

    pub(super) fn add_auto_ptr(&mut self, addr: &[u8], owner: &[u8], ttl: u32) {
        let Some(rkey) = self.auto_ptr_key(addr, owner, ttl, true) else {
            return;
        };
        self.ensure_node(&rkey, &rkey);
        let Some(n) = self.node_mut(&rkey) else {
            return;
        };
        if n.rrset_mut(rtype::PTR, KIND_AUTO_PTR).is_none() {
            n.rrsets.push(RrData::new(rtype::PTR, KIND_AUTO_PTR));
        }
        if let Some(rr) = n.rrset_mut(rtype::PTR, KIND_AUTO_PTR) {
            match rr
                .items
                .iter_mut()
                .find(|i| i.rdata.eq_ignore_ascii_case(owner))
            {
                Some(i) => {
                    i.ttl = ttl;
                    i.rdata = owner.into();
                }
                None => rr.add(ttl, owner),
            }
        }
    }

    pub(super) fn remove_auto_ptr(&mut self, addr: &[u8], owner_key: &[u8]) {
        let Some(rkey) = self.auto_ptr_key(addr, owner_key, 0, false) else {
            return;
        };
        let Some(n) = self.node_mut(&rkey) else {
            return;
        };
        if let Some(rr) = n.rrset_mut(rtype::PTR, KIND_AUTO_PTR) {
            rr.items
                .retain(|i| !i.rdata.eq_ignore_ascii_case(owner_key));
        }
        n.rrsets.retain(|r| !r.items.is_empty());
        self.prune(&rkey);
    }
}
