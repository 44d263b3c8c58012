//! The journal: append-only (triggers refuse updates and deletes) and hash-chained, so an
//! auditor can tell an altered or removed entry.

use std::fmt::Write as _;

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};

use super::Result;
use super::write::{Arg, Statement, args, run_sqlx};

/// An entry to append.
#[derive(Debug, Clone)]
pub struct JournalEntry {
    pub id: String,
    pub panel: Option<String>,
    pub operation: String,
    /// `portal`, `partner`, `callback` or `admin`.
    pub kind: &'static str,
    pub case_id: Option<String>,
    /// `ok`, or the error class.
    pub outcome: String,
    /// What the entry records, as JSON text: kept, and hashed, as given. Callers render it from
    /// their own values, so that no tree is built only to be printed.
    pub detail: String,
}

#[cfg(test)]
impl JournalEntry {
    /// A quote's portal entry with the id `id`, for the store's tests.
    pub(super) fn quote(id: String) -> JournalEntry {
        JournalEntry {
            id,
            panel: Some("A03".into()),
            operation: "quote".into(),
            kind: "portal",
            case_id: None,
            outcome: "ok".into(),
            detail: "{}".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JournalRow {
    pub seq: i64,
    pub id: String,
    pub at: String,
    pub panel: Option<String>,
    pub operation: String,
    pub kind: String,
    pub case_id: Option<String>,
    pub outcome: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub hash: String,
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[allow(clippy::too_many_arguments)]
fn entry_hash(
    prev: &str,
    id: &str,
    at: &str,
    panel: Option<&str>,
    operation: &str,
    kind: &str,
    case_id: Option<&str>,
    outcome: &str,
    detail: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        prev,
        id,
        at,
        panel.unwrap_or(""),
        operation,
        kind,
        case_id.unwrap_or(""),
        outcome,
        detail,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The query that reads the chain's head: `(seq, hash)` of the newest entry.
pub(super) const HEAD: &str = "SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1";

/// Appends `entries`, each with its time, in order, each chained to the one before.
pub(super) async fn append(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    entries: &[(&JournalEntry, String)],
) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let head = sqlx::query(HEAD)
        .fetch_optional(&mut **tx)
        .await?
        .map(|row| (row.get::<i64, _>("seq"), row.get::<String, _>("hash")));
    let inserts = inserts(head, entries, ROWS_PER_INSERT);
    run_sqlx(tx, &inserts, &mut Default::default()).await
}

/// The statements that append `entries` after the chain's `head` (none: an empty journal), each
/// entry chained to the one before, `rows` entries per statement at most. The rows keep their
/// order, so `seq` follows the chain.
pub(super) fn inserts(
    head: Option<(i64, String)>,
    entries: &[(&JournalEntry, String)],
    rows: usize,
) -> Vec<Statement> {
    // The sequence numbers are counted here, not drawn from the database: a PostgreSQL sequence
    // skips the numbers of a rolled-back transaction, and `verify` reads a gap as a removed
    // entry. Writers take turns (`begin_ordered`, the SQLite writer), so the count is theirs.
    let (mut seq, mut prev) = head.unwrap_or_else(|| (0, GENESIS.to_string()));
    let rows = rows.clamp(1, entries.len().max(1));
    // Every chunk but the last has `rows` rows: their SQL is written once.
    let full = insert_sql(rows);
    let mut statements = Vec::new();
    for chunk in entries.chunks(rows) {
        let sql = if chunk.len() == rows {
            full.clone()
        } else {
            insert_sql(chunk.len())
        };
        let mut bound = Vec::with_capacity(chunk.len() * COLUMNS);
        for (entry, at) in chunk {
            seq += 1;
            let detail = &entry.detail;
            let hash = entry_hash(
                &prev,
                &entry.id,
                at,
                entry.panel.as_deref(),
                &entry.operation,
                entry.kind,
                entry.case_id.as_deref(),
                &entry.outcome,
                detail,
            );
            let before = std::mem::replace(&mut prev, hash.clone());
            bound.extend(args![
                seq,
                &entry.id,
                at,
                &entry.panel,
                &entry.operation,
                entry.kind,
                &entry.case_id,
                &entry.outcome,
                detail,
                before,
                hash,
            ]);
        }
        statements.push(Statement::new(sql, bound));
    }
    statements
}

/// The columns an entry fills.
const COLUMNS: usize = 11;

/// `INSERT INTO journal ... VALUES ($1, ..., $11), ($12, ...)` for `rows` rows.
fn insert_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO journal (seq, id, at, panel, operation, kind, case_id, outcome, detail, prev_hash, hash) VALUES ",
    );
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 1..=COLUMNS {
            if column > 1 {
                sql.push_str(", ");
            }
            let _ = write!(sql, "${}", row * COLUMNS + column);
        }
        sql.push(')');
    }
    sql
}

/// Journal rows one `INSERT` writes at most over sqlx: one round trip for many rows, and well
/// under any database's limit of bound values per statement.
const ROWS_PER_INSERT: usize = 100;

/// What [`list`] keeps: every criterion given must hold.
#[derive(Debug, Clone, Default)]
pub struct JournalFilter {
    pub panel: Option<String>,
    pub operation: Option<String>,
    /// `portal`, `partner`, `callback`, `admin`, `settlement`, ...
    pub kind: Option<String>,
    /// `Some(true)`: only entries whose outcome is `ok`; `Some(false)`: only the others.
    pub ok: Option<bool>,
    pub case_id: Option<String>,
    /// RFC 3339 in UTC, as the store writes `at`: entries at or after it...
    pub since: Option<String>,
    /// ...and before it.
    pub until: Option<String>,
}

pub(super) async fn list(
    pool: &AnyPool,
    filter: &JournalFilter,
    limit: i64,
    before: Option<i64>,
) -> Result<Vec<JournalRow>> {
    let ok = filter.ok.map(|ok| if ok { "ok" } else { "error" });
    let rows = sqlx::query(
        "SELECT * FROM journal WHERE ($1 IS NULL OR panel = $1) AND ($3 IS NULL OR seq < $3)
           AND ($4 IS NULL OR operation = $4) AND ($5 IS NULL OR kind = $5)
           AND ($6 IS NULL OR ($6 = 'ok' AND outcome = 'ok') OR ($6 = 'error' AND outcome <> 'ok'))
           AND ($7 IS NULL OR case_id = $7) AND ($8 IS NULL OR at >= $8) AND ($9 IS NULL OR at < $9)
         ORDER BY seq DESC LIMIT $2",
    )
    .bind(filter.panel.as_deref())
    .bind(limit)
    .bind(before)
    .bind(filter.operation.as_deref())
    .bind(filter.kind.as_deref())
    .bind(ok)
    .bind(filter.case_id.as_deref())
    .bind(filter.since.as_deref())
    .bind(filter.until.as_deref())
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(to_row).collect())
}

