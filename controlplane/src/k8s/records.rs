//! The Kubernetes DNS specification 1.1.0 as records: one Service (with its EndpointSlices)
//! in, the records of every name it owns out. Pure functions, no I/O.
//!
//! - ClusterIP Service: A/AAAA `<svc>.<ns>.svc.<zone>` (addresses per `address-source`), SRV
//!   `_<port>._<proto>.<svc>.<ns>.svc.<zone>` per named port, PTR per address.
//! - Headless Service (`clusterIP: None`): A/AAAA per ready endpoint address, A/AAAA
//!   `<hostname>.<svc>.<ns>.svc.<zone>` (the endpoint's hostname, else its dashed address),
//!   SRV per named port and endpoint, PTR per endpoint address to its hostname name.
//! - ExternalName Service: CNAME to the external name.
//! - `pods = insecure`: A/AAAA `<a-b-c-d>.<ns>.pod.<zone>` per endpoint address.
//! - `dns-version.<zone>` TXT `1.1.0`.

use super::config::{AddressSource, PodMode};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointSlice};
use rustc_hash::FxHashSet;
use skylane_dataplane::name::Name;
use skylane_dataplane::record::{RData, Record};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Version of the Kubernetes DNS specification implemented.
pub const SPEC_VERSION: &str = "1.1.0";

/// What the mapping depends on besides the objects.
#[derive(Debug, Clone)]
pub struct MapCtx {
    pub zone: Name,
    pub ttl: u32,
    pub address_source: AddressSource,
    pub pods: PodMode,
}

/// Records per (lowercased) owner name.
pub type NameRecords = BTreeMap<Name, Vec<Record>>;

/// `dns-version.<zone>` TXT `1.1.0`.
pub fn dns_version(ctx: &MapCtx) -> Record {
    let name = child(&ctx.zone, "dns-version").expect("dns-version fits under a valid zone");
    Record::new(
        name,
        ctx.ttl,
        RData::Txt(vec![SPEC_VERSION.as_bytes().to_vec()]),
    )
}

fn child(parent: &Name, label: &str) -> Option<Name> {
    parent.prepend(label.to_ascii_lowercase().as_bytes()).ok()
}

/// `<svc>.<ns>.svc.<zone>`; `None` when the labels do not fit in a name.
pub fn service_name(ctx: &MapCtx, ns: &str, svc: &str) -> Option<Name> {
    child(&child(&child(&ctx.zone, "svc")?, ns)?, svc)
}

/// The `in-addr.arpa.` / `ip6.arpa.` name of `ip`.
pub fn reverse_name(ip: IpAddr) -> Name {
    let text = match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(73);
            for b in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            s.push_str("ip6.arpa.");
            s
        }
    };
    Name::from_ascii(&text).expect("reverse names are valid")
}

/// The dashed form of an address (`10-0-0-1`, `fd00--1`).
pub fn dashed(ip: IpAddr) -> String {
    ip.to_string().replace(['.', ':'], "-")
}

fn addr_record(name: &Name, ttl: u32, ip: IpAddr) -> Record {
    let data = match ip {
        IpAddr::V4(v4) => RData::A(v4),
        IpAddr::V6(v6) => RData::Aaaa(v6),
    };
    Record::new(name.clone(), ttl, data)
}

fn push(out: &mut NameRecords, r: Record) {
    out.entry(r.name.to_lowercase()).or_default().push(r);
}

/// Drops repeated records, keeping the first of each.
pub fn dedup(records: &mut Vec<Record>) {
    let mut seen: FxHashSet<Record> = FxHashSet::default();
    seen.reserve(records.len());
    records.retain(|r| seen.insert(r.clone()));
}

fn ips(list: impl IntoIterator<Item = impl AsRef<str>>) -> Vec<IpAddr> {
    list.into_iter()
        .filter_map(|s| s.as_ref().parse().ok())
        .collect()
}

/// The addresses `<svc>.<ns>.svc.<zone>` answers with for a non-headless Service.
fn service_addresses(ctx: &MapCtx, svc: &Service) -> Vec<IpAddr> {
    let Some(spec) = &svc.spec else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if matches!(
        ctx.address_source,
        AddressSource::ClusterIp | AddressSource::Both
    ) {
        match &spec.cluster_ips {
            Some(list) if !list.is_empty() => out.extend(ips(list)),
            _ => out.extend(ips(spec.cluster_ip.iter())),
        }
    }
    if matches!(
        ctx.address_source,
        AddressSource::ExternalIp | AddressSource::Both
    ) {
        out.extend(ips(spec.external_ips.iter().flatten()));
        let ingress = svc
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref());
        out.extend(ips(ingress
            .into_iter()
            .flatten()
            .filter_map(|i| i.ip.as_ref())));
    }
    let mut seen = Vec::with_capacity(out.len());
    out.retain(|ip| {
        let new = !seen.contains(ip);
        seen.push(*ip);
        new
    });
    out
}

fn is_headless(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .is_some_and(|ip| ip.eq_ignore_ascii_case("none"))
}

/// An SRV owner `_<port>._<proto>.<base>`; `None` for an unnamed port.
fn srv_owner(base: &Name, port_name: Option<&str>, proto: Option<&str>) -> Option<Name> {
    let port = port_name.filter(|p| !p.is_empty())?;
    let proto = proto.unwrap_or("TCP").to_ascii_lowercase();
    child(&child(base, &format!("_{proto}"))?, &format!("_{port}"))
}

