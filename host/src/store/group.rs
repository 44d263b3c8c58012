//! The group commit's queue and, on PostgreSQL, its writer: commits arriving together share one
//! transaction. SQLite's writer is a thread of its own (`super::sqlite`) running [`write_batch`].

use super::journal;
use super::write;
use sqlx::AnyPool;

use super::{Backend, Commit, Committed, Result, StoreError};

/// The most commits written in one transaction.
pub(super) const MAX_BATCH: usize = 64;

/// The advisory lock key of [`Store::begin_ordered`] ("pgate" in ASCII).
const ORDERED_WRITES: i64 = 0x70_67_61_74_65;

/// What the writer runs with a queued commit's result before answering anyone after it.
pub(super) type Then = Box<dyn FnOnce(&Result<Committed>) + Send>;

/// One [`Commit`] waiting for the group commit, and where its result goes.
pub(super) struct Job {
    pub(super) commit: Commit,
    /// In a transaction of its own, not grouped ([`Store::commit_alone`]).
    pub(super) alone: bool,
    pub(super) done: tokio::sync::oneshot::Sender<Result<Committed>>,
    /// Run by the writer with the result before it is sent (a queued commit's metrics and log),
    /// so that a later commit's answer, a flush's, comes after it.
    pub(super) then: Option<Then>,
}

impl Job {
    /// Hands the job its result: [`Job::then`] first, then the waiting caller.
    pub(super) fn finish(self, result: Result<Committed>) {
        if let Some(then) = self.then {
            then(&result);
        }
        let _ = self.done.send(result);
    }
}

/// What writes need: the pool, the backend, and (SQLite) this host's writers' turn.
#[derive(Clone)]
pub(super) struct Writer {
    pub(super) pool: AnyPool,
    pub(super) backend: Backend,
    /// SQLite has one writer; taking turns here avoids busy upgrades inside transactions.
    pub(super) turn: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl Writer {
    /// SQLite has one writer: this host's writes take turns, rather than meeting as busy
    /// upgrades inside transactions. PostgreSQL needs no such turn.
    pub(super) async fn turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match self.backend {
            Backend::Sqlite => Some(self.turn.clone().lock_owned().await),
            Backend::Postgres => None,
        }
    }

