//! Panel definitions: written by the config file's seeding and the admin API, read by every
//! host on the store. A write carries its journal entry (and a deployment, when it changes the
//! module the panel serves) in the same transaction.

use sqlx::{AnyPool, Row};

use super::journal::{self, JournalEntry};
use super::registry::{self, DeployAction};
use super::{Result, Store, StoreError, now, parse_json};
use crate::config::PanelConfig;

/// A panel as the store holds it.
#[derive(Debug, Clone)]
pub struct StoredPanel {
    pub id: String,
    /// Secrets as references only.
    pub definition: PanelConfig,
    /// 1 when created; one more at every change, removal included.
    pub version: i64,
    /// The definition the config file last wrote, as JSON; `None` for a panel the admin API
    /// created.
    pub seed: Option<String>,
    pub updated_at: String,
    /// When it was removed; `None` while it serves.
    pub removed_at: Option<String>,
}

/// What a write does to the `seed` column.
#[derive(Debug, Clone)]
pub enum Seed {
    /// The admin API: the config file's last seed stays.
    Keep,
    /// The config file: this is now what it last wrote.
    Set(String),
}

/// One change of a panel's definition, written atomically.
pub struct PanelWrite<'a> {
    pub id: &'a str,
    pub definition: &'a PanelConfig,
    pub seed: Seed,
    /// The module the panel serves from now on, when this write changes it.
    pub deploy: Option<(&'a str, DeployAction)>,
    /// Where the panel has a signature policy, the signature of that module it took.
    pub signed: Option<&'a super::ModuleSignature>,
    /// The change's journal entries (the panel's, and the deployment's when there is one).
    pub journal: Vec<JournalEntry>,
}

fn stored(r: &sqlx::any::AnyRow) -> Result<StoredPanel> {
    Ok(StoredPanel {
        id: r.get("id"),
        definition: parse_json(&r.get::<String, _>("definition"))?,
        version: r.get("version"),
        seed: r.get("seed"),
        updated_at: r.get("updated_at"),
        removed_at: r.get("removed_at"),
    })
}

const COLUMNS: &str = "id, definition, version, seed, updated_at, removed_at";

async fn all(pool: &AnyPool) -> Result<Vec<StoredPanel>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM panels ORDER BY id"))
        .fetch_all(pool)
        .await?;
    rows.iter().map(stored).collect()
}

impl Store {
    /// Every panel the store has defined, removed ones included, ordered by id.
    pub async fn stored_panels(&self) -> Result<Vec<StoredPanel>> {
        all(&self.pool).await
    }

    pub async fn stored_panel(&self, id: &str) -> Result<Option<StoredPanel>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM panels WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(stored).transpose()
    }

    /// Creates or changes a panel (a removed one comes back); its new version.
    pub async fn write_panel(&self, write: PanelWrite<'_>) -> Result<i64> {
        let definition =
            serde_json::to_string(write.definition).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let (seed, keep) = match &write.seed {
            Seed::Keep => (None, true),
            Seed::Set(seed) => (Some(seed.clone()), false),
        };
        let sql = format!(
            "INSERT INTO panels (id, definition, version, seed, updated_at, removed_at)
             VALUES ($1, $2, 1, $3, $4, NULL)
             ON CONFLICT (id) DO UPDATE SET definition = excluded.definition, version = panels.version + 1,
                 seed = {}, updated_at = excluded.updated_at, removed_at = NULL
             RETURNING version",
            if keep { "panels.seed" } else { "excluded.seed" }
        );
        let _turn = self.turn().await;
        let mut tx = self.begin_ordered().await?;
        let version: i64 = sqlx::query_scalar(&sql)
            .bind(write.id)
            .bind(definition)
            .bind(seed)
            .bind(now())
            .fetch_one(&mut *tx)
            .await?;
        if let Some((module, action)) = write.deploy {
            registry::deploy(&mut tx, write.id, module, action, write.signed, None).await?;
        }
        let at = now();
        let entries: Vec<_> = write.journal.iter().map(|e| (e, at.clone())).collect();
        journal::append(&mut tx, &entries).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// Marks a serving panel removed; its new version, or `None` when it was not serving.
    pub async fn remove_panel(&self, id: &str, journal_entry: JournalEntry) -> Result<Option<i64>> {
        let _turn = self.turn().await;
        let mut tx = self.begin_ordered().await?;
        let version: Option<i64> = sqlx::query_scalar(
            "UPDATE panels SET version = version + 1, removed_at = $1, updated_at = $1
             WHERE id = $2 AND removed_at IS NULL RETURNING version",
        )
        .bind(now())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if version.is_some() {
            journal::append(&mut tx, &[(&journal_entry, now())]).await?;
            tx.commit().await?;
        }
        Ok(version)
    }

    /// What changes whenever any host changes a panel or deploys: the deployment history's
    /// head and each panel's version.
    pub async fn panels_head(&self) -> Result<(i64, Vec<(String, i64)>)> {
        let versions = sqlx::query("SELECT id, version FROM panels ORDER BY id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| (r.get("id"), r.get("version")))
            .collect();
        Ok((self.deployments_head().await?, versions))
    }

    /// How many operations of `panel` are in doubt: the partner may have acted.
    pub async fn unknown_outcomes_of(&self, panel: &str) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM pending WHERE panel = $1 AND state = 'unknown'")
                .bind(panel)
                .fetch_one(&self.pool)
                .await?,
        )
    }
}
