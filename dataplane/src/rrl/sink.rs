//! Rate limiting of the forwarder's replies: the answers sent after an upstream round trip
//! (and the forwarder's own cache hits) leave through the backend's [`ReplySink`] from the
//! control plane, never through a core's loop, so they pass through a [`LimitedSink`]
//! with a limiter of their own (BIND limits the answer it renders once recursion is done;
//! so do we). That path is off-core and already copies each reply: one mutex-guarded
//! limiter and a read of the message ([`classify::reply_of`]) cost nothing a core pays.

use super::{classify, Limiter, Outcome, RrlHandle};
use crate::cache::ReplySink;
use crate::wire::header::HEADER_LEN;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// Room for a slipped reply: the header and one question (a name is at most 255 bytes).
const SLIP_ROOM: usize = HEADER_LEN + 255 + 4;

/// A [`ReplySink`] that applies `[rrl]` before handing a reply to the backend.
pub struct LimitedSink {
    inner: Arc<dyn ReplySink>,
    limiter: Mutex<Limiter>,
}

impl LimitedSink {
    /// Limits what goes to `inner` with `rrl`'s settings (its last counter slot).
    pub fn new(inner: Arc<dyn ReplySink>, rrl: &Arc<RrlHandle>) -> LimitedSink {
        LimitedSink {
            inner,
            limiter: Mutex::new(rrl.off_core_limiter()),
        }
    }

    /// What happens to `msg` for client `to` (accounted and counted).
    fn outcome(&self, to: SocketAddr, msg: &[u8]) -> Outcome {
        let mut limiter = self.limiter.lock().unwrap_or_else(PoisonError::into_inner);
        limiter.tick();
        if !limiter.settings.enabled {
            return Outcome::Send;
        }
        let outcome = limiter.judge(&classify::reply_of(msg), to.ip());
        limiter.count(outcome);
        outcome
    }
}

impl ReplySink for LimitedSink {
    fn send(&self, core: u16, via: u16, to: SocketAddr, msg: &[u8]) -> bool {
        match self.outcome(to, msg) {
            Outcome::Send => self.inner.send(core, via, to, msg),
            Outcome::Slip => {
                let mut buf = [0u8; SLIP_ROOM];
                let n = msg.len().min(SLIP_ROOM);
                buf[..n].copy_from_slice(&msg[..n]);
                let len = classify::truncate(&mut buf, n);
                self.inner.send(core, via, to, &buf[..len])
            }
            // Not sent on purpose: not a send error.
            Outcome::Drop => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rrl::RrlSettings;
    use crate::wire::header::flags;

    /// Records what reached the backend.
    #[derive(Default)]
    struct Sent(Mutex<Vec<Vec<u8>>>);

    impl ReplySink for Sent {
        fn send(&self, _: u16, _: u16, _: SocketAddr, msg: &[u8]) -> bool {
            self.0.lock().unwrap().push(msg.to_vec());
            true
        }
    }

    /// An upstream's NOERROR answer for `web.example.` A.
    fn answer() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(b"\x03web\x07example\x00\x00\x01\x00\x01");
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        m
    }

    #[test]
    fn forwarded_replies_are_limited_slipped_and_counted() {
        let settings = RrlSettings {
            enabled: true,
            responses_per_second: 2,
            slip: 2,
            ..RrlSettings::default()
        };
        let rrl = RrlHandle::new(settings, 2);
        let backend = Arc::new(Sent::default());
        let sink = LimitedSink::new(backend.clone(), &rrl);
        let to: SocketAddr = "192.0.2.7:5300".parse().unwrap();
        let msg = answer();
        for _ in 0..6 {
            assert!(sink.send(0, 0, to, &msg));
        }
        let sent = backend.0.lock().unwrap().clone();
        // 2 within the rate; of the 4 limited the 1st and 3rd slip.
        assert_eq!(sent.len(), 4, "{sent:?}");
        assert!(sent[..2].iter().all(|m| *m == msg));
        for slip in &sent[2..] {
            assert_eq!(slip.len(), HEADER_LEN + 13 + 4, "header and question only");
            assert_ne!(u16::from_be_bytes([slip[2], slip[3]]) & flags::TC, 0);
        }
        assert_eq!((rrl.slipped(), rrl.dropped()), (2, 2));
        // Off: everything goes through.
        rrl.set(RrlSettings::default());
        for _ in 0..5 {
            assert!(sink.send(0, 0, to, &msg));
        }
        assert_eq!(backend.0.lock().unwrap().len(), 9);
    }
}
