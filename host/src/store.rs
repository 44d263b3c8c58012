//! The store: SQLite (WAL, full sync) under a migration-managed schema.
//!
//! Everything one operation learns is written in one transaction before the portal or the
//! partner gets a 2xx, so nothing acknowledged can be lost by a crash. Operations committing at
//! the same moment share that transaction (a group commit): on SQLite a writer thread with a
//! connection of its own runs it ([`sqlite`]), on PostgreSQL a task ([`Writer::run`]); both
//! run the same statements ([`write`]).

mod journal;
mod registry;
mod sqlite;
mod write;

use std::path::Path;
use std::str::FromStr as _;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Executor as _;
use sqlx::any::AnyPoolOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, Row};

pub use journal::{JournalEntry, JournalRow};
pub use registry::{DeployAction, Deployment, ModuleInfo, active_stack};

use crate::model::{CaseKind, CaseRef, CaseStatus, Policy, Reference, Requirement};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("operation {0} was already settled")]
    Settled(String),
    #[error("case {0} does not exist")]
    NoCase(String),
    #[error("store.url `...{0}`: give `sqlite://FILE` or `postgres://USER@HOST/DATABASE`")]
    Url(String),
    /// The group commit's transaction failed at its end; the other commits of the batch, if
    /// any, were tried again one by one and this one failed alone too, or the commit itself did.
    #[error("committing: {0}")]
    Commit(String),
    #[error("the store is shut down")]
    Closed,
}

impl StoreError {
    /// A fault of the database's reachability or of this moment (a lock held, a connection
    /// lost, the disk full), which a later attempt may not meet; not a fault of the data.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Db(_) | StoreError::Sqlite(_) | StoreError::Io(_) | StoreError::Commit(_)
        )
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The database behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One file, one host: the embedded default.
    Sqlite,
    /// Shared by several hosts.
    Postgres,
}

impl Backend {
    fn of(url: &str) -> Result<Backend> {
        if url.starts_with("sqlite://") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Url(
                url.split('@').next_back().unwrap_or_default().to_string(),
            ))
        }
    }
}

/// How long a PostgreSQL operation waits for a pooled connection.
const POSTGRES_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// Every PostgreSQL session's bounds: a lock wait (the journal's ordering lock included) and a
/// statement end with an error rather than hang the operation that waits; a transaction left
/// idle is ended by the server.
const POSTGRES_TIMEOUTS: &str = "SET lock_timeout = '5s'; SET statement_timeout = '15s'; \
     SET idle_in_transaction_session_timeout = '60s'";

/// The advisory lock key of [`Store::begin_ordered`] ("pgate" in ASCII).
const ORDERED_WRITES: i64 = 0x70_67_61_74_65;

pub struct Store {
    pool: AnyPool,
    writer: Writer,
    /// The group commit's queue: see [`Writer::run`].
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
    /// Where each commit's time goes, once the host's metrics are attached.
    commit_time: Option<prometheus_client::metrics::histogram::Histogram>,
    /// Whether the last commit failed: `/readyz` then probes a write before saying ready.
    failing: std::sync::atomic::AtomicBool,
}

/// The most commits written in one transaction.
const MAX_BATCH: usize = 64;

/// One [`Commit`] waiting for the group commit, and where its result goes.
struct Job {
    commit: Commit,
    /// In a transaction of its own, not grouped ([`Store::commit_alone`]).
    alone: bool,
    done: tokio::sync::oneshot::Sender<Result<Committed>>,
}

/// What writes need: the pool, the backend, and (SQLite) this host's writers' turn.
#[derive(Clone)]
struct Writer {
    pool: AnyPool,
    backend: Backend,
    /// SQLite has one writer; taking turns here avoids busy upgrades inside transactions.
    turn: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// A case as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Case {
    pub id: String,
    pub panel: String,
    pub kind: CaseKind,
    pub status: CaseStatus,
    pub product: Option<String>,
    pub parent: Option<String>,
    pub policy: Option<Policy>,
    pub requirements: Vec<Requirement>,
    pub message: Option<String>,
    pub references: Vec<Reference>,
    pub created_at: String,
    pub updated_at: String,
    pub history: Vec<HistoryEntry>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub at: String,
    pub status: CaseStatus,
    pub source: String,
    pub journal_id: Option<String>,
}

