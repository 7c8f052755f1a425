//! Idempotent writes (AIP-155, LE-11): a retry with the same key and the same request returns the
//! first answer, byte for byte; the same key with another request is ALREADY_EXISTS.
//!
//! Use inside the write's transaction: [`claim`] first, do the work, then [`remember`] the answer.
//! A concurrent retry blocks on the claimed key until the first transaction ends, then replays.
use anyhow::Context;
use sha2::{Digest, Sha256};
use tonic::Status;

/// Keys are kept at least this long.
pub const RETENTION_DAYS: i32 = 7;

/// What a claim found.
pub enum Claim {
    /// The key is new: do the work, then [`remember`] the answer.
    Fresh { hash: Vec<u8> },
    /// The same request was answered before: return this encoded answer.
    Replay(Vec<u8>),
}

/// SHA-256 of the method name and the encoded request: what tells a retry from a new request.
pub fn request_hash(method: &str, body: &[u8]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update([0u8]);
    hasher.update(body);
    hasher.finalize().to_vec()
}

/// Claims `key` for this request, or finds the earlier answer. An empty key means the caller did
/// not ask for idempotency: always fresh.
pub async fn claim(
    tx: &impl deadpool_postgres::GenericClient,
    tenant: &str,
    key: &str,
    method: &str,
    body: &[u8],
) -> Result<Claim, Status> {
    let hash = request_hash(method, body);
    if key.is_empty() {
        return Ok(Claim::Fresh { hash });
    }
    if key.len() > 200 {
        return Err(crate::error::invalid_field("context.idempotency_key", "must be at most 200 characters"));
    }
    let inserted = crate::db::cached::execute(
        tx,
        "INSERT INTO idempotency_keys (tenant_id, key, method, request_hash) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant_id, key) DO NOTHING",
        &[&tenant, &key, &method, &hash],
    )
    .await
    .context("claiming the idempotency key")
    .map_err(|e| crate::error::from_infrastructure(&e))?;
    if inserted == 1 {
        return Ok(Claim::Fresh { hash });
    }
    let row = crate::db::cached::query_one(
        tx,
        "SELECT method, request_hash, response FROM idempotency_keys WHERE tenant_id = $1 AND key = $2",
        &[&tenant, &key],
    )
    .await
    .context("reading the idempotency key")
    .map_err(|e| crate::error::from_infrastructure(&e))?;
    let (earlier_method, earlier_hash, response): (String, Vec<u8>, Option<Vec<u8>>) =
        (row.get(0), row.get(1), row.get(2));
    if earlier_method != method || earlier_hash != hash {
        return Err(Status::already_exists(
            "this idempotency key was used for a different request; use a new key for a new request",
        ));
    }
    match response {
        Some(answer) => Ok(Claim::Replay(answer)),
        // The first call failed after claiming but its transaction committed without an answer;
        // it cannot happen when claim and remember share the transaction.
        None => Err(Status::aborted("the first request with this key has not finished; retry")),
    }
}

/// Stores the encoded answer of a fresh claim, in the same transaction as the work. `subject` is
/// the id the answer is about (a client), so the answer can be forgotten with that client.
pub async fn remember(
    tx: &impl deadpool_postgres::GenericClient,
    tenant: &str,
    key: &str,
    subject: &str,
    answer: &[u8],
) -> anyhow::Result<()> {
    if key.is_empty() {
        return Ok(());
    }
    crate::db::cached::execute(
        tx,
        "UPDATE idempotency_keys SET response = $3, subject_id = $4 WHERE tenant_id = $1 AND key = $2",
        &[&tenant, &key, &answer, &subject],
    )
    .await
    .context("remembering the idempotent answer")?;
    Ok(())
}

/// The first call's answer when `request` repeats an earlier call with the caller's idempotency
/// key; otherwise claims the key, so that [`keep`] stores this call's answer in the same
/// transaction. Without a key every call is new.
pub async fn replay<T: prost::Message + Default>(
    tx: &impl deadpool_postgres::GenericClient,
    caller: &crate::request::Caller,
    method: &str,
    request: &impl prost::Message,
) -> crate::error::ApiResult<Option<T>> {
    match claim(tx, caller.tenant.as_str(), &caller.idempotency_key, method, &request.encode_to_vec()).await? {
        Claim::Replay(answer) => Ok(Some(T::decode(answer.as_slice())?)),
        Claim::Fresh { .. } => Ok(None),
    }
}

/// Stores the answer of a call [`replay`] found new; `subject` is the client it is about.
pub async fn keep(
    tx: &impl deadpool_postgres::GenericClient,
    caller: &crate::request::Caller,
    subject: &str,
    answer: &impl prost::Message,
) -> crate::error::ApiResult<()> {
    remember(tx, caller.tenant.as_str(), &caller.idempotency_key, subject, &answer.encode_to_vec()).await?;
    Ok(())
}

/// Forgets every stored answer about `subject` (GDPR erase). A retry of such a request afterwards
/// is treated as new.
pub async fn forget_subject(tx: &tokio_postgres::Transaction<'_>, tenant: &str, subject: &str) -> anyhow::Result<u64> {
    tx.execute("DELETE FROM idempotency_keys WHERE tenant_id = $1 AND subject_id = $2", &[&tenant, &subject])
        .await
        .context("forgetting idempotent answers")
}

/// Deletes keys older than the retention; run periodically.
pub async fn purge_expired(client: &tokio_postgres::Client) -> anyhow::Result<u64> {
    client
        .execute(
            "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(days => $1)",
            &[&RETENTION_DAYS],
        )
        .await
        .context("purging old idempotency keys")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_tell_requests_apart_and_are_stable() {
        let a = request_hash("CreateClient", b"one");
        assert_eq!(a, request_hash("CreateClient", b"one"));
        assert_ne!(a, request_hash("CreateClient", b"two"));
        assert_ne!(a, request_hash("UpdateClient", b"one"));
        assert_eq!(a.len(), 32);
    }
}
