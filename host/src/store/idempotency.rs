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
    pub async fn claim_key(&self, claim: &KeyClaim) -> Result<KeyState> {
        self.commit_claiming(claim, Commit::default).await
    }

    /// Writes the commit `rest` makes with `claim` added: `Fresh` when the claim took its key and
    /// the commit was written, else what holds the key, and nothing of the commit was written.
    pub(super) async fn commit_claiming(
        &self,
        claim: &KeyClaim,
        rest: impl Fn() -> Commit,
    ) -> Result<KeyState> {
        loop {
            let commit = Commit {
                claims: Some(claim.clone()),
                ..rest()
            };
            match self.commit(commit).await {
                Ok(committed) if committed.claimed => return Ok(KeyState::Fresh),
                Ok(_) => {}
                // Whether it landed could not be learnt (the answer to its `COMMIT` lost, on
                // PostgreSQL): it did if its claim is there, and with it the rest of its commit.
                Err(e) if e.is_transient() => {
                    return match self.key_holder(claim).await {
                        Ok(Some(KeyState::Fresh)) => Ok(KeyState::Fresh),
                        _ => Err(e),
                    };
                }
                Err(e) => return Err(e),
            }
            // Released between the two statements: claim it again.
            if let Some(held) = self.key_holder(claim).await? {
                return Ok(held);
            }
        }
    }

    /// What holds `claim`'s key, read without claiming it (`None`: nothing does). `Fresh` means
    /// `claim` itself: its commit landed though the answer to its `COMMIT` was lost and could
    /// not be checked (PostgreSQL), and was written again; the claim and the rest of its commit
    /// landed together.
    pub async fn key_holder(&self, claim: &KeyClaim) -> Result<Option<KeyState>> {
        let row = sqlx::query(
            "SELECT request_hash, state, status, body, claimed_by FROM idempotency WHERE scope = $1 AND key = $2",
        )
        .bind(&claim.scope)
        .bind(&claim.key)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        if row.get::<Option<String>, _>("claimed_by").as_deref() == Some(claim.claimed_by.as_str()) {
            return Ok(Some(KeyState::Fresh));
        }
        let stored_hash: String = row.get("request_hash");
        if stored_hash != claim.request_hash {
            return Ok(Some(KeyState::Mismatch));
        }
        let state: String = row.get("state");
        if state != "done" {
            return Ok(Some(KeyState::InFlight));
        }
        let status: i64 = row.get("status");
        Ok(Some(KeyState::Replay {
            status: status as u16,
            body: row.get("body"),
        }))
    }

    /// Lets a key go when the request that claimed it failed in a way a retry may fix: only
    /// that request's claim. A release retried in the background (the store failing), or one
    /// whose answer was lost after it landed, may run after a retry claimed the key anew, and
    /// must leave that claim alone.
    pub async fn release_key(&self, claim: &KeyClaim) -> Result<()> {
        let _turn = self.turn().await;
        sqlx::query(
            "DELETE FROM idempotency WHERE scope = $1 AND key = $2 AND state = 'running' AND claimed_by = $3",
        )
        .bind(&claim.scope)
        .bind(&claim.key)
        .bind(&claim.claimed_by)
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

    fn claim(scope: &str, key: &str, request_hash: &str, claimed_by: &str) -> KeyClaim {
        KeyClaim {
            scope: scope.into(),
            key: key.into(),
            request_hash: request_hash.into(),
            claimed_by: claimed_by.into(),
        }
    }

    /// A failed request's release, run again after a retry claimed the key anew (a release
    /// retried in the background while the store failed, or one whose answer was lost after it
    /// landed), leaves the retry's claim alone: a third request still finds the key in flight
    /// rather than taking it and calling the partner a second time.
    #[tokio::test]
    async fn a_late_release_leaves_a_later_claim_alone() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::open(&url, crate::config::Durability::Full).await.unwrap();
        let first = claim("accept:A03", "k-1", "h-1", "first");
        assert!(matches!(store.claim_key(&first).await.unwrap(), KeyState::Fresh));
        store.release_key(&first).await.unwrap();
        let retry = claim("accept:A03", "k-1", "h-1", "retry");
        assert!(matches!(store.claim_key(&retry).await.unwrap(), KeyState::Fresh));
        // The first request's release once more.
        store.release_key(&first).await.unwrap();
        let third = claim("accept:A03", "k-1", "h-1", "third");
        let found = store.claim_key(&third).await.unwrap();
        assert!(matches!(found, KeyState::InFlight), "{found:?}");
        // The retry's own release lets it go.
        store.release_key(&retry).await.unwrap();
        let found = store.claim_key(&third).await.unwrap();
        assert!(matches!(found, KeyState::Fresh), "{found:?}");
    }

    /// Claims of one key made together, written in the same group commits, give the key to
    /// one request; the others find it in flight. Once answered, the same body replays the
    /// answer, another body is refused, and another scope is another key.
    #[tokio::test]
    async fn one_of_the_claims_made_together_takes_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::open(&url, crate::config::Durability::Full).await.unwrap();
        let claims: Vec<KeyClaim> = (0..16)
            .map(|n| claim("accept:A03", "k-1", "h-1", &format!("request-{n}")))
            .collect();
        let claims = futures::future::join_all(claims.iter().map(|claim| store.claim_key(claim))).await;
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
        match store
            .claim_key(&claim("accept:A03", "k-1", "h-1", "first"))
            .await
            .unwrap()
        {
            KeyState::Replay { status, body } => assert_eq!((status, body.as_str()), (201, r#"{"ok":true}"#)),
            other => panic!("the answer was not replayed: {other:?}"),
        }
        assert!(matches!(
            store
                .claim_key(&claim("accept:A03", "k-1", "h-2", "second"))
                .await
                .unwrap(),
            KeyState::Mismatch
        ));
        assert!(matches!(
            store
                .claim_key(&claim("quote:A03", "k-1", "h-2", "third"))
                .await
                .unwrap(),
            KeyState::Fresh
        ));
    }

    /// A state change's key claimed with its in-flight record, in one commit: of the requests
    /// made together with one key, one records its operation; the others record nothing,
    /// journal entries of theirs included, while the commits beside them are written.
    #[tokio::test]
    async fn a_claim_that_finds_its_key_held_writes_nothing_of_its_commit() {
        use crate::store::{JournalEntry, PendingOperation};
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::open(&url, crate::config::Durability::Full).await.unwrap();
        // Each request its own claim of the one key.
        let claims: Vec<KeyClaim> = (0..12)
            .map(|n| claim("accept:A03", "k-1", "h-1", &format!("request-{n}")))
            .collect();
        let op = |n: usize| PendingOperation {
            journal_id: format!("op-{n}"),
            panel: "A03".into(),
            operation: "accept".into(),
            case_id: None,
            opens: None,
            idempotency: Some(("accept:A03".into(), "k-1".into())),
            request: serde_json::value::RawValue::from_string("{}".into()).unwrap(),
            started_at: crate::store::now(),
            state: "running".into(),
        };
        let ops: Vec<PendingOperation> = (0..8).map(op).collect();
        let begun = ops
            .iter()
            .zip(&claims)
            .map(|(op, claim)| store.begin_pending(op, Some(claim)));
        // Claiming commits that carry journal entries too, and commits beside them that claim
        // nothing.
        let claiming_entries = (0..4).map(|n| {
            store.commit_claiming(&claims[8 + n], move || Commit {
                journal: vec![JournalEntry::quote(format!("claimed-{n}"))],
                ..Commit::default()
            })
        });
        let beside = (0..4).map(|n| {
            store.commit(Commit {
                journal: vec![JournalEntry::quote(format!("beside-{n}"))],
                ..Commit::default()
            })
        });
        let (claims, claiming_entries, beside) = tokio::join!(
            futures::future::join_all(begun),
            futures::future::join_all(claiming_entries),
            futures::future::join_all(beside)
        );
        let fresh = claims
            .iter()
            .chain(&claiming_entries)
            .filter(|c| matches!(c, Ok(KeyState::Fresh)))
            .count();
        assert_eq!(fresh, 1, "{claims:?} {claiming_entries:?}");
        assert!(
            claims
                .iter()
                .chain(&claiming_entries)
                .all(|c| matches!(c, Ok(KeyState::Fresh | KeyState::InFlight))),
            "{claims:?} {claiming_entries:?}"
        );
        assert!(beside.iter().all(Result::is_ok), "{beside:?}");
        let pending = store.pending("running").await.unwrap();
        let recorded = claims.iter().filter(|c| matches!(c, Ok(KeyState::Fresh))).count();
        assert_eq!(pending.len(), recorded, "{pending:?}");
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM journal ORDER BY seq")
            .fetch_all(&store.pool)
            .await
            .unwrap();
        let claimed_entries = ids.iter().filter(|id| id.starts_with("claimed-")).count();
        assert_eq!(claimed_entries, 1 - recorded, "{ids:?}");
        assert_eq!(
            ids.iter().filter(|id| id.starts_with("beside-")).count(),
            4,
            "{ids:?}"
        );
        // The chain holds with entries left out of a batch.
        assert_eq!(store.verify_journal().await.unwrap(), None);
    }
}
