//! Reading what operations and callbacks stored: cases with their history and references, the
//! event feed, callbacks and attachments.

use serde::Serialize;
use sqlx::Row;

use super::{Result, Store, parse_enum, parse_json};
use crate::model::{CaseKind, CaseRef, CaseStatus, Policy, Reference, Requirement};

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
    /// Present when the case is shown as stored because asking its partner for news failed:
    /// why, and the journal entry of the attempt. Absent when the case was refreshed, or its
    /// adapter cannot ask.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale: Option<Staleness>,
    /// What the case was applied for: kept to complete the policy, not shown.
    #[serde(skip)]
    pub terms: Option<crate::core::terms::Terms>,
}

/// Why a case reads as stored rather than refreshed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Staleness {
    /// The refresh's error code, as an operation's error would carry it (`partner_unavailable`,
    /// `partner_timeout`, ...).
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub at: String,
    pub status: CaseStatus,
    pub source: String,
    pub journal_id: Option<String>,
    /// When its news was learnt (Unix milliseconds; `None` if a host older than the column
    /// wrote it, which then counts as no news): see `store::write`, a case's newest news.
    #[serde(skip)]
    pub learnt_ms: Option<i64>,
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

/// A callback as received: where, when, what the host answered and any flag (an unknown case,
/// a duplicate with another body, a path the adapter does not serve).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CallbackRow {
    pub id: String,
    pub path: String,
    pub received_at: String,
    pub reply_status: Option<i64>,
    pub flagged: Option<String>,
}

/// A callback's event stored before any case had the partner reference it names, and the case
/// that has it now (the newest, when several do).
#[derive(Debug, Clone)]
pub struct WaitingEvent {
    /// Its place in the feed.
    pub seq: i64,
    pub id: String,
    pub panel: String,
    pub kind: String,
    pub dedup_key: String,
    pub payload: String,
    pub created_at: String,
    /// When it was learnt (its callback received; `None` if stored before the store kept it).
    pub learnt_ms: Option<i64>,
    pub case_id: String,
}

