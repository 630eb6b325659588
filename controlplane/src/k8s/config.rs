//! `[kubernetes]`: the Kubernetes sync section of the configuration file (where the cluster
//! is, which zone its names live in, which addresses a Service answers with, and whether the
//! records go straight into this appliance's snapshot or into the record store). Parsed with
//! the rest of the file by [`crate::config::Config`], which re-exports these types;
//! docs/config.md and docs/kubernetes.md list every key.

use serde::{Deserialize, Deserializer};
use skylane_dataplane::name::Name;
use std::path::PathBuf;

/// Which Service addresses answer `<svc>.<ns>.svc.<zone>` (`[kubernetes] address-source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AddressSource {
    /// `spec.clusterIPs` (the Kubernetes DNS specification).
    #[default]
    ClusterIp,
    /// `spec.externalIPs` and every `status.loadBalancer.ingress[].ip` (ContainerDNS's mode,
    /// for an appliance outside the pod network).
    ExternalIp,
    /// Both sets.
    Both,
}

/// Pod records `<a-b-c-d>.<ns>.pod.<zone>` (`[kubernetes] pods`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PodMode {
    #[default]
    Disabled,
    /// Every endpoint address seen in an EndpointSlice gets its pod name.
    Insecure,
}

/// Where the records go (`[kubernetes] mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SyncMode {
    /// Straight into this appliance's snapshot.
    #[default]
    Direct,
    /// Written to the record store in SkyDNS layout under `prefix` by one elected writer;
    /// every appliance in store mode serves what is there.
    Store,
}

/// `[kubernetes]`. See docs/kubernetes.md.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct KubernetesSection {
    pub enabled: bool,
    /// `None`: the in-cluster service account, else `$KUBECONFIG`, else `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    #[serde(deserialize_with = "de_zone")]
    pub zone: Name,
    pub address_source: AddressSource,
    /// Namespaces watched; empty = all.
    pub namespaces: Vec<String>,
    pub pods: PodMode,
    pub mode: SyncMode,
    /// Store prefix of the records in `store` mode.
    pub prefix: String,
}

impl Default for KubernetesSection {
    fn default() -> Self {
        KubernetesSection {
            enabled: false,
            kubeconfig: None,
            zone: Name::from_ascii("cluster.local.").expect("valid zone"),
            address_source: AddressSource::ClusterIp,
            namespaces: Vec::new(),
            pods: PodMode::Disabled,
            mode: SyncMode::Direct,
            prefix: "/skydns-k8s".to_string(),
        }
    }
}

fn de_zone<'de, D: Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
    let s = String::deserialize(d)?;
    let name = Name::from_ascii(&s)
        .map_err(|e| serde::de::Error::custom(format!("bad zone {s:?}: {e}")))?;
    if name.is_root() {
        return Err(serde::de::Error::custom(
            "zone: the root cannot be the cluster zone",
        ));
    }
    Ok(name.to_lowercase())
}

impl KubernetesSection {
    /// Checks what types alone cannot.
    pub fn validate(&self) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        for ns in &self.namespaces {
            let ok = !ns.is_empty()
                && ns.len() <= 63
                && ns
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return Err(format!(
                    "kubernetes: namespaces: {ns:?} is not a Kubernetes namespace name"
                ));
            }
        }
        let p = self.prefix.trim_end_matches('/');
        if !p.starts_with('/') || p.len() < 2 {
            return Err(format!(
                "kubernetes: prefix: {:?} must be an absolute key prefix such as /skydns-k8s",
                self.prefix
            ));
        }
        Ok(())
    }

    /// The zone this section serves, when enabled.
    pub fn served_zone(&self) -> Option<&Name> {
        self.enabled.then_some(&self.zone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn kubernetes_section_parses_with_defaults_and_errors_name_the_key() {
        let text = "[kubernetes]\nenabled = true\nkubeconfig = \"/etc/k\"\nzone = \"Cluster.Example\"\n\
                    address-source = \"both\"\nnamespaces = [\"shop\", \"db\"]\npods = \"insecure\"\n\
                    mode = \"store\"\nprefix = \"/k8s\"\n";
        let k = Config::parse(text).unwrap().kubernetes;
        assert_eq!(
            k.kubeconfig.as_deref(),
            Some(std::path::Path::new("/etc/k"))
        );
        assert_eq!(k.zone.to_string(), "cluster.example.");
        assert_eq!(k.address_source, AddressSource::Both);
        assert_eq!(k.namespaces, ["shop", "db"]);
        assert_eq!(
            (k.pods, k.mode, k.prefix.as_str()),
            (PodMode::Insecure, SyncMode::Store, "/k8s")
        );
        let d = Config::parse("").unwrap().kubernetes;
        assert!(!d.enabled && d.kubeconfig.is_none() && d.served_zone().is_none());
        assert_eq!(d.zone.to_string(), "cluster.local.");
        assert_eq!((d.address_source, d.pods, d.mode), Default::default());
        assert_eq!(d.prefix, "/skydns-k8s");
        let enabled = Config::parse("[kubernetes]\nenabled = true\n").unwrap();
        let zone = enabled.zone_config(&[]);
        assert!(zone
            .domains
            .iter()
            .any(|d| d.to_string() == "cluster.local."));
        for (text, want) in [
            (
                "[kubernetes]\naddress-source = \"pod-ip\"\n",
                "unknown variant",
            ),
            ("[kubernetes]\nmode = \"both\"\n", "unknown variant"),
            ("[kubernetes]\nzone = \".\"\n", "zone"),
            (
                "[kubernetes]\nenabled = true\nnamespaces = [\"Bad_NS\"]\n",
                "namespaces",
            ),
            ("[kubernetes]\nenabled = true\nprefix = \"k8s\"\n", "prefix"),
            ("[kubernetes]\nwatch-pods = true\n", "unknown field"),
        ] {
            let (_, reason) = Config::parse(text).unwrap_err();
            assert!(reason.contains(want), "{text:?}: {reason}");
        }
    }
}
