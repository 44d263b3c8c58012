//! SQLite's writer: one thread that owns a write connection and runs each group commit on it in
//! process, from one wake-up to the answers. sqlx's SQLite driver runs every statement on a
//! worker thread of its own, two cross-thread wake-ups per statement and a dozen statements per
//! commit; here a commit's statements are prepared once, kept, and run back to back.
//!
//! Reads and the host's other, rarer writes stay on sqlx's pool; every write of this host takes
//! the same turn ([`super::Writer::turn`]), so SQLite's one write lock is never fought over.

use std::path::Path;
use std::sync::Arc;

use rusqlite::types::ToSqlOutput;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::group::{drain, gather};
use super::write::{Arg, Plan, Statement};
use super::{Commit, Committed, Job, MAX_BATCH, Result, StoreError, write_batch};

impl rusqlite::ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Arg::Text(text) => text.to_sql(),
            Arg::Int(int) => int.to_sql(),
            Arg::Blob(bytes) => bytes.to_sql(),
        }
    }
}

/// Opens the write connection to the database at `path` with the pool's `pragmas`, and starts
/// the thread that takes the group commit's `queue`. It ends when the store's sender is dropped.
pub(super) fn start(
    path: &Path,
    pragmas: &str,
    turn: Arc<tokio::sync::Mutex<()>>,
    mut queue: tokio::sync::mpsc::UnboundedReceiver<Job>,
    wal: Arc<std::sync::atomic::AtomicI64>,
) -> Result<()> {
    // Never creates: the pool has created and migrated the file, so a path that the two read
    // differently fails here rather than giving the writer an empty database.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags)?;
    conn.execute_batch(pragmas)?;
    // Every statement a batch runs stays prepared: there are about a dozen.
    conn.set_prepared_statement_cache_capacity(32);
    std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || {
            // A runtime of the thread's own, only to wait for the queue with a deadline.
            let clock = match tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
            {
                Ok(clock) => clock,
                Err(e) => {
                    tracing::error!("the SQLite writer could not start its clock: {e}");
                    return;
                }
            };
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while let Some(job) = queue.blocking_recv() {
                batch.push(job);
                drain(&mut queue, &mut batch);
                // The timer is made inside the clock's runtime, which it registers with.
                clock.block_on(gather(&mut queue, &mut batch));
                let _turn = turn.blocking_lock();
                let jobs = std::mem::take(&mut batch);
                // A panic (a bug) fails its batch's callers with `Closed`, not every commit
                // after it: its transaction rolled back as it unwound.
                let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    write_batch(jobs, |commits| together(&mut conn, commits))
                }));
                if written.is_err() {
                    tracing::error!("the SQLite writer panicked; its batch's commits failed");
                }
                if wal.load(std::sync::atomic::Ordering::Relaxed) > WRITER_CHECKPOINT_AT {
                    match checkpoint(&conn) {
                        // All copied, with no write beside it: the next batch starts the WAL over.
                        Ok(Some((log, copied))) => wal.store(
                            if copied >= log { 0 } else { log },
                            std::sync::atomic::Ordering::Relaxed,
                        ),
                        Ok(None) => {}
                        Err(e) => tracing::warn!("the writer's WAL checkpoint failed: {e}"),
                    }
                }
            }
        })?;
    Ok(())
}

/// How often the WAL is copied back into the database. The checkpoint runs on a thread of its
/// own, rather than inside the commit that crossed SQLite's 1,000-page mark (every connection's
/// `wal_autocheckpoint` is 0): that commit, and every answer waiting on it, waited for the copy
/// and its syncs.
pub(super) const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// WAL frames after which the writer checkpoints itself, between two batches (their answers
/// sent). SQLite writes the WAL from its start again only when a transaction begins after a
/// checkpoint that copied all of it; the checkpoint thread's, beside a writer that never pauses,
/// always finds frames written after it began, so under load the WAL never restarted: it grew
/// by hundreds of megabytes in seconds (811 MB in 8 s of the benchmark's accepts), and every
/// commit appended to a longer file, whose sync wrote its size and its new blocks too. The writer's own checkpoint, with no write beside it, copies what the thread
/// left (little) and completes, and the next batch writes the WAL from its start. 4,000 pages:
/// 16 MiB of WAL.
const WRITER_CHECKPOINT_AT: i64 = 4000;

