//! Builders for the `k8s-openapi` objects the tests create: Services of every kind and
//! EndpointSlices labelled with their Service.

use k8s_openapi::api::core::v1::{
    LoadBalancerIngress, LoadBalancerStatus, Service, ServicePort, ServiceSpec, ServiceStatus,
};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

fn meta(ns: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        namespace: Some(ns.to_string()),
        name: Some(name.to_string()),
        ..ObjectMeta::default()
    }
}

/// A named port (`name`, `port`, protocol TCP unless `proto` says otherwise).
pub fn port(name: &str, port: i32, proto: &str) -> ServicePort {
    ServicePort {
        name: (!name.is_empty()).then(|| name.to_string()),
        port,
        protocol: Some(proto.to_string()),
        ..ServicePort::default()
    }
}

/// A ClusterIP Service with `cluster_ips` and `ports`.
pub fn cluster_ip(ns: &str, name: &str, cluster_ips: &[&str], ports: Vec<ServicePort>) -> Service {
    Service {
        metadata: meta(ns, name),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            cluster_ip: cluster_ips.first().map(|s| s.to_string()),
            cluster_ips: Some(cluster_ips.iter().map(|s| s.to_string()).collect()),
            ports: Some(ports),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// A LoadBalancer Service: cluster IP, `external_ips` and load-balancer `ingress` IPs.
pub fn load_balancer(
    ns: &str,
    name: &str,
    cluster: &str,
    external_ips: &[&str],
    ingress: &[&str],
) -> Service {
    let mut svc = cluster_ip(ns, name, &[cluster], vec![port("http", 80, "TCP")]);
    if let Some(spec) = &mut svc.spec {
        spec.type_ = Some("LoadBalancer".into());
        spec.external_ips = Some(external_ips.iter().map(|s| s.to_string()).collect());
    }
    svc.status = Some(ServiceStatus {
        load_balancer: Some(LoadBalancerStatus {
            ingress: Some(
                ingress
                    .iter()
                    .map(|ip| LoadBalancerIngress {
                        ip: Some(ip.to_string()),
                        ..LoadBalancerIngress::default()
                    })
                    .collect(),
            ),
        }),
        conditions: None,
    });
    svc
}

/// A headless Service (`clusterIP: None`).
pub fn headless(ns: &str, name: &str, ports: Vec<ServicePort>) -> Service {
    Service {
        metadata: meta(ns, name),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            cluster_ip: Some("None".into()),
            cluster_ips: Some(vec!["None".into()]),
            ports: Some(ports),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// An ExternalName Service pointing at `target`.
pub fn external_name(ns: &str, name: &str, target: &str) -> Service {
    Service {
        metadata: meta(ns, name),
        spec: Some(ServiceSpec {
            type_: Some("ExternalName".into()),
            external_name: Some(target.to_string()),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// One endpoint: its address, hostname and readiness.
pub struct Ep<'a> {
    pub ip: &'a str,
    pub hostname: Option<&'a str>,
    pub ready: bool,
}

/// A ready endpoint without hostname.
pub fn ep(ip: &str) -> Ep<'_> {
    Ep {
        ip,
        hostname: None,
        ready: true,
    }
}

/// An EndpointSlice `name` of Service `service` with `endpoints` and named `ports`.
pub fn slice(
    ns: &str,
    name: &str,
    service: &str,
    endpoints: &[Ep],
    ports: &[(&str, i32, &str)],
) -> EndpointSlice {
    let mut m = meta(ns, name);
    m.labels = Some(BTreeMap::from([(
        "kubernetes.io/service-name".to_string(),
        service.to_string(),
    )]));
    let v6 = endpoints.first().is_some_and(|e| e.ip.contains(':'));
    EndpointSlice {
        metadata: m,
        address_type: if v6 { "IPv6" } else { "IPv4" }.to_string(),
        endpoints: Some(
            endpoints
                .iter()
                .map(|e| Endpoint {
                    addresses: vec![e.ip.to_string()],
                    hostname: e.hostname.map(str::to_string),
                    conditions: Some(EndpointConditions {
                        ready: Some(e.ready),
                        serving: Some(e.ready),
                        terminating: Some(false),
                    }),
                    ..Endpoint::default()
                })
                .collect(),
        ),
        ports: Some(
            ports
                .iter()
                .map(|(n, p, proto)| EndpointPort {
                    name: (!n.is_empty()).then(|| n.to_string()),
                    port: Some(*p),
                    protocol: Some(proto.to_string()),
                    app_protocol: None,
                })
                .collect(),
        ),
    }
}