/// One journal entry with what hangs off it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EntryDetail {
    pub entry: JournalRow,
    /// The partner exchanges the entry's operation made (redacted when written).
    pub exchanges: Vec<JournalRow>,
    /// Later entries on the same case (at most 100): a reconciliation's status refresh, an
    /// operator's settlement, the next operations.
    pub later_on_the_case: Vec<JournalRow>,
}

/// How far past an entry its partner exchanges are looked for.
const EXCHANGE_WINDOW: i64 = 5000;

pub(super) async fn entry(pool: &AnyPool, id: &str) -> Result<Option<EntryDetail>> {
    let Some(row) = sqlx::query("SELECT * FROM journal WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let entry = to_row(&row);
    // An exchange is journaled with the operation's id as `of`, after the operation began and
    // before it answered, among the other operations' entries of its time.
    let exchanges =
        sqlx::query("SELECT * FROM journal WHERE seq > $1 AND seq <= $2 AND kind = 'partner' ORDER BY seq")
            .bind(entry.seq - EXCHANGE_WINDOW)
            .bind(entry.seq + EXCHANGE_WINDOW)
            .fetch_all(pool)
            .await?
            .iter()
            .map(to_row)
            .filter(|r| r.detail["of"].as_str() == Some(entry.id.as_str()))
            .collect();
    let later_on_the_case = match &entry.case_id {
        Some(case) => {
            sqlx::query("SELECT * FROM journal WHERE case_id = $1 AND seq > $2 ORDER BY seq LIMIT 100")
                .bind(case)
                .bind(entry.seq)
                .fetch_all(pool)
                .await?
                .iter()
                .map(to_row)
                // The entry's own exchanges are listed apart.
                .filter(|r| !(r.kind == "partner" && r.detail["of"].as_str() == Some(entry.id.as_str())))
                .collect()
        }
        None => Vec::new(),
    };
    Ok(Some(EntryDetail {
        entry,
        exchanges,
        later_on_the_case,
    }))
}

fn to_row(r: &sqlx::any::AnyRow) -> JournalRow {
    JournalRow {
        seq: r.get("seq"),
        id: r.get("id"),
        at: r.get("at"),
        panel: r.get("panel"),
        operation: r.get("operation"),
        kind: r.get("kind"),
        case_id: r.get("case_id"),
        outcome: r.get("outcome"),
        detail: serde_json::from_str(&r.get::<String, _>("detail")).unwrap_or(serde_json::Value::Null),
        hash: r.get("hash"),
    }
}

/// The panel's last `limit` portal operations, oldest first, each with its partner exchanges.
pub(super) async fn operations(
    pool: &AnyPool,
    panel: &str,
    limit: i64,
) -> Result<Vec<(JournalRow, Vec<JournalRow>)>> {
    let mut portal = list_where(pool, "panel = $1 AND kind = 'portal'", panel, limit).await?;
    portal.reverse();
    let Some(first) = portal.first().map(|r| r.seq) else {
        return Ok(Vec::new());
    };
    let rows =
        sqlx::query("SELECT * FROM journal WHERE panel = $1 AND kind = 'partner' AND seq > $2 ORDER BY seq")
            .bind(panel)
            .bind(first)
            .fetch_all(pool)
            .await?;
    let mut partner: std::collections::HashMap<String, Vec<JournalRow>> = Default::default();
    for row in rows.iter().map(to_row) {
        if let Some(of) = row.detail["of"].as_str() {
            partner.entry(of.to_string()).or_default().push(row);
        }
    }
    Ok(portal
        .into_iter()
        .map(|p| {
            let exchanges = partner.remove(&p.id).unwrap_or_default();
            (p, exchanges)
        })
        .collect())
}

async fn list_where(pool: &AnyPool, filter: &str, panel: &str, limit: i64) -> Result<Vec<JournalRow>> {
    let rows = sqlx::query(&format!(
        "SELECT * FROM journal WHERE {filter} ORDER BY seq DESC LIMIT $2"
    ))
    .bind(panel)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(to_row).collect())
}

