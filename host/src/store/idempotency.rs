//! Idempotency keys: claimed by one request, answered once, released when a retry may run.

use sqlx::Row;

use super::{Result, Store, now};

/// The state of an idempotency key when a request arrives.
#[derive(Debug)]
pub enum KeyState {
    /// First use: the key is now held by this request.
    Fresh,
    /// Same key and body, already answered: replay this.
    Replay { status: u16, body: String },
    /// Same key, other body.
    Mismatch,
    /// The first request with this key is still running.
    InFlight,
}

impl Store {
    /// Claims an idempotency key for a request whose body hashes to `request_hash`. One
    /// statement decides who holds a fresh key, so two hosts on one database never both do.
    pub async fn claim_key(&self, scope: &str, key: &str, request_hash: &str) -> Result<KeyState> {
        let _turn = self.turn().await;
        loop {
            let claimed = sqlx::query(
                "INSERT INTO idempotency (scope, key, request_hash, state, created_at) VALUES ($1, $2, $3, 'running', $4)
                 ON CONFLICT (scope, key) DO NOTHING",
            )
            .bind(scope)
            .bind(key)
            .bind(request_hash)
            .bind(now())
            .execute(&self.pool)
            .await?
            .rows_affected();
            if claimed == 1 {
                return Ok(KeyState::Fresh);
            }
            let row = sqlx::query(
                "SELECT request_hash, state, status, body FROM idempotency WHERE scope = $1 AND key = $2",
            )
            .bind(scope)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
            // Released between the two statements: claim it again.
            let Some(row) = row else { continue };
            let stored_hash: String = row.get("request_hash");
            if stored_hash != request_hash {
                return Ok(KeyState::Mismatch);
            }
            let state: String = row.get("state");
            if state != "done" {
                return Ok(KeyState::InFlight);
            }
            let status: i64 = row.get("status");
            return Ok(KeyState::Replay {
                status: status as u16,
                body: row.get("body"),
            });
        }
    }

    /// Lets a key go when its request failed in a way a retry may fix.
    pub async fn release_key(&self, scope: &str, key: &str) -> Result<()> {
        let _turn = self.turn().await;
        sqlx::query("DELETE FROM idempotency WHERE scope = $1 AND key = $2 AND state = 'running'")
            .bind(scope)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// After a crash: lets go of idempotency keys whose request was cut off and changed
    /// nothing (read-only operations), so a retry runs it again.
    pub async fn release_running_keys(&self, created_before: &str) -> Result<u64> {
        let _turn = self.turn().await;
        Ok(sqlx::query(
            "DELETE FROM idempotency WHERE state = 'running' AND created_at < $1 AND NOT EXISTS
               (SELECT 1 FROM pending p WHERE p.idem_scope = idempotency.scope AND p.idem_key = idempotency.key)",
        )
        .bind(created_before)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }
}