/// Starts the thread that checkpoints the database at `path` every [`CHECKPOINT_EVERY`]
/// (`PASSIVE`: it never waits for a writer or a reader, and copies what it can), publishing in
/// `wal` the frames the WAL held when it began, for the writer to start the WAL over. It ends
/// when the returned sender is dropped (the store is).
pub(super) fn start_checkpointer(
    path: &Path,
    pragmas: &str,
    wal: Arc<std::sync::atomic::AtomicI64>,
) -> Result<std::sync::mpsc::Sender<()>> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.execute_batch(pragmas)?;
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("store-checkpoint".into())
        .spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY)
            {
                match checkpoint(&conn) {
                    // Copied or not, the WAL holds them: it starts over only after a checkpoint
                    // that a write does not overtake.
                    Ok(Some((log, _))) => wal.store(log, std::sync::atomic::Ordering::Relaxed),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!("the WAL checkpoint failed (tried again in {CHECKPOINT_EVERY:?}): {e}")
                    }
                }
            }
        })?;
    Ok(stop)
}

/// A `PASSIVE` checkpoint on `conn`: the frames in the WAL when it began, and how many of them
/// are copied; `None` when the other checkpoint was running (SQLite answers -1).
fn checkpoint(conn: &Connection) -> rusqlite::Result<Option<(i64, i64)>> {
    let (log, copied): (i64, i64) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get(1)?, row.get(2)?))
    })?;
    Ok((log >= 0).then_some((log, copied)))
}

/// Writes `commits` in one transaction, in order, their journal entries last in one append.
fn together(conn: &mut Connection, commits: &[&Commit]) -> Result<Vec<Committed>> {
    // Dropped on an error: rusqlite rolls back at once, so the write lock is free for the
    // commits tried again one by one.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Timed inside the transaction, so that times follow the journal's order.
    let plan = Plan::of(commits)?;
    let mut results = Vec::with_capacity(commits.len());
    for statements in &plan.commits {
        let mut committed = Committed::default();
        run(&tx, statements, &mut committed)?;
        results.push(committed);
    }
    let entries = plan.entries(&results);
    if !entries.is_empty() {
        let head = tx
            .prepare_cached(super::journal::HEAD)?
            .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        // One row per statement: in process, one prepared statement run per entry costs less
        // than a statement of every batch's size (and SQLite looks a parameter's name up by
        // walking the statement's list of them, so wide statements bind in quadratic time).
        run(
            &tx,
            &super::journal::inserts(head, &entries, 1),
            &mut Committed::default(),
        )?;
    }
    tx.commit().map_err(|e| StoreError::Commit(e.to_string()))?;
    Ok(results)
}

fn run(conn: &Connection, statements: &[Statement], committed: &mut Committed) -> Result<()> {
    let mut skip = 0;
    for statement in statements {
        if skip > 0 {
            skip -= 1;
            continue;
        }
        let rows = execute(conn, statement)?;
        skip = statement.expect.check(rows as u64, committed)?;
    }
    Ok(())
}

