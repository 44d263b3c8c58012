//! The author kit: what a partner needs to write, build and test an adapter outside this
//! repository (`panelgate adapter new`, `panelgate adapter test`).

pub mod dev;
pub mod fixtures;
pub mod record;
pub mod scaffold;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Builds the adapter project in `dir` (a Cargo project; a Python one with `app.py` and
/// `wit/`; a JavaScript one with `app.js`, `package.json` and `wit/`; a TypeScript one with
/// `tsconfig.json` and a `package.json` whose `build` script writes `target/adapter.wasm`) and
/// returns the component's path. `target_dir` is where cargo builds (the project's `target/` by
/// default; one folder shared by several projects builds their dependencies once).
pub fn build(dir: &Path, target_dir: Option<&Path>) -> Result<PathBuf> {
    if dir.join("Cargo.toml").is_file() {
        let manifest: toml::Value = toml::from_str(&std::fs::read_to_string(dir.join("Cargo.toml"))?)
            .context("reading Cargo.toml")?;
        let name = manifest
            .get("package")
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
            .context("Cargo.toml names no package")?;
        let target = match target_dir {
            Some(t) => std::path::absolute(t)?,
            None => dir.join("target"),
        };
        run(Command::new("cargo")
            .current_dir(dir)
            .args(["build", "--release", "--target", "wasm32-wasip2", "--target-dir"])
            .arg(&target))?;
        let wasm = target
            .join("wasm32-wasip2/release")
            .join(format!("{}.wasm", name.replace('-', "_")));
        if !wasm.is_file() {
            bail!("cargo built no {} (is `crate-type` \"cdylib\"?)", wasm.display());
        }
        Ok(wasm)
    } else if dir.join("app.py").is_file() {
        let wasm = dir.join("target/adapter.wasm");
        std::fs::create_dir_all(dir.join("target"))?;
        // `--stub-wasi`: the host grants an adapter no files or sockets, which componentize-py
        // would otherwise import (its clocks and randomness are stubbed with them).
        run(Command::new("componentize-py").current_dir(dir).args([
            "-d",
            "wit",
            "-w",
            "adapter",
            "componentize",
            "app",
            "-o",
            "target/adapter.wasm",
            "--stub-wasi",
        ]))?;
        Ok(wasm)
    } else if dir.join("tsconfig.json").is_file() && dir.join("package.json").is_file() {
        // TypeScript: the project's own `npm run build` compiles it with tsc and componentizes
        // the JavaScript into target/adapter.wasm (adapters/aagi-motor-ts is one).
        std::fs::create_dir_all(dir.join("target"))?;
        npm_install(dir, &["@bytecodealliance/componentize-js", "typescript"])?;
        run(Command::new("npm").current_dir(dir).args(["run", "build"]))?;
        Ok(dir.join("target/adapter.wasm"))
    } else if dir.join("app.js").is_file() && dir.join("package.json").is_file() {
        std::fs::create_dir_all(dir.join("target"))?;
        npm_install(dir, &["@bytecodealliance/componentize-js"])?;
        // Every WASI feature off, clocks and randomness (which the host grants) with the rest:
        // docs/authoring.md says so under its limits.
        run(Command::new("npx").current_dir(dir).args([
            "componentize-js",
            "app.js",
            "--wit",
            "wit",
            "-n",
            "adapter",
            "-d",
            "stdio",
            "random",
            "clocks",
            "http",
            "fetch-event",
            "-o",
            "target/adapter.wasm",
        ]))?;
        Ok(dir.join("target/adapter.wasm"))
    } else {
        bail!(
            "{} holds no Cargo.toml, app.py, or app.js or tsconfig.json with package.json: give an adapter project or a .wasm",
            dir.display()
        )
    }
}

/// Installs the project's npm packages unless `packages` are all there already (a second build
/// needs no registry); from package-lock.json when the project has one, and from npm's cache
/// where it holds them (`--prefer-offline`: the versions are pinned, so cached metadata is as good).
fn npm_install(dir: &Path, packages: &[&str]) -> Result<()> {
    if packages.iter().all(|p| dir.join("node_modules").join(p).is_dir()) {
        return Ok(());
    }
    let install = if dir.join("package-lock.json").is_file() {
        "ci"
    } else {
        "install"
    };
    run(Command::new("npm")
        .current_dir(dir)
        .args([install, "--prefer-offline", "--no-audit", "--no-fund"]))
}

fn run(command: &mut Command) -> Result<()> {
    let program = command.get_program().to_string_lossy().into_owned();
    let status = command
        .status()
        .with_context(|| format!("running {program} (is it installed?)"))?;
    if !status.success() {
        bail!("{program} failed ({status})");
    }
    Ok(())
}

/// `panelgate adapter test PATH [FIXTURES]`: builds PATH if it is a project, runs the fixtures
/// (PATH/fixtures by default) and prints one line per fixture and one per mismatch. Exit code 0
/// when every fixture matched.
pub async fn test(path: &Path, fixtures: Option<&Path>, target_dir: Option<&Path>) -> Result<i32> {
    let (wasm, default_fixtures) = if path.is_dir() {
        (build(path, target_dir)?, path.join("fixtures"))
    } else {
        let dir = path.parent().unwrap_or(Path::new("."));
        (path.to_path_buf(), dir.join("fixtures"))
    };
    let fixtures = fixtures.map(Path::to_path_buf).unwrap_or(default_fixtures);
    let bytes = std::fs::read(&wasm).with_context(|| format!("reading {}", wasm.display()))?;
    let reports = fixtures::run(&bytes, &fixtures).await?;
    let failed = reports.iter().filter(|r| !r.mismatches.is_empty()).count();
    for report in &reports {
        let verdict = if report.mismatches.is_empty() {
            "ok  "
        } else {
            "FAIL"
        };
        let about = report
            .description
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        println!("{verdict} {}{about}", report.file.display());
        for line in &report.mismatches {
            println!("       {line}");
        }
    }
    println!(
        "{} fixtures, {} passed, {failed} failed",
        reports.len(),
        reports.len() - failed
    );
    Ok(if failed == 0 { 0 } else { 1 })
}
