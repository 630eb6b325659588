//! A throw-away 3- (or 5-) member etcd cluster on loopback ports, for the tests that kill and
//! restart members (the leader included) while Skylane runs against all of them.

use crate::etcd::{EtcdServer, Launch};
use std::io::{Read, Write};
use std::net::TcpStream;
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

    /// Watch streams open on member `i` (its `etcd_debugging_mvcc_watch_stream_total` metric;
    /// 0 when the member does not answer).
    pub fn watch_streams(&self, i: usize) -> u64 {
        let addr = self.members[i].client_addr();
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else {
            return 0;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let mut text = String::new();
        if write!(s, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").is_err()
            || s.read_to_string(&mut text).is_err()
        {
            return 0;
        }
        text.lines()
            .find_map(|l| l.strip_prefix("etcd_debugging_mvcc_watch_stream_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map_or(0, |v| v as u64)
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
