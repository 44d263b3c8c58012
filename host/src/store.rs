//! The store: SQLite (WAL, full sync) under a migration-managed schema.
//!
//! Everything one operation learns is written in one transaction before the portal or the
//! partner gets a 2xx, so nothing acknowledged can be lost by a crash. Operations committing at
//! the same moment share that transaction (a group commit): on SQLite a writer thread with a
//! connection of its own runs it ([`sqlite`]), on PostgreSQL a task ([`Writer::run`]); both
//! run the same statements ([`write`]).

mod cases;
mod group;
mod idempotency;
mod journal;
mod panels;
mod pending;
mod registry;
mod sqlite;
mod webhooks;
mod write;

use std::path::Path;
use std::str::FromStr as _;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::AnyPool;
use sqlx::Executor as _;
use sqlx::any::AnyPoolOptions;
use sqlx::sqlite::SqliteConnectOptions;

pub use cases::{CallbackRow, Case, HistoryEntry, Staleness, StoredEvent, WaitingEvent};
use group::{Job, MAX_BATCH, Writer, write_batch};
pub use idempotency::KeyState;
pub use journal::{EntryDetail, JournalEntry, JournalFilter, JournalRow};
pub use panels::{PanelWrite, Seed, StoredPanel};
pub use pending::{PendingOperation, SettledKey, SettledUnknown};
pub use registry::{DeployAction, Deployment, ModuleInfo, ModuleSignature, active_stack};
pub use webhooks::{
    Attempt, AttemptOutcome, Claimed, Delivery, NewSubscription, Subscription, ms_text, now_ms,
};
pub use write::{learnt_ms, ms_of};

use crate::model::{CaseKind, CaseStatus, Policy, Reference, Requirement, RequirementStatus};

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
    #[error("case {0} changed since it was read")]
    CaseChanged(String),
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

pub struct Store {
    pool: AnyPool,
    writer: Writer,
    /// The group commit's queue: see [`Writer::run`].
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
    /// Where each commit's time goes, once the host's metrics are attached.
    commit_time: Option<prometheus_client::metrics::histogram::Histogram>,
    /// Whether the last commit failed: `/readyz` then probes a write before saying ready.
    failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Woken by every commit that stored a new event: the webhook worker waits on it.
    new_events: std::sync::Arc<tokio::sync::Notify>,
    /// Woken by every commit that gave a case a partner reference or stored an event waiting
    /// for one, the references in [`Store::waiting_refs`]: the host then applies what waited
    /// (`core::events`).
    waiting_events: std::sync::Arc<tokio::sync::Notify>,
    waiting_refs: std::sync::Arc<std::sync::Mutex<Vec<Reference>>>,
    /// SQLite: dropped with the store, it ends the checkpoint thread ([`sqlite::start_checkpointer`]).
    _checkpointer: Option<std::sync::mpsc::Sender<()>>,
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
    /// `(code, status)`: requirements this change moves on from `requested` (a document
    /// received, what is left waived once the case is decided), applied to the case's
    /// requirements as they are when it is written, not as they were read: two uploads to one
    /// case at once each keep their mark.
    pub requirement_marks: Vec<(String, RequirementStatus)>,
    pub message: Option<String>,
    pub references: Vec<Reference>,
    /// The terms applied for (set by the accept that opens the case, and by a loading).
    pub terms: Option<crate::core::terms::Terms>,
    pub source: String,
    /// When the news it brings was learnt (Unix milliseconds), when not as its source says
    /// ([`learnt_ms`]): an operation's answer, after its last request was sent.
    pub learnt_ms: Option<i64>,
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
    /// For a callback's event whose case the host does not know yet: the partner's reference
    /// it names, by which it is applied once a case gains it ([`Store::unapplied_events`]).
    pub case_ref: Option<Reference>,
    /// When the news it brings was learnt ([`learnt_ms`]), for an event that says a case's
    /// status: it says none when the case already holds news learnt after it.
    pub learnt_ms: Option<i64>,
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
    /// Case changes an event of this commit makes (by its index in `events`): applied only when
    /// that event is new, so that one fact delivered to two hosts at once moves its case once.
    pub event_changes: Vec<(usize, CaseChange)>,
    pub attachments: Vec<NewAttachment>,
    pub callback: Option<CallbackRecord>,
    /// `(scope, key, status, body)`: the response to replay for this idempotency key.
    pub idempotent_response: Option<(String, String, u16, String)>,
    /// A key the commit's request lets go, its claim only: an answer after which a retry may
    /// run the operation again (a 5xx when the partner certainly did not act). With the
    /// outcome, so that an outcome kept through a store fault lets it go when it lands.
    pub releases: Option<KeyClaim>,
    /// The in-flight record this commit settles (its operation's journal id): removed. When it
    /// is no longer running (marked in doubt meanwhile, or gone), nothing of the commit is
    /// written: [`StoreError::Settled`].
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
    /// An idempotency key claimed for a request, unless another request holds it
    /// ([`Committed::claimed`]): then nothing of the commit is written.
    pub claims: Option<KeyClaim>,
    /// An event that waited for its case, applied by this commit as its first event (a copy
    /// on the case): see [`AppliedEvent`].
    pub applies_event: Option<AppliedEvent>,
}

