//! Lost-update protection: every read-modify-write of the API is one store
//! transaction that compares the revisions it read ([`Guard`]), retried on a
//! conflict with a fresh read and plan.
//!
//! Two appliances (or an appliance and etcdctl) writing the same name can
//! therefore never undo each other's change: the slower writer's compare
//! fails, it reads the other's result and plans again. The embedded store
//! checks the same guard inside its write transaction.

use super::book::Plan;
use super::error::ApiError;
use super::ApiState;
use crate::store::Guard;
use axum::http::StatusCode;
use std::time::Duration;

/// Read-plan-write attempts before giving up (503) under constant contention.
pub(crate) const WRITE_ATTEMPTS: usize = 40;

/// What a guarded write did.
pub(crate) enum Written {
    /// Committed (`Some(revision)`), or nothing to write (`None`).
    Done(Option<i64>),
    /// The guard failed: nothing written; read and plan again.
    Conflict,
}

/// Writes `plan` in one transaction that commits only while `guard` holds.
pub(crate) async fn write(
    state: &ApiState,
    plan: Plan,
    guard: &Guard,
) -> Result<Written, ApiError> {
    if plan.is_empty() {
        return Ok(Written::Done(None));
    }
    let ops = plan.puts.len() + plan.deletes.len();
    let done = state
        .store
        .apply_batch_if(guard, plan.puts, plan.deletes)
        .await
        .map_err(|e| {
            if e.to_string().contains("too many operations") {
                let summary = format!(
                    "the store refused a transaction of {ops} operations and {} compares; \
                     set [etcd] max-txn-ops to the servers' --max-txn-ops",
                    guard.len()
                );
                ApiError::internal(StatusCode::PAYLOAD_TOO_LARGE, &summary, e)
            } else {
                ApiError::store(e)
            }
        })?;
    Ok(match done {
        Some(revision) => Written::Done(Some(revision)),
        None => {
            tracing::debug!("api: write conflict; reading again");
            Written::Conflict
        }
    })
}

/// A short random pause before attempt `attempt` + 1 (so racing writers spread out).
pub(crate) async fn backoff(attempt: usize) {
    let ceiling_ms = 2u64 << attempt.min(6);
    let jitter = getrandom::u64().unwrap_or(0) % ceiling_ms;
    tokio::time::sleep(Duration::from_millis(jitter)).await;
}

/// The answer after [`WRITE_ATTEMPTS`] conflicts in a row.
pub(crate) fn contended() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "the records changed under this write {WRITE_ATTEMPTS} times in a row; \
             nothing was written, retry"
        ),
    )
}
