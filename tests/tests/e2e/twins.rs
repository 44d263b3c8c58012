//! Issue 19: one of the five partners written again in TypeScript (adapters/aagi-motor-ts, tsc
//! then componentize-js from the npm registry) passes the same fixtures as its Rust twin
//! (adapters/aagi-motor), each run by `panelgate adapter test` in the host's sandbox, and both
//! describe the same adapter.

use std::path::{Path, PathBuf};

use panelgate::kit::fixtures;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn fixture_dir() -> PathBuf {
    workspace().join("adapters/aagi-motor/fixtures")
}

async fn cli(args: &[&str]) -> i32 {
    let mut argv = vec!["panelgate".to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    panelgate::cli::run(argv).await.expect("the command runs")
}

/// Copies the TypeScript project's sources (no node_modules, dist or target; its `wit` link
/// resolved) into `to`, outside the workspace: building it there leaves the adapters folder,
/// which the guests' build script watches, untouched.
fn copy_project(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if ["node_modules", "dist", "target"].iter().any(|n| name == *n) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            std::fs::create_dir_all(to.join(&name)).unwrap();
            copy_project(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}

/// `quote-vmi1-defaults.json` with its premium one cent off, beside the shared panel.json.
fn one_cent_off(dir: &Path) -> PathBuf {
    let dir = dir.join("off");
    std::fs::create_dir_all(&dir).unwrap();
    let good = std::fs::read_to_string(fixture_dir().join("quote-vmi1-defaults.json")).unwrap();
    assert!(good.contains("\"20000.44\""));
    std::fs::write(
        dir.join("quote.json"),
        good.replace("\"20000.44\"", "\"20000.45\""),
    )
    .unwrap();
    std::fs::copy(fixture_dir().join("panel.json"), dir.join("panel.json")).unwrap();
    dir.join("quote.json")
}

#[tokio::test]
async fn the_typescript_aagi_motor_passes_the_fixtures_of_its_rust_twin() {
    let expected = std::fs::read_dir(fixture_dir())
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().ends_with(".json") && name != "panel.json"
        })
        .count();
    assert!(
        expected >= 30,
        "the fixtures cover every operation and its errors: {expected}"
    );

    // The Rust twin, as the harness built it, on the fixture folder (`adapter test` prints one
    // line per fixture and one per mismatch, and exits 1 on any).
    let rust = Path::new(panelgate_tests::guests::AAGI_MOTOR);
    let fixtures_arg = fixture_dir();
    let fixtures_arg = fixtures_arg.to_str().unwrap();
    assert_eq!(
        cli(&["adapter", "test", rust.to_str().unwrap(), fixtures_arg]).await,
        0,
        "the Rust twin passes its fixtures"
    );

    // The TypeScript twin, built by `panelgate adapter test` from a copy of its project (npm ci
    // from its package-lock.json, tsc, componentize-js) and run on the same fixture folder.
    let outside = tempfile::tempdir().unwrap();
    let project = outside.path().join("aagi-motor-ts");
    std::fs::create_dir_all(&project).unwrap();
    copy_project(&workspace().join("adapters/aagi-motor-ts"), &project);
    assert_eq!(
        cli(&["adapter", "test", project.to_str().unwrap(), fixtures_arg]).await,
        0,
        "the TypeScript twin passes the Rust twin's fixtures"
    );
    let ts = project.join("target/adapter.wasm");

    // The fixtures can fail either twin: a premium one cent off is a mismatch for each.
    let off = one_cent_off(outside.path());
    for wasm in [rust, ts.as_path()] {
        assert_eq!(
            cli(&["adapter", "test", wasm.to_str().unwrap(), off.to_str().unwrap()]).await,
            1,
            "{} passes a fixture with another premium",
            wasm.display()
        );
    }

    // The same adapter by its description: operations, settings and credentials.
    let rust = fixtures::describe(&std::fs::read(rust).unwrap()).await.unwrap();
    let ts = fixtures::describe(&std::fs::read(&ts).unwrap()).await.unwrap();
    assert_eq!(
        (rust.name.as_str(), ts.name.as_str()),
        ("aagi-motor", "aagi-motor-ts")
    );
    assert_eq!(rust.spec, ts.spec);
    assert_eq!(rust.version, ts.version);
    assert_eq!(
        serde_json::to_value(&rust.operations).unwrap(),
        serde_json::to_value(&ts.operations).unwrap()
    );
    assert_eq!(
        serde_json::to_value(&rust.config_keys).unwrap(),
        serde_json::to_value(&ts.config_keys).unwrap()
    );
    assert_eq!(
        serde_json::to_value(&rust.credentials).unwrap(),
        serde_json::to_value(&ts.credentials).unwrap()
    );
}