/// A waiting event applied: written only if the commit's first event (its copy on the case) is
/// new, so that it is applied once whichever host gets there; then it waits no more, and its
/// flag says where it went.
#[derive(Debug, Clone)]
pub struct AppliedEvent {
    pub event_id: String,
    pub flag: String,
    /// `(case id, its updated_at as read)`, when the copy moves the case: nothing of the commit
    /// is written if the case moved meanwhile ([`StoreError::CaseChanged`]), as what the copy
    /// does was decided on what was read.
    pub unless_moved: Option<(String, String)>,
}

impl Commit {
    /// The partner references by which this commit may let a stored event that waits for its
    /// case be applied: those it gives a case, and those its waiting events name.
    fn waiting_refs(&self) -> Vec<Reference> {
        self.cases
            .iter()
            .chain(self.event_changes.iter().map(|(_, c)| c))
            .flat_map(|c| c.references.iter().cloned())
            .chain(self.events.iter().filter_map(|e| e.case_ref.clone()))
            .collect()
    }
}

/// An idempotency key, the hash of the request body that claims it, and the claiming
/// request's own token: only that request's release lets the claim go.
#[derive(Debug, Clone)]
pub struct KeyClaim {
    pub scope: String,
    pub key: String,
    pub request_hash: String,
    pub claimed_by: String,
}

/// What committing found.
#[derive(Debug, Default)]
pub struct Committed {
    /// Per event of the commit: true when it was new, false for a duplicate.
    pub events_new: Vec<bool>,
    /// Whether the commit's [`Commit::claims`] took its key: `false` when a request held it.
    pub claimed: bool,
}

/// Now, as the store writes times: RFC 3339 in UTC with all nine digits of the second's
/// fraction, so that two times compare as their text does (`ORDER BY received_at`, "older
/// than" cutoffs). The shortest form RFC 3339 allows drops trailing zeros, and `…05.4Z` then
/// sorts after `…05.45Z`.
pub fn now() -> String {
    stored_time(time::OffsetDateTime::now_utc())
}

/// `at` as the store writes times: UTC, all nine digits of the second's fraction, so that
/// times compare as text as they do in time.
pub(crate) fn stored_time(at: time::OffsetDateTime) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z"
    );
    at.to_offset(time::UtcOffset::UTC)
        .format(FORMAT)
        .unwrap_or_default()
}

/// Queues `refs` for the waiting events' applier, and wakes it.
fn note_waiting(queue: &std::sync::Mutex<Vec<Reference>>, wake: &tokio::sync::Notify, refs: Vec<Reference>) {
    queue.lock().unwrap_or_else(|e| e.into_inner()).extend(refs);
    wake.notify_one();
}

