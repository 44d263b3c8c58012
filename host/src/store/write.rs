//! What a group commit writes, as a list of statements with their arguments: built once here,
//! run by sqlx on PostgreSQL ([`run_sqlx`]) and in process by the SQLite writer thread
//! (`super::sqlite`). The SQL names its parameters `$1`, `$2`, ...: both bind `$N` to the N-th
//! argument.

use std::borrow::Cow;

use super::journal::JournalEntry;
use super::{Commit, Committed, Result, StoreError, enum_str, json_text, now};
use crate::model::CaseStatus;

/// A bound value. A null keeps its type: PostgreSQL checks it against the column's.
#[derive(Debug)]
pub(super) enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Blob(Vec<u8>),
}

impl From<String> for Arg {
    fn from(value: String) -> Arg {
        Arg::Text(Some(value))
    }
}

impl From<&str> for Arg {
    fn from(value: &str) -> Arg {
        Arg::Text(Some(value.to_string()))
    }
}

impl From<&String> for Arg {
    fn from(value: &String) -> Arg {
        Arg::Text(Some(value.clone()))
    }
}

impl From<Option<String>> for Arg {
    fn from(value: Option<String>) -> Arg {
        Arg::Text(value)
    }
}

impl From<&Option<String>> for Arg {
    fn from(value: &Option<String>) -> Arg {
        Arg::Text(value.clone())
    }
}

impl From<Option<&str>> for Arg {
    fn from(value: Option<&str>) -> Arg {
        Arg::Text(value.map(str::to_string))
    }
}

impl From<i64> for Arg {
    fn from(value: i64) -> Arg {
        Arg::Int(Some(value))
    }
}

impl From<Option<i64>> for Arg {
    fn from(value: Option<i64>) -> Arg {
        Arg::Int(value)
    }
}

impl From<Vec<u8>> for Arg {
    fn from(value: Vec<u8>) -> Arg {
        Arg::Blob(value)
    }
}

/// What a statement's count of changed rows must show.
#[derive(Debug)]
pub(super) enum Expect {
    /// Anything.
    Any,
    /// At least one row, else the in-flight record with this journal id was settled first (by
    /// another host's recovery).
    Unsettled(String),
    /// At least one row, else the case with this id does not exist.
    Case(String),
    /// At least one row, else the case with this id moved since it was read.
    Unmoved(String),
    /// An event: one row when it is new, none for a duplicate, and then the statements of the
    /// case changes it makes (this many, right after it) are skipped: a fact delivered to two
    /// hosts at once is applied once, by whichever stored it.
    Event { applies: usize },
    /// An idempotency key's claim: one row when it took the key, none when a request held it.
    Claim,
}

impl Expect {
    /// Checks a statement's count of changed rows into `committed`: how many of the statements
    /// after it must not run ([`usize::MAX`]: the rest of its commit, when its claim found the
    /// key held, so that it writes nothing).
    pub(super) fn check(&self, rows: u64, committed: &mut Committed) -> Result<usize> {
        match self {
            Expect::Any => {}
            Expect::Unsettled(id) if rows == 0 => return Err(StoreError::Settled(id.clone())),
            Expect::Case(id) if rows == 0 => return Err(StoreError::NoCase(id.clone())),
            Expect::Unmoved(id) if rows == 0 => return Err(StoreError::CaseChanged(id.clone())),
            Expect::Unsettled(_) | Expect::Case(_) | Expect::Unmoved(_) => {}
            Expect::Event { applies } => {
                committed.events_new.push(rows == 1);
                if rows == 0 {
                    return Ok(*applies);
                }
            }
            Expect::Claim => {
                committed.claimed = rows == 1;
                return Ok(if committed.claimed { 0 } else { usize::MAX });
            }
        }
        Ok(0)
    }
}

#[derive(Debug)]
pub(super) struct Statement {
    pub sql: Cow<'static, str>,
    /// PostgreSQL's own text of the statement, where the two dialects differ (JSON).
    pub postgres_sql: Option<&'static str>,
    pub args: Vec<Arg>,
    pub expect: Expect,
}

