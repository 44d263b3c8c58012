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
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

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
) -> Result<()> {
    let mut conn = Connection::open(path)?;
    conn.execute_batch(pragmas)?;
    // Every statement a batch runs stays prepared: a journal append has one shape per count of
    // rows (up to 100), the rest a dozen.
    conn.set_prepared_statement_cache_capacity(128);
    std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while let Some(job) = queue.blocking_recv() {
                batch.push(job);
                while batch.len() < MAX_BATCH {
                    match queue.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                let _turn = turn.blocking_lock();
                write_batch(std::mem::take(&mut batch), |commits| together(&mut conn, commits));
            }
        })?;
    Ok(())
}

/// Writes `commits` in one transaction, in order, their journal entries last in one append.
fn together(conn: &mut Connection, commits: &[&Commit]) -> Result<Vec<Committed>> {
    let plan = Plan::of(commits)?;
    // Dropped on an error: rusqlite rolls back at once, so the write lock is free for the
    // commits tried again one by one.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(commits.len());
    for statements in &plan.commits {
        let mut committed = Committed::default();
        run(&tx, statements, &mut committed)?;
        results.push(committed);
    }
    if !plan.entries.is_empty() {
        let head = tx
            .query_row(super::journal::HEAD, [], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        run(&tx, &plan.journal(head), &mut Committed::default())?;
    }
    tx.commit().map_err(|e| StoreError::Commit(e.to_string()))?;
    Ok(results)
}

fn run(conn: &Connection, statements: &[Statement], committed: &mut Committed) -> Result<()> {
    for statement in statements {
        let rows = conn
            .prepare_cached(&statement.sql)
            .and_then(|mut prepared| prepared.execute(rusqlite::params_from_iter(&statement.args)))?;
        statement.expect.check(rows as u64, committed)?;
    }
    Ok(())
}
