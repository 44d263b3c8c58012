//! Where the host looks for its files, as an operator runs it: every relative path in the config
//! is the config file's folder's, a bare `--config name.toml` works, and `journal verify` checks
//! the store the config names or says it is not there, never making an empty one.

use std::path::Path;
use std::process::{Command, Output};

/// `panelgate ARGS` run in `cwd`.
fn panelgate(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_panelgate-host"))
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("running panelgate")
}

/// A config holding only what `journal verify` reads, with the store at `store_url`.
fn write_config(path: &Path, store_url: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        format!(
            r#"
[server]
portal_token = {{ value = "p" }}
admin_token = {{ value = "a" }}
[store]
url = "{store_url}"
"#
        ),
    )
    .unwrap();
}

#[tokio::test]
async fn a_relative_store_path_is_the_config_folders_and_a_bare_config_name_works() {
    let dir = tempfile::tempdir().unwrap();
    let config_dir = dir.path().join("config");
    write_config(&config_dir.join("host.toml"), "sqlite://data/host.db");
    let store = config_dir.join("data/host.db");
    panelgate::store::Store::open(&format!("sqlite://{}", store.display()), Default::default())
        .await
        .unwrap();

    // From the folder above the config's, and from the config's own folder with a bare name:
    // the same store, found and verified.
    for (cwd, name) in [
        (dir.path(), "config/host.toml"),
        (config_dir.as_path(), "host.toml"),
    ] {
        let out = panelgate(cwd, &["journal", "verify", "--config", name]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "from {}: {stdout}{stderr}", cwd.display());
        assert!(stdout.contains("journal intact"), "{stdout}{stderr}");
        assert!(
            !dir.path().join("data").exists(),
            "from {}: a store was made relative to the working directory",
            cwd.display()
        );
    }
}

#[tokio::test]
async fn journal_verify_refuses_a_store_that_is_not_there_and_makes_none() {
    let dir = tempfile::tempdir().unwrap();
    write_config(&dir.path().join("host.toml"), "sqlite://data/missing.db");
    let out = panelgate(dir.path(), &["journal", "verify", "--config", "./host.toml"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(!stdout.contains("intact"), "{stdout}");
    assert!(
        stderr.contains("no store at") && stderr.contains("missing.db"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("data/missing.db").exists(),
        "verify made a store"
    );
    assert!(
        !dir.path().join("data").exists(),
        "verify made the store's folder"
    );
}