impl Statement {
    pub(super) fn new(sql: impl Into<Cow<'static, str>>, args: Vec<Arg>) -> Statement {
        Statement {
            sql: sql.into(),
            postgres_sql: None,
            args,
            expect: Expect::Any,
        }
    }

    /// A statement written in each dialect: SQLite's `sqlite`, PostgreSQL's `postgres`.
    fn dialects(sqlite: &'static str, postgres: &'static str, args: Vec<Arg>) -> Statement {
        Statement {
            postgres_sql: Some(postgres),
            ..Statement::new(sqlite, args)
        }
    }

    fn expecting(self, expect: Expect) -> Statement {
        Statement { expect, ..self }
    }
}

/// `Vec<Arg>` from values of mixed types.
macro_rules! args {
    ($($value:expr),* $(,)?) => { vec![$(Arg::from($value)),*] };
}
pub(super) use args;

/// SQL for whether the case `$case` (a parameter, `$N`) holds news learnt after `$learnt` (Unix
/// milliseconds): a history entry learnt later, an `unknown` status being no news. A macro so
/// that the statements using it are built once, at compile time.
macro_rules! later_news {
    ($case:literal, $learnt:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM case_history h WHERE h.case_id = ",
            $case,
            " AND h.status <> 'unknown' AND h.learnt_ms > ",
            $learnt,
            ")"
        )
    };
}

/// A batch of commits made statements: each commit's own, then the journal entries of the
/// commits written, which go in last as one append ([`Plan::entries`]).
pub(super) struct Plan<'a> {
    pub commits: Vec<Vec<Statement>>,
    sources: &'a [&'a Commit],
    /// The time of each commit.
    at: Vec<String>,
}

impl<'a> Plan<'a> {
    pub(super) fn of(commits: &'a [&'a Commit]) -> Result<Plan<'a>> {
        let mut plan = Plan {
            commits: Vec::with_capacity(commits.len()),
            sources: commits,
            at: Vec::with_capacity(commits.len()),
        };
        for commit in commits {
            let at = now();
            plan.commits.push(statements(commit, &at)?);
            plan.at.push(at);
        }
        Ok(plan)
    }

    /// Every journal entry of the commits written, given what running their statements found
    /// (`results`, one per commit), in order, each with the time of its commit. A commit whose
    /// claim found its key held wrote nothing, and appends nothing; nor does a commit applying a
    /// waiting event that another commit applied first.
    pub(super) fn entries(&self, results: &[Committed]) -> Vec<(&'a JournalEntry, String)> {
        debug_assert_eq!(results.len(), self.sources.len(), "a result per commit");
        self.sources
            .iter()
            .zip(&self.at)
            .zip(results)
            .filter(|((commit, _), result)| commit.claims.is_none() || result.claimed)
            .filter(|((commit, _), result)| {
                commit.applies_event.is_none() || result.events_new.first() == Some(&true)
            })
            .flat_map(|((commit, at), _)| commit.journal.iter().map(|entry| (entry, at.clone())))
            .collect()
    }
}

