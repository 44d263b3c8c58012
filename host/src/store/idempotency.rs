//! Idempotency keys: claimed by one request, answered once, released when a retry may run.

use sqlx::Row;

use super::{Commit, KeyClaim, Result, Store};

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
    /// statement decides who holds a fresh key, so two hosts on one database never both do. The
    /// claim is a commit of the group commit: it shares its transaction and its sync with the
    /// commits written beside it, rather than taking one of its own.
    pub async fn claim_key(&self, scope: &str, key: &str, request_hash: &str) -> Result<KeyState> {
        loop {
            let claim = Commit {
                claims: Some(KeyClaim {
                    scope: scope.to_string(),
                    key: key.to_string(),
                    request_hash: request_hash.to_string(),
                }),
                ..Commit::default()
            };
            if self.commit(claim).await?.claimed {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Claims of one key made together, written in the same group commits, give the key to
    /// one request; the others find it in flight. Once answered, the same body replays the
    /// answer, another body is refused, and another scope is another key.
    #[tokio::test]
    async fn one_of_the_claims_made_together_takes_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::open(&url, crate::config::Durability::Full).await.unwrap();
        let claims =
            futures::future::join_all((0..16).map(|_| store.claim_key("accept:A03", "k-1", "h-1"))).await;
        let fresh = claims.iter().filter(|c| matches!(c, Ok(KeyState::Fresh))).count();
        let in_flight = claims
            .iter()
            .filter(|c| matches!(c, Ok(KeyState::InFlight)))
            .count();
        assert_eq!((fresh, in_flight), (1, 15), "{claims:?}");
        store
            .commit(Commit {
                idempotent_response: Some(("accept:A03".into(), "k-1".into(), 201, r#"{"ok":true}"#.into())),
                ..Commit::default()
            })
            .await
            .unwrap();
        match store.claim_key("accept:A03", "k-1", "h-1").await.unwrap() {
            KeyState::Replay { status, body } => assert_eq!((status, body.as_str()), (201, r#"{"ok":true}"#)),
            other => panic!("the answer was not replayed: {other:?}"),
        }
        assert!(matches!(
            store.claim_key("accept:A03", "k-1", "h-2").await.unwrap(),
            KeyState::Mismatch
        ));
        assert!(matches!(
            store.claim_key("quote:A03", "k-1", "h-2").await.unwrap(),
            KeyState::Fresh
        ));
    }
}
