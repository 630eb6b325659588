//! The cluster as last seen by the watchers: Services and EndpointSlices by namespace/name,
//! the records each *part* produced — a Service's own records, and each of its EndpointSlices'
//! — and which parts own each name. A slice change recomputes only that slice's part (a
//! headless Service of 10,000 endpoints in 100 slices rebuilds 100 endpoints, then joins the
//! cached parts of the names it touched). Every change returns the names whose record sets
//! changed, each with its complete new set (empty = gone), ready for the sync's extra record
//! source or the store writer.

use super::records::{dns_version, service_part, slice_part, MapCtx, NameRecords};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use skylane_dataplane::name::Name;
use skylane_dataplane::record::Record;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// `(namespace, name)`.
pub type Key = (String, String);

/// The label tying an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Names whose records changed, with their complete new record set.
pub type Changes = Vec<(Name, Vec<Record>)>;

/// A record source: the Service itself (`""`) or one of its EndpointSlices (its name).
type Part = (Key, String);

/// Which objects a relist replaces: every object of one kind, or those of one namespace.
pub type Scope<'a> = Option<&'a str>;

/// See the module docs.
pub struct Cluster {
    ctx: MapCtx,
    services: HashMap<Key, Service>,
    slices: HashMap<Key, EndpointSlice>,
    /// Service key → names of its EndpointSlices.
    slices_of: HashMap<Key, BTreeSet<String>>,
    produced: HashMap<Part, NameRecords>,
    owners: HashMap<Name, BTreeSet<Part>>,
}

fn key_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Option<Key> {
    Some((meta.namespace.clone()?, meta.name.clone()?))
}

fn slice_service(slice: &EndpointSlice) -> Option<Key> {
    let svc = slice.metadata.labels.as_ref()?.get(SERVICE_NAME_LABEL)?;
    Some((slice.metadata.namespace.clone()?, svc.clone()))
}

fn in_scope(key: &Key, scope: Scope) -> bool {
    scope.is_none_or(|ns| key.0 == ns)
}

impl Cluster {
    pub fn new(ctx: MapCtx) -> Cluster {
        Cluster {
            ctx,
            services: HashMap::new(),
            slices: HashMap::new(),
            slices_of: HashMap::new(),
            produced: HashMap::new(),
            owners: HashMap::new(),
        }
    }

    /// The records that exist whatever the cluster holds (`dns-version.<zone>`).
    pub fn fixed(&self) -> Changes {
        let r = dns_version(&self.ctx);
        vec![(r.name.to_lowercase(), vec![r])]
    }

    /// Number of Services and EndpointSlices known.
    pub fn counts(&self) -> (usize, usize) {
        (self.services.len(), self.slices.len())
    }

    pub fn apply_service(&mut self, svc: Service) -> Changes {
        let Some(key) = key_of(&svc.metadata) else {
            return Vec::new();
        };
        self.services.insert(key.clone(), svc);
        let parts = self.parts_of(&key);
        self.recompute(parts)
    }

    pub fn delete_service(&mut self, svc: &Service) -> Changes {
        let Some(key) = key_of(&svc.metadata) else {
            return Vec::new();
        };
        self.services.remove(&key);
        let parts = self.parts_of(&key);
        self.recompute(parts)
    }

    /// Every part of Service `key`: itself and each of its slices.
    fn parts_of(&self, key: &Key) -> Vec<Part> {
        let slices = self.slices_of.get(key).into_iter().flatten();
        std::iter::once(String::new())
            .chain(slices.cloned())
            .map(|s| (key.clone(), s))
            .collect()
    }

    pub fn apply_slice(&mut self, slice: EndpointSlice) -> Changes {
        let Some(key) = key_of(&slice.metadata) else {
            return Vec::new();
        };
        let mut touched = self.unlink_slice(&key);
        if let Some(svc) = slice_service(&slice) {
            self.slices_of
                .entry(svc.clone())
                .or_default()
                .insert(key.1.clone());
            touched.insert(svc);
        }
        let name = key.1.clone();
        self.slices.insert(key, slice);
        self.recompute(touched.into_iter().map(|svc| (svc, name.clone())))
    }

    pub fn delete_slice(&mut self, slice: &EndpointSlice) -> Changes {
        let Some(key) = key_of(&slice.metadata) else {
            return Vec::new();
        };
        let touched = self.unlink_slice(&key);
        self.recompute(touched.into_iter().map(|svc| (svc, key.1.clone())))
    }