impl Store {
    /// Events waiting for a case that a case now has the reference of, oldest first: those
    /// naming one of `refs`, or with `None` every one.
    pub async fn unapplied_events(&self, refs: Option<&[Reference]>) -> Result<Vec<WaitingEvent>> {
        let mut sql = String::from(
            "SELECT e.seq, e.id, e.panel, e.kind, e.dedup_key, e.payload, e.created_at, e.learnt_ms, r.case_id
             FROM events e
             JOIN case_references r ON r.panel = e.panel AND r.kind = e.ref_kind AND r.value = e.ref_value
             JOIN cases c ON c.id = r.case_id
             WHERE e.ref_kind IS NOT NULL",
        );
        if let Some(refs) = refs {
            if refs.is_empty() {
                return Ok(Vec::new());
            }
            let named: Vec<String> = (0..refs.len())
                .map(|i| format!("(e.ref_kind = ${} AND e.ref_value = ${})", 2 * i + 1, 2 * i + 2))
                .collect();
            sql.push_str(&format!(" AND ({})", named.join(" OR ")));
        }
        sql.push_str(" ORDER BY e.seq, c.created_at DESC");
        let mut query = sqlx::query(&sql);
        for reference in refs.unwrap_or_default() {
            query = query.bind(&reference.kind).bind(&reference.value);
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut waiting: Vec<WaitingEvent> = Vec::new();
        for r in rows {
            let id: String = r.get("id");
            if waiting.last().is_some_and(|w| w.id == id) {
                continue;
            }
            waiting.push(WaitingEvent {
                seq: r.get("seq"),
                id,
                panel: r.get("panel"),
                kind: r.get("kind"),
                dedup_key: r.get("dedup_key"),
                payload: r.get("payload"),
                created_at: r.get("created_at"),
                learnt_ms: r.get("learnt_ms"),
                case_id: r.get("case_id"),
            });
        }
        Ok(waiting)
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
            "SELECT at, status, source, journal_id, learnt_ms FROM case_history WHERE case_id = $1 ORDER BY seq",
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
                learnt_ms: r.get("learnt_ms"),
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
            stale: None,
            terms: row
                .get::<Option<String>, _>("terms")
                .map(|t| parse_json(&t))
                .transpose()?,
        }))
    }

    /// The case of `panel` that carries the partner reference `kind = value`.
    pub async fn case_by_reference(&self, panel: &str, reference: &Reference) -> Result<Option<Case>> {
        self.case_by_reference_but(panel, reference, None).await
    }

    /// [`Store::case_by_reference`] among the cases that are not of kind `but`: a policy by its
    /// loan id, say, which the claims on it may carry too.
    pub async fn case_by_reference_but(
        &self,
        panel: &str,
        reference: &Reference,
        but: Option<CaseKind>,
    ) -> Result<Option<Case>> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT r.case_id FROM case_references r JOIN cases c ON c.id = r.case_id
             WHERE r.panel = $1 AND r.kind = $2 AND r.value = $3 AND ($4 IS NULL OR c.kind <> $4)
             ORDER BY c.created_at DESC LIMIT 1",
        )
        .bind(panel)
        .bind(&reference.kind)
        .bind(&reference.value)
        .bind(but.as_ref().map(super::enum_str))
        .fetch_optional(&self.pool)
        .await?;
        match id {
            Some(id) => self.case(panel, &id).await,
            None => Ok(None),
        }
    }

    /// Cases matching every criterion given, newest first: the case id, a partner reference's
    /// value (of any kind: a loan id, a policy number, ...), the panel.
    pub async fn find_cases(
        &self,
        id: Option<&str>,
        reference: Option<&str>,
        panel: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Case>> {
        let rows = sqlx::query(
            "SELECT c.id, c.panel FROM cases c
             WHERE ($1 IS NULL OR c.id = $1)
               AND ($2 IS NULL OR EXISTS (SELECT 1 FROM case_references r WHERE r.case_id = c.id AND r.value = $2))
               AND ($3 IS NULL OR c.panel = $3)
             ORDER BY c.created_at DESC, c.id DESC LIMIT $4",
        )
        .bind(id)
        .bind(reference)
        .bind(panel)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut cases = Vec::with_capacity(rows.len());
        for row in rows {
            let (id, panel): (String, String) = (row.get("id"), row.get("panel"));
            if let Some(case) = self.case(&panel, &id).await? {
                cases.push(case);
            }
        }
        Ok(cases)
    }

    /// A case's events, oldest first.
    pub async fn case_events(&self, case_id: &str) -> Result<Vec<StoredEvent>> {
        let rows = sqlx::query("SELECT * FROM events WHERE case_id = $1 ORDER BY seq LIMIT 1000")
            .bind(case_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(event_of).collect()
    }

    /// Events after `cursor`, oldest first.
    pub async fn events_after(&self, cursor: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        sqlx::query("SELECT * FROM events WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(cursor)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|r| event_of(&r))
            .collect()
    }

    /// The event at feed position `seq`.
    pub async fn event_at(&self, seq: i64) -> Result<Option<StoredEvent>> {
        sqlx::query("SELECT * FROM events WHERE seq = $1")
            .bind(seq)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| event_of(&r))
            .transpose()
    }

    /// The feed's last position (0 when empty).
    pub async fn events_head(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events")
            .fetch_one(&self.pool)
            .await?)
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

    pub async fn attachment(&self, id: &str) -> Result<Option<(String, String, Vec<u8>)>> {
        let row = sqlx::query("SELECT filename, content_type, data FROM attachments WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| (r.get("filename"), r.get("content_type"), r.get("data"))))
    }

    /// A panel's newest `limit` callbacks, oldest first.
    pub async fn callbacks(&self, panel: &str, limit: i64) -> Result<Vec<CallbackRow>> {
        Ok(sqlx::query(
            "SELECT * FROM (SELECT id, path, received_at, reply_status, flagged FROM callbacks
             WHERE panel = $1 ORDER BY received_at DESC, id DESC LIMIT $2) newest ORDER BY received_at, id",
        )
        .bind(panel)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| CallbackRow {
            id: r.get("id"),
            path: r.get("path"),
            received_at: r.get("received_at"),
            reply_status: r.get("reply_status"),
            flagged: r.get("flagged"),
        })
        .collect())
    }
}

/// An `events` row as the feed serves it.
fn event_of(r: &sqlx::any::AnyRow) -> Result<StoredEvent> {
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
}
