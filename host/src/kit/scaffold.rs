//! `panelgate adapter new`: a buildable adapter project outside any repository, with the SDK and
//! the contract it binds written into it, one fixture and a README.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The languages a project can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

/// The contract the templates and the SDK bind (the SDK's `wit` is this version).
pub const CONTRACT: &str = "2.0.0";

macro_rules! embedded {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../../", $path)))),*]
    };
}

/// The SDK, as files relative to the repository root.
const SDK: &[(&str, &str)] = embedded![
    "adapters/sdk/Cargo.toml",
    "adapters/sdk/src/lib.rs",
    "adapters/sdk/src/bindings.rs",
    "adapters/sdk/src/date.rs",
    "adapters/sdk/src/errors.rs",
    "adapters/sdk/src/form.rs",
    "adapters/sdk/src/host.rs",
    "adapters/sdk/src/http.rs",
    "adapters/sdk/src/mock.rs",
];

/// The contract, as files relative to the repository root.
const WIT: &[(&str, &str)] = embedded![
    "wit/2.0.0/config.wit",
    "wit/2.0.0/credentials.wit",
    "wit/2.0.0/http.wit",
    "wit/2.0.0/invocation.wit",
    "wit/2.0.0/log.wit",
    "wit/2.0.0/operations.wit",
    "wit/2.0.0/types.wit",
    "wit/2.0.0/world.wit",
];

const RUST_CARGO: &str = include_str!("template/rust/Cargo.toml.tmpl");
const RUST_LIB: &str = include_str!("template/rust/lib.rs.tmpl");
const PYTHON_APP: &str = include_str!("template/python/app.py.tmpl");
const JS_APP: &str = include_str!("template/js/app.js.tmpl");
const JS_PACKAGE: &str = include_str!("template/js/package.json.tmpl");
const PANEL: &str = include_str!("template/panel.json.tmpl");
const QUOTE: &str = include_str!("template/quote.json.tmpl");
const INVALID: &str = include_str!("template/invalid.json.tmpl");
const DOWN: &str = include_str!("template/down.json.tmpl");
const README: &str = include_str!("template/README.md.tmpl");

/// Writes project `name` in `parent/name`; refuses a folder that exists.
pub fn new(name: &str, lang: Lang, parent: &Path) -> Result<PathBuf> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        bail!("an adapter name is lowercase letters, digits and `-`, starting with a letter (got `{name}`)");
    }
    let dir = parent.join(name);
    if dir.exists() {
        bail!("{} exists; choose another name or folder", dir.display());
    }
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{lang}}", lang_name(lang))
    };
    let mut files: Vec<(PathBuf, String)> = vec![
        ("fixtures/panel.json".into(), fill(PANEL)),
        ("fixtures/quote.json".into(), fill(QUOTE)),
        ("fixtures/quote-without-product.json".into(), fill(INVALID)),
        ("fixtures/quote-partner-down.json".into(), fill(DOWN)),
    ];
    match lang {
        Lang::Rust => {
            files.push(("Cargo.toml".into(), fill(RUST_CARGO)));
            files.push(("src/lib.rs".into(), fill(RUST_LIB)));
            files.push((".gitignore".into(), "/target\n".into()));
            for (path, text) in SDK {
                let relative = path.strip_prefix("adapters/").unwrap_or(path);
                files.push((relative.into(), text.to_string()));
            }
            for (path, text) in WIT {
                files.push((Path::new("sdk/wit").join(file_name(path)), text.to_string()));
            }
            let wasm = format!("target/wasm32-wasip2/release/{}.wasm", name.replace('-', "_"));
            files.push((
                "README.md".into(),
                fill(README)
                    .replace(
                        "{{unit_tests}}",
                        "| the mapping's unit tests, natively, with the SDK's mock host | `cargo test` |\n",
                    )
                    .replace("{{wasm}}", &wasm),
            ));
        }
        Lang::Js | Lang::Python => {
            let (source, ignore) = match lang {
                Lang::Js => {
                    files.push(("package.json".into(), fill(JS_PACKAGE)));
                    (("app.js", JS_APP), "/target\n/node_modules\n")
                }
                _ => (("app.py", PYTHON_APP), "/target\n__pycache__/\n"),
            };
            files.push((source.0.into(), fill(source.1)));
            files.push((".gitignore".into(), ignore.into()));
            // componentize-js and componentize-py build against the contract beside the source.
            for (path, text) in WIT {
                files.push((Path::new("wit").join(file_name(path)), text.to_string()));
            }
            files.push((
                "README.md".into(),
                fill(README)
                    .replace("{{unit_tests}}", "")
                    .replace("{{wasm}}", "target/adapter.wasm"),
            ));
        }
    }
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap_or(&dir))?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(dir)
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn lang_name(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "Rust",
        Lang::Python => "Python",
        Lang::Js => "JavaScript",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_sdk_binds_the_contract_it_ships_with() {
        let bindings = SDK.iter().find(|(p, _)| p.ends_with("bindings.rs")).unwrap().1;
        assert!(
            bindings.contains("path: \"wit\""),
            "the SDK must find its WIT beside it"
        );
        let world = WIT.iter().find(|(p, _)| p.ends_with("world.wit")).unwrap().1;
        assert!(world.contains(&format!("panelgate:adapter@{CONTRACT}")));
        let manifest = SDK.iter().find(|(p, _)| p.ends_with("Cargo.toml")).unwrap().1;
        assert!(
            !manifest.contains(".workspace"),
            "the SDK builds outside this workspace"
        );
    }

    #[test]
    fn a_bad_name_or_an_existing_folder_is_refused() {
        let dir = std::env::temp_dir().join(format!("pg-kit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(new("Bad_Name", Lang::Rust, &dir).is_err());
        let made = new("ok-name", Lang::Python, &dir).unwrap();
        assert!(made.join("wit/world.wit").is_file() && made.join("fixtures/quote.json").is_file());
        assert!(
            new("ok-name", Lang::Python, &dir)
                .unwrap_err()
                .to_string()
                .contains("exists")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