    /// A transaction that appends to the journal or the feed. On PostgreSQL it holds a
    /// transaction-scoped advisory lock, so that the writers of every host take turns: the
    /// journal's hash chain stays one chain, and events get their sequence numbers in commit
    /// order, so a reader following the feed's cursor never skips one committed late.
    pub(super) async fn begin_ordered(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)")
                .bind(ORDERED_WRITES)
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// The group commit on PostgreSQL: takes every commit waiting (up to [`MAX_BATCH`]) and
    /// writes them in one transaction while the next ones queue. Under load this is one disk
    /// sync and one transaction for many operations; alone, a commit goes straight through.
    /// SQLite's runs on a thread of its own ([`sqlite::start`]).
    pub(super) async fn run(self, mut queue: tokio::sync::mpsc::UnboundedReceiver<Job>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let batch = std::mem::take(&mut batch);
            // As `write_batch` does, with an async `together`.
            if groups(&batch) {
                let commits: Vec<&Commit> = batch.iter().map(|job| &job.commit).collect();
                if let Ok(results) = self.together(&commits).await {
                    answer(batch, results);
                    continue;
                }
            }
            for job in batch {
                let result = self.together(&[&job.commit]).await.map(only);
                job.finish(result);
            }
        }
    }

    /// Writes `commits` in one transaction, in order. Their journal entries go last, all in
    /// one append: one read of the chain's head for the whole batch.
    ///
    /// Should the answer to its `COMMIT` be lost (the connection dropped after the server took
    /// it), the transaction's id tells whether it landed ([`Writer::landed`]): a batch that did
    /// is not written again, one commit at a time, where each would find its own rows.
    async fn together(&self, commits: &[&Commit]) -> Result<Vec<Committed>> {
        let mut tx = self.pool.begin().await?;
        // `begin_ordered`'s lock, and the transaction's id in the same round trip.
        let xid: i64 = sqlx::query_scalar("SELECT txid_current() FROM pg_advisory_xact_lock($1)")
            .bind(ORDERED_WRITES)
            .fetch_one(&mut *tx)
            .await?;
        match run_plan(&mut tx, commits).await {
            Ok(results) => match tx.commit().await {
                Ok(()) => Ok(results),
                Err(e) if self.landed(xid).await == Some(true) => {
                    tracing::warn!(
                        "the answer to a group commit's COMMIT was lost ({e}); the server says it committed"
                    );
                    Ok(results)
                }
                Err(e) => Err(StoreError::Commit(e.to_string())),
            },
            Err(e) => {
                // Rolled back before the caller tries again: a dropped transaction rolls back
                // later.
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }
}

impl Writer {
    /// Whether the transaction `xid`, whose `COMMIT` got no answer, committed: asked on another
    /// connection until the server knows (a `COMMIT` it is still writing shows as in progress),
    /// for about five seconds. `None` when it could not tell.
    async fn landed(&self, xid: i64) -> Option<bool> {
        let deadline = std::time::Instant::now() + LANDED_WAIT;
        let mut wait = std::time::Duration::from_millis(10);
        loop {
            let status: std::result::Result<Option<String>, _> = sqlx::query_scalar("SELECT txid_status($1)")
                .bind(xid)
                .fetch_one(&self.pool)
                .await;
            match status {
                Ok(Some(status)) if status == "committed" => return Some(true),
                Ok(Some(status)) if status == "aborted" => return Some(false),
                // In progress; or the server cannot tell (NULL: an id it does not know, as after
                // a failover to a replica that never saw it); or no connection yet.
                Ok(_) | Err(_) => {}
            }
            if std::time::Instant::now() + wait > deadline {
                tracing::error!("a group commit's COMMIT got no answer, and whether it landed is unknown");
                return None;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(std::time::Duration::from_secs(1));
        }
    }
}

/// How long [`Writer::landed`] asks.
const LANDED_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Writes `commits` in `tx`: each commit's statements, then the journal's append.
async fn run_plan(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    commits: &[&Commit],
) -> Result<Vec<Committed>> {
    // Timed under the ordering lock, so that times follow the journal's order.
    let plan = write::Plan::of(commits)?;
    let mut results = Vec::with_capacity(plan.commits.len());
    for statements in &plan.commits {
        let mut committed = Committed::default();
        write::run_sqlx(tx, statements, &mut committed).await?;
        results.push(committed);
    }
    journal::append(tx, &plan.entries(&results)).await?;
    Ok(results)
}

/// Whether a batch may share one transaction: more than one commit, none asking to be alone.
fn groups(batch: &[Job]) -> bool {
    batch.len() > 1 && !batch.iter().any(|job| job.alone)
}

/// Hands each job its commit's result.
fn answer(batch: Vec<Job>, results: Vec<Committed>) {
    for (job, result) in batch.into_iter().zip(results) {
        job.finish(Ok(result));
    }
}

/// The one commit's result of a transaction that held only it.
fn only(mut results: Vec<Committed>) -> Committed {
    results.pop().unwrap_or_default()
}

/// A batch written by `together`: in one transaction when it [`groups`]; each commit alone when
/// it does not, or when that transaction failed, so that a failure is only its own commit's.
pub(super) fn write_batch(batch: Vec<Job>, mut together: impl FnMut(&[&Commit]) -> Result<Vec<Committed>>) {
    if groups(&batch) {
        let commits: Vec<&Commit> = batch.iter().map(|job| &job.commit).collect();
        if let Ok(results) = together(&commits) {
            answer(batch, results);
            return;
        }
    }
    for job in batch {
        let result = together(&[&job.commit]).map(only);
        job.finish(result);
    }
}
