//! Leases for health agents: grant, keep alive, puts attached to a lease, and a write guarded
//! by a compare on a key's lease in the same transaction (an agent writes only while its own
//! lease is alive, so a cut-off agent cannot overwrite a live one's verdict).

use super::{err, EtcdStore, StoreError};
use etcd_client::{Compare, CompareOp, LeaseKeepAliveStream, PutOptions, Txn, TxnOp};

/// A keep-alive stream for one lease.
pub struct KeepAlive {
    id: i64,
    keeper: etcd_client::LeaseKeeper,
    stream: LeaseKeepAliveStream,
}

impl KeepAlive {
    /// The lease id.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// Sends one keep-alive and waits for the answer: the remaining TTL in seconds
    /// (0 = the lease is gone).
    pub async fn refresh(&mut self, timeout: std::time::Duration) -> Result<i64, StoreError> {
        let round = async {
            self.keeper
                .keep_alive()
                .await
                .map_err(|e| err("lease keep-alive", e))?;
            match self.stream.message().await {
                Ok(Some(resp)) => Ok(resp.ttl()),
                Ok(None) => Err(err("lease keep-alive", "stream ended")),
                Err(e) => Err(err("lease keep-alive", e)),
            }
        };
        tokio::time::timeout(timeout, round)
            .await
            .map_err(|_| err("lease keep-alive", "timed out"))?
    }
}

/// The conditions of [`EtcdStore::put_guarded`].
#[derive(Debug, Clone)]
pub struct PutGuard {
    /// A key that must be attached to `lease` (the agent's heartbeat key).
    pub lease_key: String,
    pub lease: i64,
    /// The key written; its mod revision must still be `mod_revision` (0 = absent).
    pub key: String,
    pub mod_revision: i64,
}

impl EtcdStore {
    /// Grants a lease of `ttl_s` seconds; returns its id.
    pub async fn grant_lease(&self, ttl_s: i64) -> Result<i64, StoreError> {
        let mut lease = self.clients.lease.clone();
        let resp = self.call("lease grant", lease.grant(ttl_s, None)).await?;
        Ok(resp.id())
    }

    /// Opens a keep-alive stream for lease `id`.
    pub async fn keep_alive(&self, id: i64) -> Result<KeepAlive, StoreError> {
        let mut lease = self.clients.lease.clone();
        let (keeper, stream) = self.call("lease keep-alive", lease.keep_alive(id)).await?;
        Ok(KeepAlive { id, keeper, stream })
    }

    /// Revokes lease `id` (its keys are deleted).
    pub async fn revoke_lease(&self, id: i64) -> Result<(), StoreError> {
        let mut lease = self.clients.lease.clone();
        self.call("lease revoke", lease.revoke(id)).await?;
        Ok(())
    }

    /// Puts every pair attached to `lease` in one transaction (deleted when the lease ends).
    pub async fn put_with_lease(
        &self,
        puts: Vec<(String, Vec<u8>)>,
        lease: i64,
    ) -> Result<i64, StoreError> {
        let ops: Vec<TxnOp> = puts
            .into_iter()
            .map(|(k, v)| TxnOp::put(k, v, Some(PutOptions::new().with_lease(lease))))
            .collect();
        let mut kv = self.clients.kv.clone();
        let resp = self.call("txn", kv.txn(Txn::new().and_then(ops))).await?;
        Ok(resp.header().map_or(0, |h| h.revision()))
    }

    /// Creates `key` = `value` on `lease` only if `key` does not exist (an election: the
    /// creator leads until its lease ends). True when this call created it.
    pub async fn create_with_lease(
        &self,
        key: &str,
        value: Vec<u8>,
        lease: i64,
    ) -> Result<bool, StoreError> {
        let txn = Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                key,
                value,
                Some(PutOptions::new().with_lease(lease)),
            )]);
        let mut kv = self.clients.kv.clone();
        Ok(self
            .call("create with lease", kv.txn(txn))
            .await?
            .succeeded())
    }

    /// Puts `value` at `guard.key` only if `guard.lease_key` is attached to `guard.lease` and
    /// `guard.key` was not changed since `guard.mod_revision`, in one transaction. Returns the
    /// revision of the write, or `None` when a condition failed (nothing written).
    pub async fn put_guarded(
        &self,
        guard: &PutGuard,
        value: Vec<u8>,
    ) -> Result<Option<i64>, StoreError> {
        let txn = Txn::new()
            .when([
                Compare::lease(guard.lease_key.as_str(), CompareOp::Equal, guard.lease),
                Compare::mod_revision(guard.key.as_str(), CompareOp::Equal, guard.mod_revision),
            ])
            .and_then([TxnOp::put(guard.key.as_str(), value, None)]);
        let mut kv = self.clients.kv.clone();
        let resp = self.call("guarded put", kv.txn(txn)).await?;
        Ok(resp
            .succeeded()
            .then(|| resp.header().map_or(0, |h| h.revision())))
    }
}