/// Binds `$N` to the statement's N-th argument by the parameter's name, as sqlx does, rather
/// than by the order in which SQLite met the parameters.
fn execute(conn: &Connection, statement: &Statement) -> rusqlite::Result<usize> {
    let mut prepared = conn.prepare_cached(&statement.sql)?;
    let count = prepared.parameter_count();
    if count != statement.args.len() {
        return Err(rusqlite::Error::InvalidParameterCount(
            statement.args.len(),
            count,
        ));
    }
    for index in 1..=count {
        let name = prepared.parameter_name(index).unwrap_or_default();
        let arg = name
            .strip_prefix('$')
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| statement.args.get(n.wrapping_sub(1)))
            .ok_or_else(|| rusqlite::Error::InvalidParameterName(name.to_string()))?;
        prepared.raw_bind_parameter(index, arg)?;
    }
    prepared.raw_execute()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::write::args;

    #[test]
    fn arguments_bind_by_their_number_not_by_the_order_sqlite_meets_them() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (a TEXT, b TEXT)").unwrap();
        let swapped = Statement::new("INSERT INTO t (b, a) VALUES ($2, $1)", args!["first", "second"]);
        assert_eq!(execute(&conn, &swapped).unwrap(), 1);
        let (a, b): (String, String) = conn
            .query_row("SELECT a, b FROM t", [], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap();
        assert_eq!((a.as_str(), b.as_str()), ("first", "second"));

        let short = Statement::new("INSERT INTO t (a, b) VALUES ($1, $2)", args!["only"]);
        assert!(execute(&conn, &short).is_err(), "an argument missing is refused");
        let unnamed = Statement::new("INSERT INTO t (a, b) VALUES (?, ?)", args!["a", "b"]);
        assert!(
            execute(&conn, &unnamed).is_err(),
            "only `$N` parameters are bound"
        );
    }

    /// A store on the SQLite file `db`.
    async fn open(db: &std::path::Path, durability: crate::config::Durability) -> crate::store::Store {
        crate::store::Store::open(&format!("sqlite://{}", db.display()), durability)
            .await
            .unwrap()
    }

    fn entry(n: usize) -> crate::store::JournalEntry {
        crate::store::JournalEntry::quote(format!("checkpoint-{n}"))
    }

    /// No commit checkpoints (every connection's `wal_autocheckpoint` is 0): the checkpoint
    /// thread copies the WAL into the database file on its own. The database file alone, copied
    /// without its WAL, holds what was committed.
    #[tokio::test]
    async fn the_checkpoint_thread_copies_the_wal_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("store.db");
        let store = open(&db, crate::config::Durability::Full).await;
        for n in 0..50 {
            store
                .commit(crate::store::Commit {
                    journal: vec![entry(n)],
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        let copied = |name: &str| {
            let copy = dir.path().join(name);
            std::fs::copy(&db, &copy).unwrap();
            let conn = Connection::open(&copy).unwrap();
            // Before the first checkpoint the file holds not even the schema.
            conn.query_row(
                "SELECT count(*) FROM journal WHERE id LIKE 'checkpoint-%'",
                [],
                |row| row.get::<_, i64>(0),
            )
            .unwrap_or(0)
        };
        let deadline = std::time::Instant::now() + CHECKPOINT_EVERY * 10;
        let mut n = 0;
        loop {
            n += 1;
            let rows = copied(&format!("copy-{n}.db"));
            if rows == 50 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{rows} of 50 entries in the database file after {:?}",
                CHECKPOINT_EVERY * 10
            );
            std::thread::sleep(CHECKPOINT_EVERY / 2);
        }
    }

    /// A writer that never pauses still gets its WAL started over: the WAL header's checkpoint
    /// count moves (SQLite counts a restart there). The benchmark's accepts, before the writer
    /// checkpointed on the WAL's size: no restart in 8 s, a WAL of 811 MB. (A debug build's
    /// writer is slow enough that this test found a pause to restart in without it too.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_over_under_a_writer_that_never_pauses() {
        const ROUNDS_QUEUED: usize = 8;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("store.db");
        let store = open(&db, crate::config::Durability::Normal).await;
        let store = Arc::new(store);
        let wal = dir.path().join("store.db-wal");
        let restarts = || {
            let header = std::fs::read(&wal).unwrap_or_default();
            header
                .get(12..16)
                .map_or(0, |b| u32::from_be_bytes(b.try_into().unwrap()))
        };
        let before = restarts();
        let mut written = 0u64;
        let started = std::time::Instant::now();
        // Rounds in the queue at any time, so that the writer always has a batch to write.
        let mut rounds = std::collections::VecDeque::new();
        while restarts() == before {
            assert!(
                started.elapsed() < CHECKPOINT_EVERY * 20,
                "the WAL never started over: {} MiB written, the WAL file {} MiB",
                written >> 20,
                std::fs::metadata(&wal).map_or(0, |m| m.len()) >> 20
            );
            let round: Vec<_> = (0..100)
                .map(|_| {
                    let mut entry = entry(written as usize);
                    entry.detail = format!("\"{}\"", "x".repeat(4000));
                    written += 4096;
                    crate::store::Commit {
                        journal: vec![entry],
                        ..Default::default()
                    }
                })
                .collect();
            let store = store.clone();
            rounds.push_back(tokio::spawn(async move {
                let mut round = round;
                let last = round.pop().unwrap();
                for commit in round {
                    store.commit_queued(commit).unwrap();
                }
                store.commit(last).await.unwrap();
            }));
            if rounds.len() > ROUNDS_QUEUED {
                rounds.pop_front().unwrap().await.unwrap();
            }
        }
        for round in rounds {
            round.await.unwrap();
        }
        store.flush().await.unwrap();
    }

    /// A queued commit (a read-only operation's record) is not waited for, and a flush waits
    /// for it: a read after the flush finds it.
    #[tokio::test]
    async fn a_flush_waits_for_the_commits_queued_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir.path().join("store.db"), crate::config::Durability::Full).await;
        for n in 0..20 {
            store
                .commit_queued(crate::store::Commit {
                    journal: vec![entry(n)],
                    ..Default::default()
                })
                .unwrap();
        }
        store.flush().await.unwrap();
        // Read straight from the pool, as no reader that flushes first would.
        let committed: i64 = sqlx::query_scalar("SELECT count(*) FROM journal WHERE id LIKE 'checkpoint-%'")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(committed, 20, "every queued commit is in once the flush returns");
    }
}
