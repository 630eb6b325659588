//! A throw-away 3- (or 5-) member etcd cluster on loopback ports, for the tests that kill and
//! restart members (the leader included) while Skylane runs against all of them.

use crate::etcd::{EtcdServer, Launch};
use std::time::{Duration, Instant};

/// The members of one cluster; killed on drop.
pub struct EtcdCluster {
    pub members: Vec<EtcdServer>,
}

impl EtcdCluster {
    /// Starts `size` members and waits until every one is healthy (a leader is elected);
    /// `None` without an etcd binary. Retries with fresh ports when one was taken meanwhile.
    pub fn start(size: usize) -> Option<EtcdCluster> {
        let mut members = Vec::with_capacity(size);
        for i in 0..size {
            let mut m = EtcdServer::unstarted(&[])?;
            m.name = format!("m{i}");
            members.push(m);
        }
        for _ in 0..5 {
            for m in &mut members {
                m.wipe();
                m.pick_ports();
            }
            let cluster: Vec<String> = members
                .iter()
                .map(|m| format!("{}={}", m.name, m.peer_url()))
                .collect();
            for m in &mut members {
                m.initial_cluster = Some(cluster.join(","));
                m.spawn();
            }
            if members
                .iter_mut()
                .all(|m| matches!(m.wait_ready(), Launch::Ready))
            {
                return Some(EtcdCluster { members });
            }
            eprintln!("etcd cluster: a picked port was taken meanwhile, retrying");
        }
        panic!("etcd cluster: picked ports were taken 5 times in a row");
    }

    /// Every member's client URL.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(EtcdServer::endpoint).collect()
    }

    /// The index of the current leader (polls up to 60 s for one).
    pub fn leader(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            for (i, m) in self.members.iter().enumerate() {
                let out = m.etcdctl(&["endpoint", "status", "--write-out=json"]);
                let text = String::from_utf8_lossy(&out.stdout);
                let v: serde_json::Value = match serde_json::from_str(&text) {
                    Ok(v) => v,
                    Err(_) => continue,
                };
                let status = &v[0]["Status"];
                let (id, leader) = (&status["header"]["member_id"], &status["leader"]);
                if !id.is_null() && id == leader {
                    return i;
                }
            }
            assert!(Instant::now() < deadline, "no etcd leader within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
