//! The adapter registry: modules by content hash, and each panel's deployment history.

use serde::Serialize;
use sqlx::{AnyPool, Row};

use super::{Result, StoreError, now};

/// A registered module, without its bytes.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ModuleInfo {
    /// Lowercase hex SHA-256 of the component's bytes.
    pub hash: String,
    pub name: String,
    pub version: String,
    /// The `panelgate:adapter` WIT version the component targets.
    pub wit: String,
    pub size: i64,
    /// `push`, `config` or `watch`: how the host was given it.
    pub source: String,
    pub pushed_at: String,
    #[schema(value_type = Object)]
    pub description: serde_json::Value,
    /// The OCI reference the module was first pulled by, pinned to its manifest's digest
    /// (`oci://REGISTRY/REPO@sha256:...`); absent for a module pushed or read from a file.
    pub origin: Option<String>,
}

/// How a deployment came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeployAction {
    /// The panel's adapter in the config file (at start, when it differs from the last one).
    Config,
    /// An operator switched the panel to a module.
    Set,
    /// An operator went back to the module before the current one.
    Rollback,
}

impl DeployAction {
    fn as_str(self) -> &'static str {
        match self {
            DeployAction::Config => "config",
            DeployAction::Set => "set",
            DeployAction::Rollback => "rollback",
        }
    }

    fn parse(text: &str) -> Result<DeployAction> {
        match text {
            "config" => Ok(DeployAction::Config),
            "set" => Ok(DeployAction::Set),
            "rollback" => Ok(DeployAction::Rollback),
            other => Err(StoreError::Corrupt(format!("deployment action `{other}`"))),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Deployment {
    pub seq: i64,
    pub panel: String,
    pub module: String,
    pub action: DeployAction,
    pub at: String,
    /// Where the panel has a signature policy: the name of the key that signed the module.
    pub signer: Option<String>,
    /// ...and that signature (base64).
    pub signature: Option<String>,
    /// The OCI reference, pinned by digest, the module came from, if it came from a registry.
    pub origin: Option<String>,
}

/// A signature of a module, verified when it was pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ModuleSignature {
    /// Base64 of the Ed25519 signature.
    pub signature: String,
    /// The config's name of the key it verified with at push.
    pub signer: String,
    /// That key (base64), as the config gave it then.
    pub public_key: String,
    pub added_at: String,
}

fn module_info(r: &sqlx::any::AnyRow) -> ModuleInfo {
    ModuleInfo {
        hash: r.get("hash"),
        name: r.get("name"),
        version: r.get("version"),
        wit: r.get("wit"),
        size: r.get("size"),
        source: r.get("source"),
        pushed_at: r.get("pushed_at"),
        description: serde_json::from_str(&r.get::<String, _>("description"))
            .unwrap_or(serde_json::Value::Null),
        origin: r.get("origin"),
    }
}

const INFO_COLUMNS: &str = "hash, name, version, wit, size, source, pushed_at, description, origin";

pub(super) async fn module(pool: &AnyPool, hash: &str) -> Result<Option<ModuleInfo>> {
    let row = sqlx::query(&format!("SELECT {INFO_COLUMNS} FROM modules WHERE hash = $1"))
        .bind(hash)
        .fetch_optional(pool)
        .await?;
    Ok(row.as_ref().map(module_info))
}

/// Registers a module (unless there) and a signature of it (unless there), in one transaction.
pub(super) async fn insert_module(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    info: &ModuleInfo,
    bytes: &[u8],
    signature: Option<&ModuleSignature>,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO modules (hash, name, version, wit, description, size, bytes, source, pushed_at, origin)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (hash) DO NOTHING",
    )
    .bind(&info.hash)
    .bind(&info.name)
    .bind(&info.version)
    .bind(&info.wit)
    .bind(info.description.to_string())
    .bind(bytes.len() as i64)
    .bind(bytes)
    .bind(&info.source)
    .bind(now())
    .bind(&info.origin)
    .execute(&mut **tx)
    .await?;
    // Bytes registered before they were pulled from a registry take the reference they came by.
    if let Some(origin) = &info.origin {
        sqlx::query("UPDATE modules SET origin = $1 WHERE hash = $2 AND origin IS NULL")
            .bind(origin)
            .bind(&info.hash)
            .execute(&mut **tx)
            .await?;
    }
    if let Some(sig) = signature {
        sqlx::query(
            "INSERT INTO module_signatures (module, signature, signer, public_key, added_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (module, signature) DO NOTHING",
        )
        .bind(&info.hash)
        .bind(&sig.signature)
        .bind(&sig.signer)
        .bind(&sig.public_key)
        .bind(now())
        .execute(&mut **tx)
        .await?;
    }
    Ok(done.rows_affected() == 1)
}