/// Remembers in `failing` whether a commit's `result` says the store could not write.
fn note<T>(failing: &std::sync::atomic::AtomicBool, result: &Result<T>) {
    let failed = matches!(result, Err(e) if e.is_transient() || matches!(e, StoreError::Closed));
    failing.store(failed, std::sync::atomic::Ordering::Relaxed);
}

/// [`now`] moved by `by`: the bounds of "older than" in the store's RFC 3339 text.
pub fn now_minus(by: std::time::Duration) -> String {
    shifted(-(by.as_millis() as i64))
}

pub fn now_plus(by: std::time::Duration) -> String {
    shifted(by.as_millis() as i64)
}

fn shifted(millis: i64) -> String {
    stored_time(time::OffsetDateTime::now_utc() + time::Duration::milliseconds(millis))
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

/// The one serving host a SQLite store may have: an exclusive lock on the file `FILE.host-lock`
/// beside the database, held while the returned file is open (the kernel lets it go when the
/// process ends, however it ends). A second `panelgate serve` on the same file would otherwise
/// take the first one's running operations for operations a stop cut off, and mark them in
/// doubt. `None` on PostgreSQL, which several hosts share.
pub fn lock_sole_host(url: &str) -> Result<Option<std::fs::File>> {
    let path = url.strip_prefix("sqlite://").unwrap_or_default();
    let path = path.split('?').next().unwrap_or_default();
    // No file to lock (PostgreSQL, or a URL `Store::open` refuses, naming what is wrong).
    if Backend::of(url)? != Backend::Sqlite
        || path.is_empty()
        || url.contains(":memory:")
        || url.contains("mode=memory")
    {
        return Ok(None);
    }
    let database = SqliteConnectOptions::from_str(url)?.get_filename().to_path_buf();
    if let Some(dir) = database.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let mut name = database.into_os_string();
    name.push(".host-lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&name)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Io(std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            format!(
                "another panelgate host serves this store ({} is locked): a SQLite store has one host; PostgreSQL serves several",
                std::path::Path::new(&name).display()
            ),
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Io(e)),
    }
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
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;"
                    }
                    crate::config::Durability::Normal => {
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864; \
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
        let checkpointer = match sqlite {
            Some((file, pragmas)) => {
                let wal = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
                sqlite::start(&file, pragmas, writer.turn.clone(), queue, wal.clone())?;
                Some(sqlite::start_checkpointer(&file, pragmas, wal)?)
            }
            None => {
                drop(tokio::spawn(writer.clone().run(queue)));
                None
            }
        };
        Ok(Store {
            pool,
            writer,
            jobs,
            commit_time: None,
            failing: Default::default(),
            new_events: Default::default(),
            waiting_events: Default::default(),
            waiting_refs: Default::default(),
            _checkpointer: checkpointer,
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

    /// Writes everything an operation learned, atomically. Commits arriving together share one
    /// transaction (a group commit: one sync to disk for the lot); each caller's answer waits
    /// until the transaction holding its commit is durable.
    pub async fn commit(&self, commit: Commit) -> Result<Committed> {
        let started = std::time::Instant::now();
        let refs = commit.waiting_refs();
        let (done, answer) = tokio::sync::oneshot::channel();
        self.send(Job {
            commit,
            alone: false,
            done,
            then: None,
        })?;
        let committed = answer.await.map_err(|_| StoreError::Closed)?;
        if let Some(histogram) = &self.commit_time {
            histogram.observe(started.elapsed().as_secs_f64());
        }
        self.note(&committed);
        if let Ok(c) = &committed {
            if c.events_new.iter().any(|new| *new) {
                self.new_events.notify_one();
            }
            if !refs.is_empty() {
                note_waiting(&self.waiting_refs, &self.waiting_events, refs);
            }
        }
        committed
    }

    /// [`Store::commit`] for a read-only operation's record (its journal entries): handed to the
    /// group commit and not waited for. The caller answers at once; the entries are lost only if
    /// the host dies before the group holding them commits (docs/operating.md, "Durability by
    /// operation class"). A failure is logged and counted as a failed commit (`/readyz` then
    /// probes the store), and [`Store::failing`] tells the caller to wait instead meanwhile.
    pub fn commit_queued(&self, commit: Commit) -> Result<()> {
        let started = std::time::Instant::now();
        let (histogram, failing, new_events) = (
            self.commit_time.clone(),
            self.failing.clone(),
            self.new_events.clone(),
        );
        let refs = commit.waiting_refs();
        let waiting =
            (!refs.is_empty()).then(|| (self.waiting_refs.clone(), self.waiting_events.clone(), refs));
        // Run by the writer before any later commit is answered: a flush after this call finds
        // it counted (the metrics' scrape flushes first).
        let then = move |committed: &Result<Committed>| {
            if let Some(histogram) = &histogram {
                histogram.observe(started.elapsed().as_secs_f64());
            }
            note(&failing, committed);
            match committed {
                Ok(c) => {
                    if c.events_new.iter().any(|new| *new) {
                        new_events.notify_one();
                    }
                    if let Some((queue, wake, refs)) = &waiting {
                        note_waiting(queue, wake, refs.clone());
                    }
                }
                Err(e) => tracing::error!(
                    "a read-only operation's journal entries were not committed (its answer was sent): {e}"
                ),
            }
        };
        // Nobody waits for the answer: the receiver is dropped, and the writer's send fails.
        let (done, _) = tokio::sync::oneshot::channel();
        self.send(Job {
            commit,
            alone: false,
            done,
            then: Some(Box::new(then)),
        })
    }

    /// Whether the last commit failed: read-only operations then wait for their commit, so that
    /// the portal hears `503 store_unavailable` rather than an answer whose record is lost.
    pub fn failing(&self) -> bool {
        self.failing.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits until every commit handed to the group commit before this call is written (or
    /// failed): what reads of the journal do first, so that a read-only operation's entries,
    /// committed after its answer, are there for whoever read its answer.
    pub async fn flush(&self) -> Result<()> {
        // The queue is first in, first out, and each batch is written before the next is taken:
        // an empty commit's answer comes after every earlier commit's.
        let (done, answer) = tokio::sync::oneshot::channel();
        self.send(Job {
            commit: Commit::default(),
            alone: false,
            done,
            then: None,
        })?;
        answer.await.map_err(|_| StoreError::Closed)?.map(drop)
    }

    /// Notified when a commit of this host stores a new event.
    pub fn new_events(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.new_events.clone()
    }

    /// Notified when a commit of this host gives a case a partner reference or stores an event
    /// waiting for one: [`Store::unapplied_events`] may then find one to apply.
    pub fn waiting_events(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.waiting_events.clone()
    }

    /// The references such commits named since the last call, each once.
    pub fn take_waiting_refs(&self) -> Vec<Reference> {
        let mut refs = std::mem::take(&mut *self.waiting_refs.lock().unwrap_or_else(|e| e.into_inner()));
        refs.sort_by(|a, b| (&a.kind, &a.value).cmp(&(&b.kind, &b.value)));
        refs.dedup_by(|a, b| a.kind == b.kind && a.value == b.value);
        refs
    }

    /// Remembers whether the store could write, for [`Store::writable`].
    fn note<T>(&self, result: &Result<T>) {
        note(&self.failing, result);
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
            then: None,
        })?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    fn send(&self, job: Job) -> Result<()> {
        self.jobs.send(job).map_err(|_| StoreError::Closed)
    }

    /// Registers a module; `false` when one with the same hash was already there.
    /// Registers a module with a verified signature of it, in one transaction: a second push
    /// of the same bytes adds its signature. `Ok(true)`: the module is new.
    pub async fn register_module(
        &self,
        info: &ModuleInfo,
        bytes: &[u8],
        signature: Option<&ModuleSignature>,
    ) -> Result<bool> {
        let _turn = self.turn().await;
        let mut tx = self.begin_ordered().await?;
        let created = registry::insert_module(&mut tx, info, bytes, signature).await?;
        tx.commit().await?;
        Ok(created)
    }

    pub async fn module_signatures(&self, hash: &str) -> Result<Vec<ModuleSignature>> {
        registry::module_signatures(&self.pool, hash).await
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

    /// The module first pulled by `origin`, an OCI reference pinned by digest.
    pub async fn module_by_origin(&self, origin: &str) -> Result<Option<ModuleInfo>> {
        registry::module_by_origin(&self.pool, origin).await
    }

    pub async fn modules(&self) -> Result<Vec<ModuleInfo>> {
        registry::modules(&self.pool).await
    }

    /// Every module registered under adapter `name`.
    pub async fn modules_named(&self, name: &str) -> Result<Vec<ModuleInfo>> {
        Ok(registry::modules(&self.pool)
            .await?
            .into_iter()
            .filter(|m| m.name == name)
            .collect())
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
        signed: Option<&ModuleSignature>,
        origin: Option<&str>,
        journal: JournalEntry,
    ) -> Result<()> {
        let _turn = self.turn().await;
        let mut tx = self.begin_ordered().await?;
        registry::deploy(&mut tx, panel, module, action, signed, origin).await?;
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
        let filter = JournalFilter {
            panel: panel.map(str::to_string),
            ..JournalFilter::default()
        };
        self.flush().await?;
        journal::list(&self.pool, &filter, limit, before).await
    }

    /// The newest entries matching `filter`, newest first.
    pub async fn journal_filtered(
        &self,
        filter: &JournalFilter,
        limit: i64,
        before: Option<i64>,
    ) -> Result<Vec<JournalRow>> {
        self.flush().await?;
        journal::list(&self.pool, filter, limit, before).await
    }

    /// One entry, the partner exchanges it made and what was journaled about it since (a
    /// reconciliation's status refresh, a settlement).
    pub async fn journal_entry(&self, id: &str) -> Result<Option<journal::EntryDetail>> {
        self.flush().await?;
        journal::entry(&self.pool, id).await
    }

    /// The panel's last `limit` portal operations, oldest first, each with its partner exchanges.
    pub async fn recent_operations(
        &self,
        panel: &str,
        limit: i64,
    ) -> Result<Vec<(JournalRow, Vec<JournalRow>)>> {
        self.flush().await?;
        journal::operations(&self.pool, panel, limit).await
    }

    /// Checks the journal's hash chain; the first broken entry's id, if any.
    pub async fn verify_journal(&self) -> Result<Option<String>> {
        self.flush().await?;
        journal::verify(&self.pool).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One serving host per SQLite file: a second lock on it is refused while the first is held
    /// and taken once it is let go; PostgreSQL and the URLs `Store::open` refuses take none.
    #[test]
    fn a_sqlite_store_is_locked_for_one_host() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let first = lock_sole_host(&url).unwrap().expect("a lock on the file");
        let refused = lock_sole_host(&url).unwrap_err().to_string();
        assert!(
            refused.contains("another panelgate host serves this store"),
            "{refused}"
        );
        drop(first);
        assert!(lock_sole_host(&url).unwrap().is_some());
        for url in ["postgres://u@127.0.0.1/db", "sqlite://", "sqlite://:memory:"] {
            assert!(lock_sole_host(url).unwrap().is_none(), "{url}");
        }
    }

    /// Times the store writes sort as text as they do in time, and read back as RFC 3339.
    #[test]
    fn stored_times_sort_as_text_as_in_time() {
        let second = time::macros::datetime!(2026-12-07 10:00:05 UTC);
        let times: Vec<String> = [0, 400, 450, 999]
            .into_iter()
            .map(|millis| stored_time(second + time::Duration::milliseconds(millis)))
            .collect();
        let mut sorted = times.clone();
        sorted.sort();
        assert_eq!(sorted, times);
        assert_eq!(times[1], "2026-12-07T10:00:05.400000000Z");
        for text in &times {
            let read =
                time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap();
            assert_eq!(stored_time(read), *text);
        }
    }
}