/// The statements that write `commit` at time `at`, all but its journal entries, in order. A
/// claim comes first: when it finds its key held, the runners stop there ([`Expect::check`]),
/// so that nothing of the commit is written.
fn statements(commit: &Commit, at: &str) -> Result<Vec<Statement>> {
    let mut out = Vec::new();
    if let Some((case_id, read_at)) = commit
        .applies_event
        .as_ref()
        .and_then(|a| a.unless_moved.as_ref())
    {
        out.push(
            Statement::new(
                "UPDATE cases SET updated_at = updated_at WHERE id = $1 AND updated_at = $2",
                args![case_id, read_at],
            )
            .expecting(Expect::Unmoved(case_id.clone())),
        );
    }
    if let Some(claim) = &commit.claims {
        out.push(
            Statement::new(
                "INSERT INTO idempotency (scope, key, request_hash, state, created_at, claimed_by) VALUES ($1, $2, $3, 'running', $4, $5)
                 ON CONFLICT (scope, key) DO NOTHING",
                args![&claim.scope, &claim.key, &claim.request_hash, at, &claim.claimed_by],
            )
            .expecting(Expect::Claim),
        );
    }
    if let Some(op) = &commit.begins {
        let (scope, key) = op.idempotency.clone().unzip();
        out.push(Statement::new(
            "INSERT INTO pending (journal_id, panel, operation, case_id, opens, idem_scope, idem_key, request, started_at, state)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'running')",
            args![
                &op.journal_id,
                &op.panel,
                &op.operation,
                &op.case_id,
                op.opens.as_ref().map(|o| o.to_string()),
                scope,
                key,
                op.request.get(),
                &op.started_at,
            ],
        ));
    }
    if let Some(journal_id) = &commit.settles {
        // First: when the operation was marked in doubt meanwhile (a sweep reached its record
        // while a store fault held this outcome back), nothing of this commit is written, and
        // the outcome settles the doubt instead (`AppState::settle_with_outcome`).
        out.push(
            Statement::new(
                "DELETE FROM pending WHERE journal_id = $1 AND state = 'running'",
                args![journal_id],
            )
            .expecting(Expect::Unsettled(journal_id.clone())),
        );
    }
    if let Some(journal_id) = &commit.marks_unknown {
        // Another host settled it first: nothing of this commit is written.
        out.push(
            Statement::new(
                "UPDATE pending SET state = 'unknown', recovered_at = $1 WHERE journal_id = $2 AND state = 'running'",
                args![at, journal_id],
            )
            .expecting(Expect::Unsettled(journal_id.clone())),
        );
    }
    for change in &commit.cases {
        case_change(change, at, &mut out)?;
    }
    for (index, event) in commit.events.iter().enumerate() {
        let mut applies = Vec::new();
        for (_, change) in commit.event_changes.iter().filter(|(of, _)| *of == index) {
            case_change(change, at, &mut applies)?;
        }
        if let Some(applied) = commit.applies_event.as_ref().filter(|_| index == 0) {
            applies.push(Statement::new(
                "UPDATE events SET ref_kind = NULL, ref_value = NULL, flagged = $1 WHERE id = $2",
                args![&applied.flag, &applied.event_id],
            ));
        }
        out.push(
            Statement::new(
                // An event learnt before its case's newest news says no status: it did not set it.
                concat!(
                    "INSERT INTO events (id, panel, case_id, kind, dedup_key, status, payload, flagged, created_at, ref_kind, ref_value, learnt_ms)
                     VALUES ($1, $2, $3, $4, $5, CASE WHEN $12 IS NOT NULL AND ",
                    later_news!("$3", "$12"),
                    " THEN NULL ELSE $6 END, $7, $8, $9, $10, $11, $12) ON CONFLICT (panel, dedup_key) DO NOTHING"
                ),
                args![
                    uuid::Uuid::now_v7().to_string(),
                    &event.panel,
                    &event.case_id,
                    &event.kind,
                    &event.dedup_key,
                    event.status.as_ref().map(enum_str),
                    event.payload.to_string(),
                    &event.flagged,
                    at,
                    event.case_ref.as_ref().map(|r| r.kind.clone()),
                    event.case_ref.as_ref().map(|r| r.value.clone()),
                    event.learnt_ms,
                ],
            )
            .expecting(Expect::Event {
                applies: applies.len(),
            }),
        );
        out.append(&mut applies);
    }
    for a in &commit.attachments {
        // Its id is its event's identity: a repeat of the event (one from another host, racing
        // this one) repeats the attachment, and is kept once, as the event is.
        out.push(Statement::new(
            "INSERT INTO attachments (id, event_id, filename, content_type, sha256, data, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (id) DO NOTHING",
            args![
                &a.id,
                &a.event_id,
                &a.filename,
                &a.content_type,
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&a.data)),
                a.data.clone(),
                at,
            ],
        ));
    }
    if let Some(cb) = &commit.callback {
        out.push(Statement::new(
            "INSERT INTO callbacks (id, panel, path, received_at, headers, body, parsed, reply_status, flagged) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            args![
                &cb.id,
                &cb.panel,
                &cb.path,
                at,
                cb.headers.to_string(),
                cb.body.clone(),
                cb.parsed.as_ref().map(|p| p.to_string()),
                cb.reply_status.map(i64::from),
                &cb.flagged,
            ],
        ));
    }
    if let Some(settled) = &commit.settles_unknown {
        // Settled once: by reconciliation or by an operator, whichever comes first.
        out.push(
            Statement::new(
                "DELETE FROM pending WHERE journal_id = $1 AND state = 'unknown'",
                args![&settled.journal_id],
            )
            .expecting(Expect::Unsettled(settled.journal_id.clone())),
        );
        match &settled.key {
            Some(super::SettledKey {
                scope,
                key,
                answer: Some((status, body)),
            }) => out.push(Statement::new(
                "UPDATE idempotency SET state = 'done', status = $1, body = $2 WHERE scope = $3 AND key = $4",
                args![i64::from(*status), body, scope, key],
            )),
            Some(super::SettledKey {
                scope,
                key,
                answer: None,
            }) => out.push(Statement::new(
                "DELETE FROM idempotency WHERE scope = $1 AND key = $2",
                args![scope, key],
            )),
            None => {}
        }
    }
    if commit.probe {
        // Writes that change nothing but need what an operation's commit needs: SQLite's write
        // lock, and PostgreSQL's row-exclusive lock on each table an outcome writes (the
        // journal's only by appending, which the probe leaves alone).
        for sql in [
            "DELETE FROM pending WHERE journal_id = ''",
            "DELETE FROM idempotency WHERE scope = '' AND key = ''",
            "DELETE FROM case_history WHERE case_id = ''",
            "DELETE FROM cases WHERE id = ''",
            "DELETE FROM events WHERE id = ''",
        ] {
            out.push(Statement::new(sql, vec![]));
        }
    }
    if let Some(claim) = &commit.releases {
        out.push(Statement::new(
            "DELETE FROM idempotency WHERE scope = $1 AND key = $2 AND state = 'running' AND claimed_by = $3",
            args![&claim.scope, &claim.key, &claim.claimed_by],
        ));
    }
    if let Some((scope, key, status, body)) = &commit.idempotent_response {
        out.push(Statement::new(
            "UPDATE idempotency SET state = 'done', status = $1, body = $2 WHERE scope = $3 AND key = $4",
            args![i64::from(*status), body, scope, key],
        ));
    }
    Ok(out)
}