/// A module's signatures, oldest first.
pub(super) async fn module_signatures(pool: &AnyPool, hash: &str) -> Result<Vec<ModuleSignature>> {
    let rows = sqlx::query(
        "SELECT signature, signer, public_key, added_at FROM module_signatures WHERE module = $1 ORDER BY added_at, signature",
    )
    .bind(hash)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| ModuleSignature {
            signature: r.get("signature"),
            signer: r.get("signer"),
            public_key: r.get("public_key"),
            added_at: r.get("added_at"),
        })
        .collect())
}

pub(super) async fn module_bytes(pool: &AnyPool, hash: &str) -> Result<Option<Vec<u8>>> {
    Ok(sqlx::query_scalar("SELECT bytes FROM modules WHERE hash = $1")
        .bind(hash)
        .fetch_optional(pool)
        .await?)
}

/// The newest module registered as `name@version`.
pub(super) async fn module_by_name(pool: &AnyPool, name: &str, version: &str) -> Result<Option<ModuleInfo>> {
    let row = sqlx::query(&format!(
        "SELECT {INFO_COLUMNS} FROM modules WHERE name = $1 AND version = $2 ORDER BY pushed_at DESC, hash DESC LIMIT 1"
    ))
    .bind(name)
    .bind(version)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(module_info))
}

/// The module first pulled by `origin`, a reference pinned by digest.
pub(super) async fn module_by_origin(pool: &AnyPool, origin: &str) -> Result<Option<ModuleInfo>> {
    let row = sqlx::query(&format!(
        "SELECT {INFO_COLUMNS} FROM modules WHERE origin = $1 LIMIT 1"
    ))
    .bind(origin)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(module_info))
}

pub(super) async fn modules(pool: &AnyPool) -> Result<Vec<ModuleInfo>> {
    let rows = sqlx::query(&format!(
        "SELECT {INFO_COLUMNS} FROM modules ORDER BY name, pushed_at, hash"
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(module_info).collect())
}

pub(super) async fn deployments(pool: &AnyPool, panel: &str) -> Result<Vec<Deployment>> {
    let rows =
        sqlx::query("SELECT seq, panel, module, action, at, signer, signature, origin FROM deployments WHERE panel = $1 ORDER BY seq")
            .bind(panel)
            .fetch_all(pool)
            .await?;
    rows.iter()
        .map(|r| {
            Ok(Deployment {
                seq: r.get("seq"),
                panel: r.get("panel"),
                module: r.get("module"),
                action: DeployAction::parse(&r.get::<String, _>("action"))?,
                at: r.get("at"),
                signer: r.get("signer"),
                signature: r.get("signature"),
                origin: r.get("origin"),
            })
        })
        .collect()
}

/// Records a deployment; `origin`, the OCI reference the switch named, or else the module's own.
pub(super) async fn deploy(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    panel: &str,
    module: &str,
    action: DeployAction,
    signed: Option<&ModuleSignature>,
    origin: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO deployments (panel, module, action, at, signer, signature, origin)
         VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7, (SELECT origin FROM modules WHERE hash = $8)))",
    )
    .bind(panel)
    .bind(module)
    .bind(action.as_str())
    .bind(now())
    .bind(signed.map(|s| s.signer.clone()))
    .bind(signed.map(|s| s.signature.clone()))
    .bind(origin)
    .bind(module)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The modules a history leaves active, oldest first: `config` and `set` push, `rollback` pops.
/// The last is the one the panel serves; the one before it is where a rollback goes.
pub fn active_stack(history: &[Deployment]) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    for d in history {
        match d.action {
            DeployAction::Config | DeployAction::Set => {
                if stack.last() != Some(&d.module) {
                    stack.push(d.module.clone());
                }
            }
            DeployAction::Rollback => {
                stack.pop();
                if stack.last() != Some(&d.module) {
                    stack.push(d.module.clone());
                }
            }
        }
    }
    stack
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(module: &str, action: DeployAction) -> Deployment {
        Deployment {
            seq: 0,
            panel: "p".into(),
            module: module.into(),
            action,
            at: String::new(),
            signer: None,
            signature: None,
            origin: None,
        }
    }

    #[test]
    fn rollbacks_walk_back_through_the_history() {
        use DeployAction::*;
        let mut h = vec![d("a", Config), d("b", Set), d("c", Set)];
        assert_eq!(active_stack(&h), ["a", "b", "c"]);
        h.push(d("b", Rollback));
        assert_eq!(active_stack(&h), ["a", "b"]);
        h.push(d("a", Rollback));
        assert_eq!(active_stack(&h), ["a"]);
        h.push(d("c", Set));
        assert_eq!(active_stack(&h), ["a", "c"]);
        // Setting the module already served changes nothing.
        h.push(d("c", Set));
        assert_eq!(active_stack(&h), ["a", "c"]);
    }
}