impl Case {
    pub fn to_ref(&self) -> CaseRef {
        CaseRef {
            id: self.id.clone(),
            kind: self.kind,
            status: self.status,
            product: self.product.clone(),
            references: self.references.clone(),
            policy: self.policy.clone(),
            parent: self.parent.clone(),
        }
    }
}

/// A change to a case (or a new one) that an operation or callback brings.
#[derive(Debug, Clone, Default)]
pub struct CaseChange {
    pub case_id: String,
    /// Set to create the case: its panel, kind, product and parent.
    pub create: Option<(String, CaseKind, Option<String>, Option<String>)>,
    pub status: Option<CaseStatus>,
    pub policy: Option<Policy>,
    pub requirements: Option<Vec<Requirement>>,
    pub message: Option<String>,
    pub references: Vec<Reference>,
    pub source: String,
}

/// A canonical fact for the feed.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub panel: String,
    pub case_id: Option<String>,
    pub kind: String,
    pub dedup_key: String,
    pub status: Option<CaseStatus>,
    pub payload: serde_json::Value,
    pub flagged: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoredEvent {
    /// The feed cursor: pass it as `after` to resume.
    pub cursor: String,
    pub id: String,
    pub panel: String,
    pub case_id: Option<String>,
    pub kind: String,
    pub status: Option<CaseStatus>,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub flagged: Option<String>,
    pub created_at: String,
}

/// A partner callback as received.
#[derive(Debug, Clone)]
pub struct CallbackRecord {
    pub id: String,
    pub panel: String,
    pub path: String,
    pub headers: serde_json::Value,
    pub body: Vec<u8>,
    pub parsed: Option<serde_json::Value>,
    pub reply_status: Option<u16>,
    pub flagged: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub id: String,
    pub event_id: String,
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// Everything one operation writes, committed atomically.
#[derive(Debug, Default, Clone)]
pub struct Commit {
    pub journal: Vec<JournalEntry>,
    pub cases: Vec<CaseChange>,
    pub events: Vec<NewEvent>,
    pub attachments: Vec<NewAttachment>,
    pub callback: Option<CallbackRecord>,
    /// `(scope, key, status, body)`: the response to replay for this idempotency key.
    pub idempotent_response: Option<(String, String, u16, String)>,
    /// The in-flight record this commit settles (its operation's journal id): removed.
    pub settles: Option<String>,
    /// The in-flight record a crash cut off: marked `unknown`.
    pub marks_unknown: Option<String>,
    /// A state-changing operation about to ask its partner: recorded as in flight.
    pub begins: Option<PendingOperation>,
    /// An operation in doubt settled (reconciled or by an operator): its record removed and
    /// its key's answer replaced (`None` releases the key).
    pub settles_unknown: Option<SettledUnknown>,
    /// A write that proves the store can write (`/readyz` after a failure).
    pub probe: bool,
}

/// How an operation in doubt was settled, as a [`Commit`] writes it.
#[derive(Debug, Clone)]
pub struct SettledUnknown {
    pub journal_id: String,
    /// The operation's key and its new answer, if it had a key.
    pub key: Option<SettledKey>,
}

/// An idempotency key's new answer `(status, body)`; no answer releases the key, so that a
/// retry with it runs the operation again.
#[derive(Debug, Clone)]
pub struct SettledKey {
    pub scope: String,
    pub key: String,
    pub answer: Option<(u16, String)>,
}

/// A state-changing operation about to ask the partner.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PendingOperation {
    pub journal_id: String,
    pub panel: String,
    pub operation: String,
    pub case_id: Option<String>,
    /// `{kind, product, parent}` when the operation opens the case.
    #[schema(value_type = Option<Object>)]
    pub opens: Option<serde_json::Value>,
    pub idempotency: Option<(String, String)>,
    #[schema(value_type = Object)]
    pub request: Box<serde_json::value::RawValue>,
    pub started_at: String,
    /// `running`, or `unknown` once recovery found the host had died in it.
    pub state: String,
}