fn case_change(change: &super::CaseChange, at: &str, out: &mut Vec<Statement>) -> Result<()> {
    if let Some((panel, kind, product, parent)) = &change.create {
        out.push(Statement::new(
            "INSERT INTO cases (id, panel, kind, status, product, parent, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            args![
                &change.case_id,
                panel,
                enum_str(kind),
                enum_str(&change.status.unwrap_or(CaseStatus::Submitted)),
                product,
                parent,
                at,
                at,
            ],
        ));
    }
    // One statement for every column the change sets; `updated_at` moves with the status or
    // the policy, as a portal reads it. When the case holds news learnt after this change's (a
    // callback received while the operation that brings this change was under way, say), the
    // change sets no status, policy, message or terms: the history's newest news wins, not the
    // last commit. Requirements are what the host knows was sent (a document received): set.
    let status = change.status.as_ref().map(enum_str);
    let learnt = change
        .learnt_ms
        .or_else(|| learnt_ms(&change.source))
        .unwrap_or_else(|| ms_of(at));
    out.push(
        Statement::new(
            concat!(
                "UPDATE cases SET status = CASE WHEN ",
                later_news!("$7", "$8"),
                " THEN status ELSE COALESCE($1, status) END,
                     policy = CASE WHEN ",
                later_news!("$7", "$8"),
                " THEN policy ELSE COALESCE($2, policy) END,
                     requirements = COALESCE($3, requirements),
                     message = CASE WHEN ",
                later_news!("$7", "$8"),
                " THEN message ELSE COALESCE($4, message) END,
                     terms = CASE WHEN ",
                later_news!("$7", "$8"),
                " THEN terms ELSE COALESCE($5, terms) END,
                     updated_at = CASE WHEN ",
                later_news!("$7", "$8"),
                " OR ($1 IS NULL AND $2 IS NULL) THEN updated_at ELSE $6 END
                 WHERE id = $7"
            ),
            args![
                status.clone(),
                json_text(change.policy.as_ref())?,
                json_text(change.requirements.as_ref())?,
                &change.message,
                json_text(change.terms.as_ref())?,
                at,
                &change.case_id,
                learnt,
            ],
        )
        .expecting(Expect::Case(change.case_id.clone())),
    );
    if !change.requirement_marks.is_empty() {
        // Each mark moves a requirement still `requested` when this is written (by its code),
        // whatever else another commit marked meanwhile; the order is kept.
        let marks = json_text(Some(&change.requirement_marks))?;
        out.push(Statement::dialects(
            "UPDATE cases SET requirements = (
                 SELECT json_group_array(json(COALESCE(
                     (SELECT json_set(r.value, '$.status', json_extract(m.value, '$[1]'))
                        FROM json_each($2) m
                       WHERE json_extract(m.value, '$[0]') = json_extract(r.value, '$.code')
                         AND json_extract(r.value, '$.status') = 'requested'),
                     r.value)))
                   FROM json_each(cases.requirements) r)
             WHERE id = $1",
            "UPDATE cases SET requirements = COALESCE((
                 SELECT jsonb_agg(COALESCE(
                     (SELECT jsonb_set(r.value, '{status}', m.value -> 1)
                        FROM jsonb_array_elements($2::jsonb) m
                       WHERE m.value ->> 0 = r.value ->> 'code' AND r.value ->> 'status' = 'requested'
                       LIMIT 1),
                     r.value) ORDER BY r.ordinality)
                   FROM jsonb_array_elements(cases.requirements::jsonb) WITH ORDINALITY AS r(value, ordinality)),
                 '[]'::jsonb)::text
             WHERE id = $1",
            args![&change.case_id, marks],
        ));
    }
    if let Some(status) = status {
        out.push(Statement::new(
            concat!(
                "INSERT INTO case_history (case_id, at, status, source, journal_id, learnt_ms)
                 SELECT $1, $2, $3, $4, $5, $6 WHERE NOT ",
                later_news!("$1", "$6")
            ),
            args![
                &change.case_id,
                at,
                status,
                &change.source,
                change.source.split_once(':').map(|(_, id)| id),
                learnt,
            ],
        ));
    }
    for reference in &change.references {
        // The reference is the case's panel's, whatever panel the change came through.
        out.push(Statement::new(
            "INSERT INTO case_references (panel, kind, value, case_id)
             SELECT panel, $1, $2, id FROM cases WHERE id = $3 ON CONFLICT DO NOTHING",
            args![&reference.kind, &reference.value, &change.case_id],
        ));
    }
    Ok(())
}

