//! Webhook subscriptions and their deliveries: each subscription's cursor over the feed, the
//! deliveries it made of the events past it, and the leases that keep two hosts from sending one
//! delivery at once. The worker that sends them is `core::webhooks`.

use serde::Serialize;
use sqlx::Row;

use super::{Backend, JournalEntry, Result, Store, StoredEvent, parse_json};

/// A subscription as stored, without its secret.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Subscription {
    pub id: String,
    /// The portal endpoint deliveries are posted to.
    pub url: String,
    /// Event kinds it receives; empty: every kind.
    pub kinds: Vec<String>,
    /// Panels whose events it receives; empty: every panel.
    pub panels: Vec<String>,
    pub description: Option<String>,
    /// `config` (kept as `[[webhooks.subscriptions]]` says) or `admin`.
    pub source: String,
    /// `enabled`, or `disabled` once a delivery was given up (see `disabled_reason`).
    pub state: String,
    pub disabled_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A subscription to create (or, from the config, to keep as given).
pub struct NewSubscription {
    pub id: String,
    pub url: String,
    pub kinds: Vec<String>,
    pub panels: Vec<String>,
    pub description: Option<String>,
    /// `whsec_<base64>`.
    pub secret: String,
    pub source: &'static str,
}

/// One event's delivery to one subscription, as the delivery log shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    /// The log's order (newest first); page back with `before`.
    pub seq: i64,
    /// The event's id: the delivery's `webhook-id`, the same on every attempt and replay.
    pub event_id: String,
    /// The event's feed cursor.
    pub event_cursor: String,
    pub case_id: Option<String>,
    /// `pending` (not acknowledged yet), `delivered` (the endpoint answered 2xx) or `failed`
    /// (given up; the subscription was disabled).
    pub state: String,
    pub attempts: i64,
    /// When a pending delivery is tried next.
    pub next_attempt_at: Option<String>,
    pub last_attempt_at: Option<String>,
    /// The HTTP status the endpoint answered the last attempt with (none: no answer).
    pub last_status: Option<i64>,
    /// Why the last attempt failed, when it did.
    pub last_error: Option<String>,
    /// How long the last attempt took, from sending to the answer's status.
    pub last_latency_ms: Option<i64>,
    pub delivered_at: Option<String>,
    /// When the host took the event into this subscription's deliveries.
    pub created_at: String,
}

/// A delivery a host has leased, to send now.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub seq: i64,
    /// The lease, by its host and its end: only the attempt made under it is recorded.
    pub leased_by: String,
    pub leased_until_ms: i64,
    pub subscription_id: String,
    pub url: String,
    pub secret: String,
    pub attempts: i64,
    pub event: StoredEvent,
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: i64,
    pub outcome: AttemptOutcome,
}