    /// Forgets slice `key`; the Service it belonged to.
    fn unlink_slice(&mut self, key: &Key) -> BTreeSet<Key> {
        let mut touched = BTreeSet::new();
        if let Some(old) = self.slices.remove(key) {
            if let Some(svc) = slice_service(&old) {
                if let Some(set) = self.slices_of.get_mut(&svc) {
                    set.remove(&key.1);
                    if set.is_empty() {
                        self.slices_of.remove(&svc);
                    }
                }
                touched.insert(svc);
            }
        }
        touched
    }

    /// A relist of Services in `scope`: they replace every Service known there.
    pub fn replace_services(&mut self, scope: Scope, list: Vec<Service>) -> Changes {
        let mut touched: BTreeSet<Key> = self
            .services
            .keys()
            .filter(|k| in_scope(k, scope))
            .cloned()
            .collect();
        self.services.retain(|k, _| !in_scope(k, scope));
        for svc in list {
            if let Some(key) = key_of(&svc.metadata) {
                touched.insert(key.clone());
                self.services.insert(key, svc);
            }
        }
        let parts: Vec<Part> = touched.iter().flat_map(|k| self.parts_of(k)).collect();
        self.recompute(parts)
    }

    /// A relist of EndpointSlices in `scope`: they replace every slice known there.
    pub fn replace_slices(&mut self, scope: Scope, list: Vec<EndpointSlice>) -> Changes {
        let old: Vec<Key> = self
            .slices
            .keys()
            .filter(|k| in_scope(k, scope))
            .cloned()
            .collect();
        let mut touched: BTreeSet<Part> = BTreeSet::new();
        for key in old {
            for svc in self.unlink_slice(&key) {
                touched.insert((svc, key.1.clone()));
            }
        }
        for slice in list {
            let Some(key) = key_of(&slice.metadata) else {
                continue;
            };
            if let Some(svc) = slice_service(&slice) {
                self.slices_of
                    .entry(svc.clone())
                    .or_default()
                    .insert(key.1.clone());
                touched.insert((svc, key.1.clone()));
            }
            self.slices.insert(key, slice);
        }
        self.recompute(touched)
    }

    /// The records of one part now.
    fn compute(&self, (key, slice): &Part) -> NameRecords {
        let Some(svc) = self.services.get(key) else {
            return NameRecords::new();
        };
        if slice.is_empty() {
            return service_part(&self.ctx, svc);
        }
        match self.slices.get(&(key.0.clone(), slice.clone())) {
            Some(sl) if slice_service(sl).as_ref() == Some(key) => slice_part(&self.ctx, svc, sl),
            _ => NameRecords::new(),
        }
    }

    /// Recomputes `parts`; the names whose complete record set changed.
    fn recompute(&mut self, parts: impl IntoIterator<Item = Part>) -> Changes {
        let mut dirty: BTreeSet<Name> = BTreeSet::new();
        for part in parts {
            let new = self.compute(&part);
            let old = self.produced.remove(&part).unwrap_or_default();
            for (name, recs) in &old {
                if new.get(name) != Some(recs) {
                    dirty.insert(name.clone());
                    if !new.contains_key(name) {
                        if let Some(o) = self.owners.get_mut(name) {
                            o.remove(&part);
                            if o.is_empty() {
                                self.owners.remove(name);
                            }
                        }
                    }
                }
            }
            for (name, recs) in &new {
                if old.get(name) != Some(recs) {
                    dirty.insert(name.clone());
                    self.owners
                        .entry(name.clone())
                        .or_default()
                        .insert(part.clone());
                }
            }
            if !new.is_empty() {
                self.produced.insert(part, new);
            }
        }
        dirty
            .into_iter()
            .map(|name| {
                let recs = self.records_of(&name);
                (name, recs)
            })
            .collect()
    }

    /// Every record of `name`, over all owning parts (a record two parts share appears
    /// twice; the snapshot and the store writer keep one).
    fn records_of(&self, name: &Name) -> Vec<Record> {
        self.owners
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|part| self.produced.get(part).and_then(|p| p.get(name)))
            .flatten()
            .cloned()
            .collect()
    }

    /// Every name and its records (for a full write or a test).
    pub fn all(&self) -> BTreeMap<Name, Vec<Record>> {
        let mut out: BTreeMap<Name, Vec<Record>> = self.fixed().into_iter().collect();
        for name in self.owners.keys() {
            out.insert(name.clone(), self.records_of(name));
        }
        out
    }
}