/// How many entries `verify` reads at a time: memory stays bounded whatever the journal holds.
const VERIFY_PAGE: i64 = 1_000;

pub(super) async fn verify(pool: &AnyPool) -> Result<Option<String>> {
    verify_paged(pool, VERIFY_PAGE).await
}

/// Checks the chain `page` entries at a time, carrying the last hash and sequence number from
/// one page to the next.
async fn verify_paged(pool: &AnyPool, page: i64) -> Result<Option<String>> {
    let mut prev = GENESIS.to_string();
    let mut expected_seq = None;
    let mut after = i64::MIN;
    loop {
        let rows = sqlx::query("SELECT * FROM journal WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after)
            .bind(page)
            .fetch_all(pool)
            .await?;
        let last_page = (rows.len() as i64) < page;
        for r in rows {
            let seq: i64 = r.get("seq");
            let id: String = r.get("id");
            if expected_seq.is_some_and(|s| s != seq) {
                return Ok(Some(id));
            }
            let hash = entry_hash(
                &prev,
                &id,
                &r.get::<String, _>("at"),
                r.get::<Option<String>, _>("panel").as_deref(),
                &r.get::<String, _>("operation"),
                &r.get::<String, _>("kind"),
                r.get::<Option<String>, _>("case_id").as_deref(),
                &r.get::<String, _>("outcome"),
                &r.get::<String, _>("detail"),
            );
            if r.get::<String, _>("prev_hash") != prev || r.get::<String, _>("hash") != hash {
                return Ok(Some(id));
            }
            prev = hash;
            expected_seq = Some(seq + 1);
            after = seq;
        }
        if last_page {
            return Ok(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Commit, Store};

    /// The chain is checked across pages: an intact journal of 25 entries read 10 at a time
    /// passes, and an entry altered on the second page is named (the hash carried over from
    /// the first page is what finds it), as is one removed at a page's edge.
    #[tokio::test]
    async fn the_chain_is_verified_page_by_page() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::open(&url, crate::config::Durability::Normal)
            .await
            .unwrap();
        for n in 0..25 {
            let commit = Commit {
                journal: vec![JournalEntry::quote(format!("entry-{n:02}"))],
                ..Commit::default()
            };
            store.commit(commit).await.unwrap();
        }
        assert_eq!(verify_paged(&store.pool, 10).await.unwrap(), None);
        assert_eq!(verify_paged(&store.pool, 25).await.unwrap(), None);

        let run = |sql: &'static str| sqlx::query(sql).execute(&store.pool);
        // The journal refuses changes: the test lifts that, as someone with the file might.
        run("DROP TRIGGER journal_no_update").await.unwrap();
        run("DROP TRIGGER journal_no_delete").await.unwrap();
        run("UPDATE journal SET outcome = 'altered' WHERE id = 'entry-12'")
            .await
            .unwrap();
        assert_eq!(
            verify_paged(&store.pool, 10).await.unwrap().as_deref(),
            Some("entry-12")
        );
        run("UPDATE journal SET outcome = 'ok' WHERE id = 'entry-12'")
            .await
            .unwrap();
        assert_eq!(verify_paged(&store.pool, 10).await.unwrap(), None);
        run("DELETE FROM journal WHERE id = 'entry-10'").await.unwrap();
        assert_eq!(
            verify_paged(&store.pool, 10).await.unwrap().as_deref(),
            Some("entry-11")
        );
    }
}