fn srv(owner: Name, ttl: u32, port: i32, target: &Name) -> Option<Record> {
    let port = u16::try_from(port).ok()?;
    Some(Record::new(
        owner,
        ttl,
        RData::Srv {
            priority: 0,
            weight: 100,
            port,
            target: target.clone(),
        },
    ))
}

/// An endpoint is served when ready (unknown counts as ready, per the API's contract) or
/// when the Service publishes not-ready addresses.
fn endpoint_served(ep: &Endpoint, publish_not_ready: bool) -> bool {
    publish_not_ready || ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true)
}

/// Every record of one Service, given the EndpointSlices labelled with its name: its own
/// part and each slice's part.
pub fn service_records(ctx: &MapCtx, svc: &Service, slices: &[&EndpointSlice]) -> NameRecords {
    let mut out = service_part(ctx, svc);
    for slice in slices {
        for (name, recs) in slice_part(ctx, svc, slice) {
            out.entry(name).or_default().extend(recs);
        }
    }
    out.values_mut().for_each(dedup);
    out
}

/// `<svc>.<ns>.svc.<zone>` of a Service with both names set.
fn base_of(ctx: &MapCtx, svc: &Service) -> Option<(String, Name)> {
    let (ns, name) = (
        svc.metadata.namespace.as_ref()?,
        svc.metadata.name.as_ref()?,
    );
    Some((ns.clone(), service_name(ctx, ns, name)?))
}

/// The records that come from the Service object alone (addresses, SRV, PTR, CNAME).
pub fn service_part(ctx: &MapCtx, svc: &Service) -> NameRecords {
    let mut out = NameRecords::new();
    let Some((_, base)) = base_of(ctx, svc) else {
        return out;
    };
    let spec = svc.spec.clone().unwrap_or_default();
    if spec.type_.as_deref() == Some("ExternalName") {
        if let Some(target) = spec.external_name.as_deref() {
            if let Ok(target) = Name::from_ascii(target) {
                push(&mut out, Record::new(base, ctx.ttl, RData::Cname(target)));
            }
        }
        return out;
    }
    if is_headless(svc) {
        return out;
    }
    let addrs = service_addresses(ctx, svc);
    for ip in &addrs {
        push(&mut out, addr_record(&base, ctx.ttl, *ip));
        push(
            &mut out,
            Record::new(reverse_name(*ip), ctx.ttl, RData::Ptr(base.clone())),
        );
    }
    if !addrs.is_empty() {
        for p in spec.ports.iter().flatten() {
            let owner = srv_owner(&base, p.name.as_deref(), p.protocol.as_deref());
            if let Some(r) = owner.and_then(|o| srv(o, ctx.ttl, p.port, &base)) {
                push(&mut out, r);
            }
        }
    }
    out.values_mut().for_each(dedup);
    out
}

/// The records one EndpointSlice adds to its Service (headless endpoints, pod names).
pub fn slice_part(ctx: &MapCtx, svc: &Service, slice: &EndpointSlice) -> NameRecords {
    let mut out = NameRecords::new();
    let Some((ns, base)) = base_of(ctx, svc) else {
        return out;
    };
    let spec = svc.spec.as_ref();
    if is_headless(svc) && spec.and_then(|s| s.type_.as_deref()) != Some("ExternalName") {
        let publish = spec
            .and_then(|s| s.publish_not_ready_addresses)
            .unwrap_or(false);
        headless_records(ctx, &base, slice, publish, &mut out);
    }
    if ctx.pods == PodMode::Insecure {
        pod_records(ctx, &ns, slice, &mut out);
    }
    out.values_mut().for_each(dedup);
    out
}

fn headless_records(
    ctx: &MapCtx,
    base: &Name,
    slice: &EndpointSlice,
    publish_not_ready: bool,
    out: &mut NameRecords,
) {
    // SRV owners of the slice's named ports, built once per slice.
    let ports: Vec<(Name, i32)> = slice
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            let owner = srv_owner(base, p.name.as_deref(), p.protocol.as_deref())?;
            Some((owner, p.port?))
        })
        .collect();
    let served = slice
        .endpoints
        .iter()
        .flatten()
        .filter(|e| endpoint_served(e, publish_not_ready));
    for ep in served {
        for ip in ips(&ep.addresses) {
            let label = ep.hostname.clone().unwrap_or_else(|| dashed(ip));
            let Some(host) = child(base, &label) else {
                continue;
            };
            push(out, addr_record(base, ctx.ttl, ip));
            push(out, addr_record(&host, ctx.ttl, ip));
            push(
                out,
                Record::new(reverse_name(ip), ctx.ttl, RData::Ptr(host.clone())),
            );
            for (owner, port) in &ports {
                if let Some(r) = srv(owner.clone(), ctx.ttl, *port, &host) {
                    push(out, r);
                }
            }
        }
    }
}

fn pod_records(ctx: &MapCtx, ns: &str, slice: &EndpointSlice, out: &mut NameRecords) {
    let Some(pod_ns) = child(&ctx.zone, "pod").and_then(|p| child(&p, ns)) else {
        return;
    };
    for ep in slice.endpoints.iter().flatten() {
        for ip in ips(&ep.addresses) {
            if let Some(name) = child(&pod_ns, &dashed(ip)) {
                push(out, addr_record(&name, ctx.ttl, ip));
            }
        }
    }
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