#[derive(Debug, Clone)]
pub enum AttemptOutcome {
    Delivered,
    /// Failed; tried again at this time (milliseconds since the epoch).
    RetryAt(i64),
    /// Failed for the last time: the subscription is disabled for `reason`.
    GiveUp {
        reason: String,
    },
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// `ms` as RFC 3339 text.
pub fn ms_text(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

const SUBSCRIPTION_COLUMNS: &str =
    "id, url, kinds, panels, description, source, state, disabled_reason, created_at, updated_at";

fn subscription_of(r: &sqlx::any::AnyRow) -> Result<Subscription> {
    Ok(Subscription {
        id: r.get("id"),
        url: r.get("url"),
        kinds: parse_json(&r.get::<String, _>("kinds"))?,
        panels: parse_json(&r.get::<String, _>("panels"))?,
        description: r.get("description"),
        source: r.get("source"),
        state: r.get("state"),
        disabled_reason: r.get("disabled_reason"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    })
}

fn delivery_of(r: &sqlx::any::AnyRow) -> Delivery {
    let state: String = r.get("state");
    let ms = |column: &str| r.get::<Option<i64>, _>(column);
    Delivery {
        seq: r.get("seq"),
        event_id: r.get("event_id"),
        event_cursor: r.get::<i64, _>("event_seq").to_string(),
        case_id: r.get("case_id"),
        next_attempt_at: (state == "pending").then(|| ms_text(ms("next_attempt_ms").unwrap_or(0))),
        state,
        attempts: r.get("attempts"),
        last_attempt_at: r.get("last_attempt_at"),
        last_status: r.get("last_status"),
        last_error: r.get("last_error"),
        last_latency_ms: r.get("last_latency_ms"),
        delivered_at: r.get("delivered_at"),
        created_at: ms_text(ms("created_ms").unwrap_or(0)),
    }
}

impl Store {
    /// Creates a subscription starting after the feed's last event, and appends `journal` (when
    /// given) in the same transaction: a subscription is never stored unjournaled, nor journaled
    /// unstored. `false` when the id is taken: then nothing is written.
    pub async fn create_subscription(
        &self,
        new: &NewSubscription,
        journal: Option<&JournalEntry>,
    ) -> Result<bool> {
        let _turn = self.turn().await;
        let head = self.events_head().await?;
        let now = super::now();
        let mut tx = self.begin_ordered().await?;
        let inserted = sqlx::query(
            "INSERT INTO webhook_subscriptions (id, url, kinds, panels, description, secret, source,
                 state, disabled_reason, event_cursor, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'enabled', NULL, $8, $9, $9)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&new.id)
        .bind(&new.url)
        .bind(serde_json::to_string(&new.kinds).unwrap_or_default())
        .bind(serde_json::to_string(&new.panels).unwrap_or_default())
        .bind(&new.description)
        .bind(&new.secret)
        .bind(new.source)
        .bind(head)
        .bind(&now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(entry) = journal {
            super::journal::append(&mut tx, &[(entry, now)]).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// A configured subscription: created as [`Store::create_subscription`] does the first time,
    /// its endpoint, filters and secret set as the config says every time after; its cursor,
    /// deliveries and state kept.
    pub async fn keep_configured_subscription(&self, new: &NewSubscription) -> Result<()> {
        if self.create_subscription(new, None).await? {
            return Ok(());
        }
        let _turn = self.turn().await;
        sqlx::query(
            "UPDATE webhook_subscriptions SET url = $2, kinds = $3, panels = $4, description = $5,
                 secret = $6, source = 'config', updated_at = $7 WHERE id = $1",
        )
        .bind(&new.id)
        .bind(&new.url)
        .bind(serde_json::to_string(&new.kinds).unwrap_or_default())
        .bind(serde_json::to_string(&new.panels).unwrap_or_default())
        .bind(&new.description)
        .bind(&new.secret)
        .bind(super::now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn subscriptions(&self) -> Result<Vec<Subscription>> {
        sqlx::query(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(subscription_of)
        .collect()
    }

    pub async fn subscription(&self, id: &str) -> Result<Option<Subscription>> {
        sqlx::query(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(subscription_of)
        .transpose()
    }

    /// Removes a subscription and its delivery log, and appends `journal` in the same
    /// transaction; `false` when there was none (then nothing is written).
    pub async fn delete_subscription(&self, id: &str, journal: &JournalEntry) -> Result<bool> {
        let _turn = self.turn().await;
        let mut tx = self.begin_ordered().await?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE subscription_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query("DELETE FROM webhook_subscriptions WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        super::journal::append(&mut tx, &[(journal, super::now())]).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Enables a subscription again. The deliveries its give-up failed are pending again, due
    /// now, in their order, ahead of the events that came since. The number queued again; the
    /// entry `journal` makes of it is appended in the same transaction.
    pub async fn enable_subscription(
        &self,
        id: &str,
        journal: impl FnOnce(u64) -> JournalEntry,
    ) -> Result<u64> {
        let _turn = self.turn().await;
        let mut tx = self.begin_ordered().await?;
        sqlx::query(
            "UPDATE webhook_subscriptions SET state = 'enabled', disabled_reason = NULL, updated_at = $2
             WHERE id = $1",
        )
        .bind(id)
        .bind(super::now())
        .execute(&mut *tx)
        .await?;
        let requeued = sqlx::query(
            // A lease held keeps its end, as a replay's does: a delivery the give-up failed while
            // its attempt was in flight is not sent again until that attempt's lease ends.
            "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_ms = $2,
                 leased_by = NULL
             WHERE subscription_id = $1 AND state = 'failed'",
        )
        .bind(id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        super::journal::append(&mut tx, &[(&journal(requeued), super::now())]).await?;
        tx.commit().await?;
        Ok(requeued)
    }

    /// Takes the events past each enabled subscription's cursor into its deliveries (those its
    /// filters want), at most `batch` events per subscription, and moves its cursor past them.
    /// The cursor moves only from where this host read it, so two hosts never add one event
    /// twice, and deliveries get their order from the feed's. The number of events read.
    pub async fn scan_subscriptions(&self, batch: i64) -> Result<usize> {
        let head = self.events_head().await?;
        let due = sqlx::query(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS}, event_cursor FROM webhook_subscriptions
             WHERE state = 'enabled' AND event_cursor < $1 ORDER BY id"
        ))
        .bind(head)
        .fetch_all(&self.pool)
        .await?;
        let mut read = 0;
        for row in due {
            let subscription = subscription_of(&row)?;
            let cursor: i64 = row.get("event_cursor");
            let events = self.events_after(cursor, batch).await?;
            let Some(last) = events.last() else { continue };
            let last: i64 = last.cursor.parse().unwrap_or(cursor);
            read += events.len();
            let wanted = events.iter().filter(|e| {
                (subscription.kinds.is_empty() || subscription.kinds.contains(&e.kind))
                    && (subscription.panels.is_empty() || subscription.panels.contains(&e.panel))
            });
            let _turn = self.turn().await;
            let mut tx = self.pool.begin().await?;
            // First, so that on PostgreSQL a second host doing the same waits here on the row
            // and then finds the cursor moved.
            let moved = sqlx::query(
                "UPDATE webhook_subscriptions SET event_cursor = $3
                 WHERE id = $1 AND event_cursor = $2 AND state = 'enabled'",
            )
            .bind(&subscription.id)
            .bind(cursor)
            .bind(last)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved != 1 {
                tx.rollback().await?;
                continue;
            }
            let now = now_ms();
            for event in wanted {
                sqlx::query(
                    "INSERT INTO webhook_deliveries (subscription_id, event_seq, event_id, case_id,
                         case_key, state, attempts, next_attempt_ms, leased_until_ms, created_ms)
                     VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, 0, $6)
                     ON CONFLICT (subscription_id, event_id) DO NOTHING",
                )
                .bind(&subscription.id)
                .bind(event.cursor.parse::<i64>().unwrap_or_default())
                .bind(&event.id)
                .bind(&event.case_id)
                // Events of one case keep their order; an event without a case waits for none.
                .bind(match &event.case_id {
                    Some(case) => format!("case:{case}"),
                    None => format!("event:{}", event.id),
                })
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        }
        Ok(read)
    }

    /// Leases up to `limit` deliveries due now to `host` until `until_ms`: pending, not leased
    /// by a live lease, of an enabled subscription, and each the oldest pending one of its case
    /// (a case's next event waits until the one before it is acknowledged or given up).
    /// Subscriptions take turns: a subscription's next due delivery comes after those of the
    /// subscriptions holding fewer leases (its oldest due one counts as its turn after the
    /// leases it holds, its second one after, and so on), so that one endpoint's backlog (a
    /// hanging one's retries, due again and older than everything else) never takes every
    /// lease while other subscriptions wait, even when its attempts end and free a task one at
    /// a time (docs/security.md: a bad endpoint must not stop other subscriptions' deliveries).
    /// On PostgreSQL the rows another host is leasing at this moment are skipped, not waited on,
    /// before the limit is counted: two hosts claiming at once take different deliveries.
    pub async fn claim_deliveries(&self, host: &str, until_ms: i64, limit: i64) -> Result<Vec<Claimed>> {
        let lock = match self.backend() {
            Backend::Postgres => "FOR UPDATE OF l SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let now = now_ms();
        // The turns are counted in a subquery of their own: PostgreSQL refuses `FOR UPDATE`
        // beside a window function, and locks only `l`, the rows taken.
        let sql = format!(
            "UPDATE webhook_deliveries SET leased_until_ms = $1, leased_by = $2
             WHERE state = 'pending' AND leased_until_ms <= $3 AND seq IN (
                 SELECT l.seq FROM webhook_deliveries l
                 JOIN (
                     SELECT d.seq, COALESCE(held.leases, 0) + ROW_NUMBER() OVER (
                         PARTITION BY d.subscription_id ORDER BY d.seq) AS turn
                     FROM webhook_deliveries d
                     JOIN webhook_subscriptions s ON s.id = d.subscription_id
                     LEFT JOIN (
                         SELECT subscription_id, COUNT(*) AS leases FROM webhook_deliveries
                         WHERE leased_until_ms > $3 GROUP BY subscription_id
                     ) held ON held.subscription_id = d.subscription_id
                     WHERE d.state = 'pending' AND d.next_attempt_ms <= $3
                       AND d.leased_until_ms <= $3 AND s.state = 'enabled'
                       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
                           WHERE e.subscription_id = d.subscription_id
                             AND e.case_key = d.case_key
                             AND e.state = 'pending' AND e.seq < d.seq)
                 ) due ON due.seq = l.seq
                 ORDER BY due.turn, due.seq LIMIT $4 {lock})
             RETURNING seq, subscription_id, event_seq, attempts"
        );
        let rows = {
            let _turn = self.turn().await;
            sqlx::query(&sql)
                .bind(until_ms)
                .bind(host)
                .bind(now)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
        };
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let subscription_id: String = row.get("subscription_id");
            let endpoint = sqlx::query("SELECT url, secret FROM webhook_subscriptions WHERE id = $1")
                .bind(&subscription_id)
                .fetch_optional(&self.pool)
                .await?;
            let event = self.event_at(row.get("event_seq")).await?;
            let (Some(endpoint), Some(event)) = (endpoint, event) else {
                continue;
            };
            claimed.push(Claimed {
                seq: row.get("seq"),
                leased_by: host.to_string(),
                leased_until_ms: until_ms,
                subscription_id,
                url: endpoint.get("url"),
                secret: endpoint.get("secret"),
                attempts: row.get("attempts"),
                event,
            });
        }
        claimed.sort_by_key(|c| c.seq);
        Ok(claimed)
    }

    /// Records an attempt of a leased delivery. A give-up fails every pending delivery of the
    /// subscription and disables it, in one transaction. An attempt whose lease was lost
    /// meanwhile (a host, this one or another, leased the delivery anew after this lease ran
    /// out, or an operator enabled the subscription again and its failed deliveries are due
    /// anew) records nothing:
    /// it must neither mark the delivery nor, giving up, disable what the operator enabled.
    pub async fn record_attempt(&self, delivery: &Claimed, attempt: &Attempt) -> Result<()> {
        let _turn = self.turn().await;
        let mut tx = self.pool.begin().await?;
        let now = super::now();
        let (state, next_ms, delivered_at) = match &attempt.outcome {
            AttemptOutcome::Delivered => ("delivered", 0, Some(now.clone())),
            AttemptOutcome::RetryAt(at) => ("pending", *at, None),
            AttemptOutcome::GiveUp { .. } => ("failed", 0, None),
        };
        let recorded = sqlx::query(
            "UPDATE webhook_deliveries SET state = $2, attempts = attempts + 1, next_attempt_ms = $3,
                 leased_until_ms = 0, leased_by = NULL, last_attempt_at = $4, last_status = $5,
                 last_error = $6, last_latency_ms = $7, delivered_at = $8
             WHERE seq = $1 AND state = 'pending' AND leased_by = $9 AND leased_until_ms = $10",
        )
        .bind(delivery.seq)
        .bind(state)
        .bind(next_ms)
        .bind(&now)
        .bind(attempt.status.map(i64::from))
        .bind(&attempt.error)
        .bind(attempt.latency_ms)
        .bind(delivered_at)
        .bind(&delivery.leased_by)
        .bind(delivery.leased_until_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if let (AttemptOutcome::GiveUp { reason }, 1) = (&attempt.outcome, recorded) {
            sqlx::query(
                "UPDATE webhook_subscriptions SET state = 'disabled', disabled_reason = $2, updated_at = $3
                 WHERE id = $1",
            )
            .bind(&delivery.subscription_id)
            .bind(reason)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                // Their attempts in flight lose their holder, so they record nothing, but not
                // their leases' ends, which an enable then keeps: no host sends them again while
                // those attempts may still be running.
                "UPDATE webhook_deliveries SET state = 'failed', leased_by = NULL
                 WHERE subscription_id = $1 AND state = 'pending'",
            )
            .bind(&delivery.subscription_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A subscription's delivery log, newest first: at most `limit`, older than `before` (a
    /// `seq`) when given, in `state` when given.
    pub async fn deliveries(
        &self,
        subscription: &str,
        state: Option<&str>,
        limit: i64,
        before: Option<i64>,
    ) -> Result<Vec<Delivery>> {
        Ok(sqlx::query(
            "SELECT * FROM webhook_deliveries
             WHERE subscription_id = $1 AND ($2 = '' OR state = $2) AND seq < $3
             ORDER BY seq DESC LIMIT $4",
        )
        .bind(subscription)
        .bind(state.unwrap_or_default())
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(delivery_of)
        .collect())
    }

    /// Sends deliveries again, due now, as new (their attempts start over): the one of event
    /// `event_id`, or those the host took in between `since_ms` and `until_ms`. A case's
    /// deliveries still go in their order. The number queued; the entry `journal` makes of it
    /// is appended in the same transaction, or nothing is written when it makes none.
    pub async fn replay_deliveries(
        &self,
        subscription: &str,
        event_id: Option<&str>,
        since_ms: i64,
        until_ms: i64,
        journal: impl FnOnce(u64) -> Option<JournalEntry>,
    ) -> Result<u64> {
        let _turn = self.turn().await;
        let mut tx = self.begin_ordered().await?;
        let replayed = sqlx::query(
            // A lease held keeps its end, so an attempt in flight is not doubled by its replay;
            // but not its holder: that attempt, answered after the replay, records nothing, and
            // the replay is sent once the lease ends. (Kept, the attempt marked the replayed
            // delivery delivered, and the replay was never sent.)
            "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_ms = $5,
                 leased_by = NULL
             WHERE subscription_id = $1 AND ($2 IS NULL OR event_id = $2)
               AND created_ms >= $3 AND created_ms <= $4",
        )
        .bind(subscription)
        .bind(event_id)
        .bind(since_ms)
        .bind(until_ms)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        match journal(replayed) {
            Some(entry) => {
                super::journal::append(&mut tx, &[(&entry, super::now())]).await?;
                tx.commit().await?;
            }
            None => tx.rollback().await?,
        }
        Ok(replayed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Commit, NewEvent};

    /// A store on a fresh SQLite file with the subscription `portal` (every kind, every panel)
    /// and one `status_changed` event for each of `cases`, queued to it for delivery. The folder
    /// is returned beside it: the file goes with it.
    async fn subscribed_store(cases: &[&str]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::open(&url, crate::config::Durability::Full).await.unwrap();
        subscribe(&store, "portal").await;
        add_events(&store, cases).await;
        (dir, store)
    }

    /// An operator's change, as the admin API journals it.
    fn admin_entry() -> JournalEntry {
        JournalEntry {
            id: uuid::Uuid::now_v7().to_string(),
            panel: None,
            operation: "subscription_test".into(),
            kind: "admin",
            case_id: None,
            outcome: "ok".into(),
            detail: "{}".into(),
        }
    }

    /// Subscribes `id` to every kind of every panel, from the feed's head on.
    async fn subscribe(store: &Store, id: &str) {
        let created = store
            .create_subscription(
                &NewSubscription {
                    id: id.into(),
                    url: "http://127.0.0.1:9/hooks".into(),
                    kinds: vec![],
                    panels: vec![],
                    description: None,
                    secret: "whsec_dGVzdA==".into(),
                    source: "admin",
                },
                None,
            )
            .await
            .unwrap();
        assert!(created);
    }

    /// Stores one `status_changed` event for each of `cases` and queues them to every
    /// subscription, in that order.
    async fn add_events(store: &Store, cases: &[&str]) {
        let events = cases
            .iter()
            .map(|case| NewEvent {
                panel: "A03".into(),
                case_id: None,
                kind: "status_changed".into(),
                dedup_key: format!("test:{case}"),
                status: None,
                payload: serde_json::json!({ "case": case }),
                flagged: None,
                case_ref: None,
                learnt_ms: None,
            })
            .collect();
        store
            .commit(Commit {
                events,
                ..Commit::default()
            })
            .await
            .unwrap();
        store.scan_subscriptions(100).await.unwrap();
    }

    /// A last attempt that failed.
    fn give_up() -> Attempt {
        Attempt {
            status: Some(503),
            error: Some("unavailable".into()),
            latency_ms: 1,
            outcome: AttemptOutcome::GiveUp {
                reason: "gave up".into(),
            },
        }
    }

    /// One subscription's backlog does not take every lease: with 20 deliveries of `portal` due
    /// (a hanging endpoint's retries come due again, older than anything else) and then one of
    /// `other`, a claim of 4 takes `other`'s too, and `portal`'s oldest three in their order.
    /// (Before, the claim took the 4 oldest, all `portal`'s, and `other` waited behind them.)
    #[tokio::test]
    async fn one_subscriptions_backlog_does_not_hold_up_anothers_deliveries() {
        let backlog: Vec<String> = (0..20).map(|i| format!("backlog-{i}")).collect();
        let backlog: Vec<&str> = backlog.iter().map(String::as_str).collect();
        let (_dir, store) = subscribed_store(&backlog).await;
        subscribe(&store, "other").await;
        add_events(&store, &["fresh"]).await;
        let claimed = store
            .claim_deliveries("host-a", now_ms() + 60_000, 4)
            .await
            .unwrap();
        let taken: Vec<&str> = claimed.iter().map(|c| c.subscription_id.as_str()).collect();
        assert!(taken.contains(&"other"), "{taken:?}");
        let oldest: Vec<i64> = store
            .deliveries("portal", None, 100, None)
            .await
            .unwrap()
            .iter()
            .rev()
            .take(3)
            .map(|d| d.seq)
            .collect();
        let portal: Vec<i64> = claimed
            .iter()
            .filter(|c| c.subscription_id == "portal")
            .map(|c| c.seq)
            .collect();
        assert_eq!(portal, oldest);
    }

    /// A subscription holding leases waits its turn behind one holding none: with a hanging
    /// endpoint's backlog holding the delivery tasks, the task its attempt frees goes to
    /// another subscription's delivery, not the backlog's next. (Turns counted afresh in each
    /// claim gave it to the backlog, whose deliveries are older.)
    #[tokio::test]
    async fn a_subscription_holding_leases_waits_behind_one_holding_none() {
        let backlog: Vec<String> = (0..20).map(|i| format!("backlog-{i}")).collect();
        let backlog: Vec<&str> = backlog.iter().map(String::as_str).collect();
        let (_dir, store) = subscribed_store(&backlog).await;
        let held = store
            .claim_deliveries("host-a", now_ms() + 60_000, 4)
            .await
            .unwrap();
        assert_eq!(held.len(), 4, "{held:?}");
        subscribe(&store, "other").await;
        add_events(&store, &["fresh"]).await;
        let freed = store
            .claim_deliveries("host-a", now_ms() + 60_000, 1)
            .await
            .unwrap();
        let taken: Vec<&str> = freed.iter().map(|c| c.subscription_id.as_str()).collect();
        assert_eq!(taken, ["other"]);
    }

    /// An enable keeps the lease of an attempt still in flight: a delivery the give-up failed
    /// while its own attempt ran is sent by no host until that attempt's lease ends, while the
    /// delivery given up, its attempt over, is sent at once. (Before, the give-up and the enable
    /// cleared the lease, and another host sent the delivery beside its first attempt.)
    #[tokio::test]
    async fn an_enable_does_not_send_again_a_delivery_whose_attempt_is_in_flight() {
        let (_dir, store) = subscribed_store(&["one", "two"]).await;
        let claimed = store
            .claim_deliveries("host-a", now_ms() + 60_000, 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 2, "{claimed:?}");
        store.record_attempt(&claimed[0], &give_up()).await.unwrap();
        assert_eq!(
            store
                .enable_subscription("portal", |_| admin_entry())
                .await
                .unwrap(),
            2
        );
        let theirs: Vec<i64> = store
            .claim_deliveries("host-b", now_ms() + 60_000, 10)
            .await
            .unwrap()
            .iter()
            .map(|c| c.seq)
            .collect();
        assert_eq!(
            theirs,
            [claimed[0].seq],
            "not the delivery whose attempt is in flight"
        );
    }

    /// A replay of a delivery whose attempt is in flight: the attempt, answered after it,
    /// records nothing, and the delivery is due again once the attempt's lease ends, so the
    /// replay is sent. (Before, the attempt marked it delivered and the replay never went out,
    /// though the operator heard it queued.)
    #[tokio::test]
    async fn a_replay_of_a_delivery_in_flight_is_sent_after_it() {
        let (_dir, store) = subscribed_store(&["one"]).await;
        let lease_end = now_ms() + 300;
        let claimed = store.claim_deliveries("host-a", lease_end, 10).await.unwrap();
        assert_eq!(claimed.len(), 1, "{claimed:?}");
        let replayed = store
            .replay_deliveries("portal", None, i64::MIN, i64::MAX, |_| Some(admin_entry()))
            .await
            .unwrap();
        assert_eq!(replayed, 1);
        // Not leased again while the attempt's lease lasts: the attempt is not doubled.
        assert!(
            store
                .claim_deliveries("host-b", now_ms() + 60_000, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let delivered = Attempt {
            status: Some(200),
            error: None,
            latency_ms: 1,
            outcome: AttemptOutcome::Delivered,
        };
        store.record_attempt(&claimed[0], &delivered).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(
            u64::try_from(lease_end - now_ms()).unwrap_or(0) + 50,
        ))
        .await;
        let again = store
            .claim_deliveries("host-b", now_ms() + 60_000, 10)
            .await
            .unwrap();
        assert_eq!(again.len(), 1, "the replay is sent after the attempt in flight");
    }

    /// A give-up recorded after an operator enabled the subscription again (the attempt was in
    /// flight when another delivery's give-up disabled it) neither fails the deliveries the
    /// enable queued again nor disables the subscription once more; nor is an attempt recorded
    /// over another host's lease.
    #[tokio::test]
    async fn an_attempt_whose_lease_was_lost_records_nothing() {
        let (_dir, store) = subscribed_store(&["one", "two"]).await;
        // Short: the enable keeps the lease of the second delivery's attempt, in flight, and
        // another host takes that delivery below once the lease has ended.
        let lease_end = now_ms() + 300;
        let claimed = store.claim_deliveries("host-a", lease_end, 10).await.unwrap();
        assert_eq!(claimed.len(), 2, "{claimed:?}");
        store.record_attempt(&claimed[0], &give_up()).await.unwrap();
        assert_eq!(
            store.subscription("portal").await.unwrap().unwrap().state,
            "disabled"
        );
        assert_eq!(
            store
                .enable_subscription("portal", |_| admin_entry())
                .await
                .unwrap(),
            2
        );
        // The second delivery's attempt, in flight through all that, gives up too.
        store.record_attempt(&claimed[1], &give_up()).await.unwrap();
        assert_eq!(
            store.subscription("portal").await.unwrap().unwrap().state,
            "enabled"
        );
        let pending = store
            .deliveries("portal", Some("pending"), 10, None)
            .await
            .unwrap();
        assert_eq!(pending.len(), 2, "{pending:?}");

        // Another host's lease (run out already, for the last step): an attempt of this host's is
        // not recorded over it.
        tokio::time::sleep(std::time::Duration::from_millis(
            u64::try_from(lease_end - now_ms()).unwrap_or(0) + 50,
        ))
        .await;
        let theirs = store.claim_deliveries("host-b", now_ms() - 1, 10).await.unwrap();
        assert_eq!(theirs.len(), 2, "{theirs:?}");
        let delivered = Attempt {
            outcome: AttemptOutcome::Delivered,
            ..give_up()
        };
        store.record_attempt(&claimed[0], &delivered).await.unwrap();
        let pending = store
            .deliveries("portal", Some("pending"), 10, None)
            .await
            .unwrap();
        assert_eq!(pending.len(), 2, "{pending:?}");
        store.record_attempt(&theirs[0], &delivered).await.unwrap();
        let pending = store
            .deliveries("portal", Some("pending"), 10, None)
            .await
            .unwrap();
        assert_eq!(pending.len(), 1, "{pending:?}");

        // This host's own lease, run out and taken anew by this host: the attempt under the old
        // one is not recorded over the new one.
        let stale = theirs[1].clone();
        let again = store
            .claim_deliveries("host-b", now_ms() + 60_000, 10)
            .await
            .unwrap();
        assert_eq!(again.len(), 1, "{again:?}");
        store.record_attempt(&stale, &give_up()).await.unwrap();
        assert_eq!(
            store.subscription("portal").await.unwrap().unwrap().state,
            "enabled"
        );
        store.record_attempt(&again[0], &delivered).await.unwrap();
        let pending = store
            .deliveries("portal", Some("pending"), 10, None)
            .await
            .unwrap();
        assert!(pending.is_empty(), "{pending:?}");
    }
}
