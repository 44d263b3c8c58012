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
        Ok(self.begin_ordered_identified().await?.0)
    }

    /// [`Writer::begin_ordered`], with (on PostgreSQL) the transaction's id and its server's
    /// start time, read with the lock in one round trip: what [`Writer::landed`] asks about.
    async fn begin_ordered_identified(
        &self,
    ) -> Result<(sqlx::Transaction<'static, sqlx::Any>, Option<(i64, String)>)> {
        let mut tx = self.pool.begin().await?;
        let id = match self.backend {
            Backend::Postgres => Some(
                sqlx::query_as(
                    "SELECT txid_current(), pg_postmaster_start_time()::text FROM pg_advisory_xact_lock($1)",
                )
                .bind(ORDERED_WRITES)
                .fetch_one(&mut *tx)
                .await?,
            ),
            Backend::Sqlite => None,
        };
        Ok((tx, id))
    }

    /// The group commit on PostgreSQL: takes every commit waiting (up to [`MAX_BATCH`]) and
    /// writes them in one transaction while the next ones queue. Under load this is one disk
    /// sync and one transaction for many operations; alone, a commit somebody waits for goes
    /// straight through, and one nobody waits for waits up to [`GATHER`] for company.
    /// SQLite's runs on a thread of its own ([`sqlite::start`]).
    pub(super) async fn run(self, mut queue: tokio::sync::mpsc::UnboundedReceiver<Job>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
            gather(&mut queue, &mut batch).await;
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
        let (mut tx, id) = self.begin_ordered_identified().await?;
        match run_plan(&mut tx, commits).await {
            Ok(results) => match tx.commit().await {
                Ok(()) => Ok(results),
                Err(e) if self.landed(id).await == Some(true) => {
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

    /// Whether the transaction `xid`, whose `COMMIT` got no answer, committed: asked on another
    /// connection until the server knows (a `COMMIT` it is still writing shows as in progress),
    /// for [`LANDED_WAIT`] at most. `id` is the transaction's id and its server's start time
    /// ([`Writer::begin_ordered_identified`]; none on SQLite, whose commits are in process). A
    /// transaction id names one transaction only while its server runs: after a restart or on another server (a failover) it
    /// may name another, so then, as when no answer comes, `None`: it cannot tell.
    async fn landed(&self, id: Option<(i64, String)>) -> Option<bool> {
        let (xid, server) = id?;
        let deadline = tokio::time::Instant::now() + LANDED_WAIT;
        let mut wait = std::time::Duration::from_millis(10);
        loop {
            let asked = sqlx::query_as::<_, (Option<String>, String)>(
                "SELECT txid_status($1), pg_postmaster_start_time()::text",
            )
            .bind(xid)
            .fetch_one(&self.pool);
            match tokio::time::timeout_at(deadline, asked).await {
                // Another server, or this one restarted: the id may name another transaction.
                Ok(Ok((_, started))) if started != server => {
                    tracing::error!(
                        "a group commit's COMMIT got no answer, and the server has restarted (or failed over) since: whether it landed is unknown"
                    );
                    return None;
                }
                Ok(Ok((Some(status), _))) if status == "committed" => return Some(true),
                Ok(Ok((Some(status), _))) if status == "aborted" => return Some(false),
                // Still in progress (a COMMIT being written), or no answer yet.
                Ok(_) => {}
                Err(_) => break,
            }
            if tokio::time::Instant::now() + wait > deadline {
                break;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(std::time::Duration::from_secs(1));
        }
        tracing::error!("a group commit's COMMIT got no answer, and whether it landed is unknown");
        None
    }
}

/// How long [`Writer::landed`] asks.
const LANDED_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Takes what is queued already, up to [`MAX_BATCH`].
pub(super) fn drain(queue: &mut tokio::sync::mpsc::UnboundedReceiver<Job>, batch: &mut Vec<Job>) {
    while batch.len() < MAX_BATCH {
        match queue.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

/// A batch nobody waits for (read-only operations' journal entries, answered already) waits up
/// to [`GATHER`] for more before it is written, so that a stream of quotes shares its syncs and
/// its pages' writes: without it SQLite's writer committed almost every quote on its own, and a
/// quote cost 40-60 µs more CPU than when it waited for its commit (BENCHMARKS.md). A job
/// somebody waits for (a state change, a flush) ends the wait at once.
pub(super) async fn gather(queue: &mut tokio::sync::mpsc::UnboundedReceiver<Job>, batch: &mut Vec<Job>) {
    let deadline = tokio::time::Instant::now() + GATHER;
    while batch.len() < MAX_BATCH && batch.iter().all(|job| job.done.is_closed()) {
        match tokio::time::timeout_at(deadline, queue.recv()).await {
            Ok(Some(job)) => {
                batch.push(job);
                drain(queue, batch);
            }
            // The deadline passed, or the store is closing: write what there is.
            Ok(None) | Err(_) => break,
        }
    }
}

/// The longest a batch that nobody waits for waits for company: what it adds to the window in
/// which a crash loses a read-only operation's journal entries (docs/operating.md).
pub(super) const GATHER: std::time::Duration = std::time::Duration::from_millis(1);

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

#[cfg(test)]
mod tests {
    use super::*;

    /// A queued job; `waited` when its caller waits for the answer (a state change, a flush),
    /// as a read-only operation's does not (its receiver is dropped at once).
    fn job(waited: bool) -> (Job, Option<tokio::sync::oneshot::Receiver<Result<Committed>>>) {
        let (done, answer) = tokio::sync::oneshot::channel();
        let job = Job {
            commit: Commit::default(),
            alone: false,
            done,
            then: None,
        };
        (job, waited.then_some(answer))
    }

    fn clock() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    /// A batch somebody waits for is written at once: nothing more is gathered into it.
    #[test]
    fn a_batch_somebody_waits_for_gathers_nothing() {
        let (tx, mut queue) = tokio::sync::mpsc::unbounded_channel();
        let (waited, _answer) = job(true);
        let (read_only, _) = job(false);
        tx.send(read_only).unwrap_or_else(|_| panic!("queued"));
        let mut batch = vec![waited];
        let started = std::time::Instant::now();
        clock().block_on(gather(&mut queue, &mut batch));
        assert_eq!(batch.len(), 1, "the queued job waits for the next batch");
        assert!(
            started.elapsed() < GATHER * 50,
            "no wait: {:?}",
            started.elapsed()
        );
    }

    /// A batch nobody waits for takes what comes within [`GATHER`], and a job somebody waits
    /// for, once taken, ends the wait.
    #[test]
    fn a_read_only_batch_gathers_until_a_waited_job_joins_it() {
        let (tx, mut queue) = tokio::sync::mpsc::unbounded_channel();
        let (first, _) = job(false);
        let (second, _) = job(false);
        let (waited, _answer) = job(true);
        let (after, _) = job(false);
        for j in [second, waited, after] {
            tx.send(j).unwrap_or_else(|_| panic!("queued"));
        }
        let mut batch = vec![first];
        // What is queued already comes in one drain; the waited job is among it.
        clock().block_on(gather(&mut queue, &mut batch));
        assert_eq!(batch.len(), 4);
        assert!(batch.iter().any(|j| !j.done.is_closed()));

        // Alone, a read-only batch waits out its [`GATHER`] and is written as it is.
        let (lone, _) = job(false);
        let mut batch = vec![lone];
        let started = std::time::Instant::now();
        clock().block_on(gather(&mut queue, &mut batch));
        assert_eq!(batch.len(), 1);
        assert!(started.elapsed() >= GATHER, "{:?}", started.elapsed());

        // A job queued after the batch was taken joins it.
        let (lone, _) = job(false);
        let mut batch = vec![lone];
        let sender = std::thread::spawn(move || {
            let (late, _) = job(false);
            tx.send(late).unwrap_or_else(|_| panic!("queued"));
        });
        sender.join().unwrap();
        clock().block_on(gather(&mut queue, &mut batch));
        assert_eq!(batch.len(), 2);
    }
}