/// When the news a change brings was learnt, from its source (Unix milliseconds), when the
/// change does not say ([`super::CaseChange::learnt_ms`]: an operation's answer, after its last
/// request was sent; an event applied late, when it was received): an operation's (`operation:`,
/// `settled:` its outcome kept) when it was asked for, a callback's (`callback:`) when it was
/// received, as their ids (UUIDv7s) carry the time. `None` for any other source: then it is
/// learnt as it is written.
pub fn learnt_ms(source: &str) -> Option<i64> {
    let (kind, id) = source.split_once(':')?;
    if !matches!(kind, "operation" | "settled" | "callback") {
        return None;
    }
    let (seconds, nanos) = uuid::Uuid::parse_str(id).ok()?.get_timestamp()?.to_unix();
    Some(i64::try_from(seconds).ok()? * 1000 + i64::from(nanos / 1_000_000))
}

/// An RFC 3339 time (as [`now`] writes it) in Unix milliseconds.
pub fn ms_of(rfc3339: &str) -> i64 {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .unwrap_or_default()
}

/// Runs `statements` in `tx`, checking each one's count of changed rows into `committed`; skips
/// what a check says must not run.
pub(super) async fn run_sqlx(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    statements: &[Statement],
    committed: &mut Committed,
) -> Result<()> {
    let mut skip = 0;
    for statement in statements {
        if skip > 0 {
            skip -= 1;
            continue;
        }
        let mut query = sqlx::query(statement.postgres_sql.unwrap_or(&statement.sql));
        for arg in &statement.args {
            query = match arg {
                Arg::Text(text) => query.bind(text.as_deref()),
                Arg::Int(int) => query.bind(*int),
                Arg::Blob(bytes) => query.bind(bytes.as_slice()),
            };
        }
        let rows = query.execute(&mut **tx).await?.rows_affected();
        skip = statement.expect.check(rows, committed)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::model::{CaseKind, CaseStatus, Reference};
    use crate::store::{AppliedEvent, CaseChange, Commit, JournalEntry, NewEvent, Store, StoreError};

    /// One fact delivered to two hosts at once: each plans it as new, the store takes the first
    /// and skips the second's event, and with it the case change it makes. The case moves once,
    /// with one history entry, and the second delivery's different content does not overwrite
    /// it; what else the second commit carries is written.
    #[tokio::test]
    async fn a_fact_stored_by_another_commit_first_moves_its_case_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::open(&url, crate::config::Durability::Full).await.unwrap();
        store
            .commit(Commit {
                cases: vec![CaseChange {
                    case_id: "case-1".into(),
                    create: Some(("A03".into(), CaseKind::Policy, None, None)),
                    status: Some(CaseStatus::Submitted),
                    source: "accept".into(),
                    ..CaseChange::default()
                }],
                ..Commit::default()
            })
            .await
            .unwrap();
        let delivery = |status, message: &str, note: &str| Commit {
            events: vec![
                NewEvent {
                    panel: "A03".into(),
                    case_id: Some("case-1".into()),
                    kind: "underwriting_decision".into(),
                    dedup_key: "decision:1".into(),
                    status: Some(status),
                    payload: serde_json::json!({ "message": message }),
                    flagged: None,
                    case_ref: None,
                    learnt_ms: None,
                },
                NewEvent {
                    panel: "A03".into(),
                    case_id: None,
                    kind: "note".into(),
                    dedup_key: note.into(),
                    status: None,
                    payload: serde_json::json!({}),
                    flagged: None,
                    case_ref: None,
                    learnt_ms: None,
                },
            ],
            event_changes: vec![(
                0,
                CaseChange {
                    case_id: "case-1".into(),
                    status: Some(status),
                    message: Some(message.into()),
                    source: "callback".into(),
                    ..CaseChange::default()
                },
            )],
            ..Commit::default()
        };
        let first = store
            .commit(delivery(CaseStatus::Offered, "first", "note:1"))
            .await
            .unwrap();
        assert_eq!(first.events_new, [true, true]);
        let second = store
            .commit(delivery(CaseStatus::Declined, "second", "note:2"))
            .await
            .unwrap();
        assert_eq!(second.events_new, [false, true]);
        let case = store.case("A03", "case-1").await.unwrap().unwrap();
        assert_eq!(case.status, CaseStatus::Offered);
        assert_eq!(case.message.as_deref(), Some("first"));
        let statuses: Vec<CaseStatus> = case.history.iter().map(|h| h.status).collect();
        assert_eq!(statuses, [CaseStatus::Submitted, CaseStatus::Offered]);
    }

    /// A waiting event is found by the reference a case gained, and applied once: a second
    /// commit applying it (another host's) writes nothing, not even its journal entry or the
    /// waiting event's flag; and a commit that decided on a case read before it moved writes
    /// nothing at all.
    #[tokio::test]
    async fn a_waiting_event_is_applied_once_and_never_on_a_case_that_moved() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::open(&url, crate::config::Durability::Full).await.unwrap();
        let loan = |value: &str| Reference {
            kind: "loan-id".into(),
            value: value.into(),
        };
        let waiting = |key: &str, value: &str| Commit {
            events: vec![NewEvent {
                panel: "A03".into(),
                case_id: None,
                kind: "underwriting_decision".into(),
                dedup_key: key.into(),
                status: Some(CaseStatus::Offered),
                payload: serde_json::json!({}),
                flagged: Some("no case yet".into()),
                case_ref: Some(loan(value)),
                learnt_ms: None,
            }],
            ..Commit::default()
        };
        // The operation that opens the case is asked for before the partner's decisions come.
        let asked = format!("operation:{}", uuid::Uuid::now_v7());
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        store.commit(waiting("decision:1", "L-1")).await.unwrap();
        store.commit(waiting("decision:2", "L-1")).await.unwrap();
        store.commit(waiting("decision:3", "L-2")).await.unwrap();
        assert!(
            store.unapplied_events(None).await.unwrap().is_empty(),
            "no case has them"
        );
        store
            .commit(Commit {
                cases: vec![CaseChange {
                    case_id: "case-1".into(),
                    create: Some(("A03".into(), CaseKind::Policy, None, None)),
                    status: Some(CaseStatus::Submitted),
                    references: vec![loan("L-1")],
                    source: asked,
                    ..CaseChange::default()
                }],
                ..Commit::default()
            })
            .await
            .unwrap();
        let found = store.unapplied_events(Some(&[loan("L-1")])).await.unwrap();
        let keys: Vec<&str> = found.iter().map(|w| w.dedup_key.as_str()).collect();
        assert_eq!(keys, ["decision:1", "decision:2"]);
        assert!(found.iter().all(|w| w.case_id == "case-1"));
        assert!(
            store
                .unapplied_events(Some(&[loan("L-2")]))
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.unapplied_events(None).await.unwrap().len(), 2);

        let read = store.case("A03", "case-1").await.unwrap().unwrap();
        let apply = |event_id: &str, key: &str, flag: &str, read_at: &str| Commit {
            events: vec![NewEvent {
                panel: "A03".into(),
                case_id: Some("case-1".into()),
                kind: "underwriting_decision".into(),
                dedup_key: format!("applied:{key}"),
                status: Some(CaseStatus::Offered),
                payload: serde_json::json!({}),
                flagged: None,
                case_ref: None,
                learnt_ms: None,
            }],
            event_changes: vec![(
                0,
                CaseChange {
                    case_id: "case-1".into(),
                    status: Some(CaseStatus::Offered),
                    source: format!("applied:{event_id}"),
                    ..CaseChange::default()
                },
            )],
            applies_event: Some(AppliedEvent {
                event_id: event_id.into(),
                flag: flag.into(),
                unless_moved: Some(("case-1".into(), read_at.into())),
            }),
            journal: vec![JournalEntry {
                id: uuid::Uuid::now_v7().to_string(),
                panel: Some("A03".into()),
                operation: "handle-callback".into(),
                kind: "callback",
                case_id: Some("case-1".into()),
                outcome: flag.into(),
                detail: "{}".into(),
            }],
            ..Commit::default()
        };
        let first = apply(&found[0].id, "decision:1", "first", &read.updated_at);
        let second = apply(&found[0].id, "decision:1", "second", &read.updated_at);
        let first_entry = first.journal[0].id.clone();
        assert_eq!(store.commit(first).await.unwrap().events_new, [true]);
        // The second decided on the case as read before the first moved it.
        assert!(matches!(
            store.commit(second).await,
            Err(StoreError::CaseChanged(id)) if id == "case-1"
        ));
        // Read again, it finds the copy there already.
        let moved = store.case("A03", "case-1").await.unwrap().unwrap();
        let second = apply(&found[0].id, "decision:1", "second", &moved.updated_at);
        let second_entry = second.journal[0].id.clone();
        assert_eq!(store.commit(second).await.unwrap().events_new, [false]);
        assert!(store.journal_entry(&first_entry).await.unwrap().is_some());
        assert!(store.journal_entry(&second_entry).await.unwrap().is_none());
        let events = store.case_events("case-1").await.unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        let waited = store.unapplied_events(None).await.unwrap();
        assert_eq!(waited.len(), 1, "only decision:2 waits still");
        assert_eq!(waited[0].dedup_key, "decision:2");
        let case = store.case("A03", "case-1").await.unwrap().unwrap();
        let statuses: Vec<CaseStatus> = case.history.iter().map(|h| h.status).collect();
        assert_eq!(statuses, [CaseStatus::Submitted, CaseStatus::Offered]);
        let flag: Option<String> = sqlx::query_scalar("SELECT flagged FROM events WHERE id = $1")
            .bind(&found[0].id)
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(flag.as_deref(), Some("first"));
    }
}