/// What committing found.
#[derive(Debug, Default)]
pub struct Committed {
    /// Per event of the commit: true when it was new, false for a duplicate.
    pub events_new: Vec<bool>,
}

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

pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// [`now`] moved by `by`: the bounds of "older than" in the store's RFC 3339 text.
pub fn now_minus(by: std::time::Duration) -> String {
    shifted(-(by.as_millis() as i64))
}

pub fn now_plus(by: std::time::Duration) -> String {
    shifted(by.as_millis() as i64)
}

fn shifted(millis: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::milliseconds(millis))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The snake_case name serde gives a unit enum value.
pub fn enum_str<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn parse_enum<T: DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(text.into()))
        .map_err(|e| StoreError::Corrupt(format!("`{text}`: {e}")))
}

fn parse_json<T: DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// [`parse_json`]'s other way: a value as the JSON text a column keeps.
fn json_text<T: Serialize>(value: Option<&T>) -> Result<Option<String>> {
    value
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Store {
    /// Opens (creating on first start) the database at `url` and brings its schema up to date:
    /// `sqlite://FILE` (embedded, the default) or `postgres://...` (shared by several hosts).
    pub async fn open(url: &str, durability: crate::config::Durability) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of(url)?;
        // SQLite's path, and its settings for the writer's own connection.
        let (pool, sqlite) = match backend {
            Backend::Sqlite => {
                let path = url["sqlite://".len()..].split('?').next().unwrap_or_default();
                if path.is_empty() || url.contains(":memory:") || url.contains("mode=memory") {
                    // The writer's connection and the pool's must open the same database.
                    return Err(StoreError::Url(url.to_string()));
                }
                if let Some(dir) = Path::new(path).parent()
                    && !dir.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(dir)?;
                }
                let url = if url.contains("mode=") {
                    url.to_string()
                } else {
                    format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
                };
                let pragmas = match durability {
                    crate::config::Durability::Full => {
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;"
                    }
                    crate::config::Durability::Normal => {
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;"
                    }
                };
                let pool = AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(move |conn, _| {
                        Box::pin(async move { conn.execute(pragmas).await.map(drop) })
                    })
                    .connect(&url)
                    .await?;
                sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
                // The file as sqlx read the URL (percent-decoded), for the writer to open too.
                let file = SqliteConnectOptions::from_str(&url)?.get_filename().to_path_buf();
                (pool, Some((file, pragmas)))
            }
            Backend::Postgres => {
                // `normal`: the commit returns before the WAL reaches the disk (a crash of the
                // database server may lose the last moments, a crash of a host loses nothing).
                let asynchronous = durability == crate::config::Durability::Normal;
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(POSTGRES_WAIT)
                    .after_connect(move |conn, _| {
                        Box::pin(async move {
                            // A lock another session holds, or a statement that never ends,
                            // fails its operation with a 503 rather than hanging it.
                            conn.execute(POSTGRES_TIMEOUTS).await?;
                            if asynchronous {
                                conn.execute("SET synchronous_commit = off").await?;
                            }
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?;
                // sqlx takes an advisory lock while migrating: hosts starting together take turns.
                sqlx::migrate!("./migrations/postgres").run(&pool).await?;
                (pool, None)
            }
        };
        let writer = Writer {
            pool: pool.clone(),
            backend,
            turn: Default::default(),
        };
        let (jobs, queue) = tokio::sync::mpsc::unbounded_channel();
        match sqlite {
            Some((file, pragmas)) => sqlite::start(&file, pragmas, writer.turn.clone(), queue)?,
            None => drop(tokio::spawn(writer.clone().run(queue))),
        }
        Ok(Store {
            pool,
            writer,
            jobs,
            commit_time: None,
            failing: Default::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.writer.backend
    }

    pub async fn ping(&self) -> Result<()> {
        if self.jobs.is_closed() {
            // The group commit's writer is gone: no commit can succeed.
            return Err(StoreError::Closed);
        }
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        self.writer.turn().await
    }

    async fn begin_ordered(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        self.writer.begin_ordered().await
    }

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

    /// Writes everything an operation learned, atomically. Commits arriving together share one
    /// transaction (a group commit: one sync to disk for the lot); each caller's answer waits
    /// until the transaction holding its commit is durable.
    pub async fn commit(&self, commit: Commit) -> Result<Committed> {
        let started = std::time::Instant::now();
        let (done, answer) = tokio::sync::oneshot::channel();
        self.send(Job {
            commit,
            alone: false,
            done,
        })?;
        let committed = answer.await.map_err(|_| StoreError::Closed)?;
        if let Some(histogram) = &self.commit_time {
            histogram.observe(started.elapsed().as_secs_f64());
        }
        self.note(&committed);
        committed
    }

    /// Remembers whether the store could write, for [`Store::writable`].
    fn note<T>(&self, result: &Result<T>) {
        let failed = matches!(result, Err(e) if e.is_transient() || matches!(e, StoreError::Closed));
        self.failing.store(failed, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether the store can write now. While commits succeed this is free; after one failed,
    /// it writes a probe through the same writer, so that it turns true again only when a
    /// commit would succeed.
    pub async fn writable(&self) -> Result<()> {
        if !self.failing.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        let probe = self
            .commit(Commit {
                probe: true,
                ..Commit::default()
            })
            .await;
        probe.map(drop)
    }

    /// Observes every [`Store::commit`]'s time, from the hand-over to the answer, in `histogram`.
    pub fn timing_commits(mut self, histogram: prometheus_client::metrics::histogram::Histogram) -> Store {
        self.commit_time = Some(histogram);
        self
    }

    /// [`Store::commit`] without the group commit: through the same queue and writer, but in a
    /// transaction for this commit alone, as every commit was before the group commit. For the
    /// benchmark's side-by-side; a batch holding such a commit is written one commit at a time.
    #[doc(hidden)]
    pub async fn commit_alone(&self, commit: Commit) -> Result<Committed> {
        let (done, answer) = tokio::sync::oneshot::channel();
        self.send(Job {
            commit,
            alone: true,
            done,
        })?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    fn send(&self, job: Job) -> Result<()> {
        self.jobs.send(job).map_err(|_| StoreError::Closed)
    }

    pub async fn case(&self, panel: &str, id: &str) -> Result<Option<Case>> {
        let row = sqlx::query("SELECT * FROM cases WHERE id = $1 AND panel = $2")
            .bind(id)
            .bind(panel)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let references =
            sqlx::query("SELECT kind, value FROM case_references WHERE case_id = $1 ORDER BY kind")
                .bind(id)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(|r| Reference {
                    kind: r.get("kind"),
                    value: r.get("value"),
                })
                .collect();
        let history = sqlx::query(
            "SELECT at, status, source, journal_id FROM case_history WHERE case_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| {
            Ok(HistoryEntry {
                at: r.get("at"),
                status: parse_enum(&r.get::<String, _>("status"))?,
                source: r.get("source"),
                journal_id: r.get("journal_id"),
            })
        })
        .collect::<Result<_>>()?;
        Ok(Some(Case {
            id: row.get("id"),
            panel: row.get("panel"),
            kind: parse_enum(&row.get::<String, _>("kind"))?,
            status: parse_enum(&row.get::<String, _>("status"))?,
            product: row.get("product"),
            parent: row.get("parent"),
            policy: row
                .get::<Option<String>, _>("policy")
                .map(|p| parse_json(&p))
                .transpose()?,
            requirements: parse_json(&row.get::<String, _>("requirements"))?,
            message: row.get("message"),
            references,
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
            history,
        }))
    }

    /// The case of `panel` that carries the partner reference `kind = value`.
    pub async fn case_by_reference(&self, panel: &str, reference: &Reference) -> Result<Option<Case>> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT r.case_id FROM case_references r JOIN cases c ON c.id = r.case_id
             WHERE r.panel = $1 AND r.kind = $2 AND r.value = $3 ORDER BY c.created_at DESC LIMIT 1",
        )
        .bind(panel)
        .bind(&reference.kind)
        .bind(&reference.value)
        .fetch_optional(&self.pool)
        .await?;
        match id {
            Some(id) => self.case(panel, &id).await,
            None => Ok(None),
        }
    }

    /// Events after `cursor`, oldest first.
    pub async fn events_after(&self, cursor: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        sqlx::query("SELECT * FROM events WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(cursor)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|r| {
                Ok(StoredEvent {
                    cursor: r.get::<i64, _>("seq").to_string(),
                    id: r.get("id"),
                    panel: r.get("panel"),
                    case_id: r.get("case_id"),
                    kind: r.get("kind"),
                    status: r
                        .get::<Option<String>, _>("status")
                        .map(|s| parse_enum(&s))
                        .transpose()?,
                    payload: parse_json(&r.get::<String, _>("payload"))?,
                    flagged: r.get("flagged"),
                    created_at: r.get("created_at"),
                })
            })
            .collect()
    }

    pub async fn event_payload(&self, panel: &str, dedup_key: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT payload FROM events WHERE panel = $1 AND dedup_key = $2")
                .bind(panel)
                .bind(dedup_key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Records a state-changing operation before its adapter asks the partner.
    pub async fn begin_pending(&self, op: &PendingOperation) -> Result<()> {
        self.commit(Commit {
            begins: Some(op.clone()),
            ..Commit::default()
        })
        .await
        .map(drop)
    }

    /// Operations with the given state (`running` or `unknown`), oldest first.
    pub async fn pending(&self, state: &str) -> Result<Vec<PendingOperation>> {
        let rows = sqlx::query("SELECT * FROM pending WHERE state = $1 ORDER BY started_at")
            .bind(state)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                fn json<T: DeserializeOwned>(r: &sqlx::any::AnyRow, col: &str) -> Result<Option<T>> {
                    r.get::<Option<String>, _>(col)
                        .map(|t| parse_json(&t))
                        .transpose()
                }
                Ok(PendingOperation {
                    journal_id: r.get("journal_id"),
                    panel: r.get("panel"),
                    operation: r.get("operation"),
                    case_id: r.get("case_id"),
                    opens: json(r, "opens")?,
                    idempotency: r
                        .get::<Option<String>, _>("idem_scope")
                        .zip(r.get::<Option<String>, _>("idem_key")),
                    request: json(r, "request")?.unwrap_or_default(),
                    started_at: r.get("started_at"),
                    state: r.get("state"),
                })
            })
            .collect()
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

    /// Registers a module; `false` when one with the same hash was already there.
    pub async fn register_module(&self, info: &ModuleInfo, bytes: &[u8]) -> Result<bool> {
        let _turn = self.turn().await;
        registry::insert_module(&self.pool, info, bytes).await
    }

    pub async fn module(&self, hash: &str) -> Result<Option<ModuleInfo>> {
        registry::module(&self.pool, hash).await
    }

    pub async fn module_bytes(&self, hash: &str) -> Result<Option<Vec<u8>>> {
        registry::module_bytes(&self.pool, hash).await
    }

    /// The newest module registered as `name@version`.
    pub async fn module_by_name(&self, name: &str, version: &str) -> Result<Option<ModuleInfo>> {
        registry::module_by_name(&self.pool, name, version).await
    }

    pub async fn modules(&self) -> Result<Vec<ModuleInfo>> {
        registry::modules(&self.pool).await
    }

    /// A panel's deployment history, oldest first.
    pub async fn deployments(&self, panel: &str) -> Result<Vec<Deployment>> {
        registry::deployments(&self.pool, panel).await
    }

    /// The newest deployment's sequence number (0 for none): changes whenever any host deploys.
    pub async fn deployments_head(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM deployments")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Records that `panel` now serves `module`, journaled in the same transaction.
    pub async fn deploy(
        &self,
        panel: &str,
        module: &str,
        action: DeployAction,
        journal: JournalEntry,
    ) -> Result<()> {
        let _turn = self.turn().await;
        let mut tx = self.begin_ordered().await?;
        registry::deploy(&mut tx, panel, module, action).await?;
        journal::append(&mut tx, &[(&journal, now())]).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn journal(
        &self,
        panel: Option<&str>,
        limit: i64,
        before: Option<i64>,
    ) -> Result<Vec<JournalRow>> {
        journal::list(&self.pool, panel, limit, before).await
    }

    /// The panel's last `limit` portal operations, oldest first, each with its partner exchanges.
    pub async fn recent_operations(
        &self,
        panel: &str,
        limit: i64,
    ) -> Result<Vec<(JournalRow, Vec<JournalRow>)>> {
        journal::operations(&self.pool, panel, limit).await
    }

    /// Checks the journal's hash chain; the first broken entry's id, if any.
    pub async fn verify_journal(&self) -> Result<Option<String>> {
        journal::verify(&self.pool).await
    }

    pub async fn attachment(&self, id: &str) -> Result<Option<(String, String, Vec<u8>)>> {
        let row = sqlx::query("SELECT filename, content_type, data FROM attachments WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| (r.get("filename"), r.get("content_type"), r.get("data"))))
    }

    pub async fn callbacks(&self, panel: &str) -> Result<Vec<(String, String, Option<String>)>> {
        Ok(
            sqlx::query("SELECT id, path, flagged FROM callbacks WHERE panel = $1 ORDER BY received_at")
                .bind(panel)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(|r| (r.get("id"), r.get("path"), r.get("flagged")))
                .collect(),
        )
    }
}

impl Writer {
    /// SQLite has one writer: this host's writes take turns, rather than meeting as busy
    /// upgrades inside transactions. PostgreSQL needs no such turn.
    async fn turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match self.backend {
            Backend::Sqlite => Some(self.turn.clone().lock_owned().await),
            Backend::Postgres => None,
        }
    }

    /// A transaction that appends to the journal or the feed. On PostgreSQL it holds a
    /// transaction-scoped advisory lock, so that the writers of every host take turns: the
    /// journal's hash chain stays one chain, and events get their sequence numbers in commit
    /// order, so a reader following the feed's cursor never skips one committed late.
    async fn begin_ordered(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
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
    async fn run(self, mut queue: tokio::sync::mpsc::UnboundedReceiver<Job>) {
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
                let _ = job.done.send(result);
            }
        }
    }

    /// Writes `commits` in one transaction, in order. Their journal entries go last, all in
    /// one append: one read of the chain's head for the whole batch.
    async fn together(&self, commits: &[&Commit]) -> Result<Vec<Committed>> {
        let mut tx = self.begin_ordered().await?;
        match run_plan(&mut tx, commits).await {
            Ok(results) => {
                tx.commit().await.map_err(|e| StoreError::Commit(e.to_string()))?;
                Ok(results)
            }
            Err(e) => {
                // Rolled back before the caller tries again: a dropped transaction rolls back
                // later.
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }
}

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
    journal::append(tx, &plan.entries).await?;
    Ok(results)
}

/// Whether a batch may share one transaction: more than one commit, none asking to be alone.
fn groups(batch: &[Job]) -> bool {
    batch.len() > 1 && !batch.iter().any(|job| job.alone)
}

/// Hands each job its commit's result.
fn answer(batch: Vec<Job>, results: Vec<Committed>) {
    for (job, result) in batch.into_iter().zip(results) {
        let _ = job.done.send(Ok(result));
    }
}

/// The one commit's result of a transaction that held only it.
fn only(mut results: Vec<Committed>) -> Committed {
    results.pop().unwrap_or_default()
}

/// A batch written by `together`: in one transaction when it [`groups`]; each commit alone when
/// it does not, or when that transaction failed, so that a failure is only its own commit's.
fn write_batch(batch: Vec<Job>, mut together: impl FnMut(&[&Commit]) -> Result<Vec<Committed>>) {
    if groups(&batch) {
        let commits: Vec<&Commit> = batch.iter().map(|job| &job.commit).collect();
        if let Ok(results) = together(&commits) {
            answer(batch, results);
            return;
        }
    }
    for job in batch {
        let result = together(&[&job.commit]).map(only);
        let _ = job.done.send(result);
    }
}
