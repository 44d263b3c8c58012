//! A real OCI registry for the tests: Debian's `docker-registry` (the CNCF distribution
//! registry), started on a loopback port the test picks, over a temporary storage folder.
//! `./dev test` installs the package; `cargo test` alone needs it installed.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs the registry.
pub const BINARY: &str = "/usr/bin/docker-registry";

pub struct Registry {
    child: Option<Child>,
    /// `127.0.0.1:PORT`, as references name it.
    pub addr: String,
    dir: tempfile::TempDir,
}

/// A user the registry takes with `htpasswd`: the name, the password, and its bcrypt hash (made
/// once with `crypt(3)`; the distribution registry reads bcrypt only).
pub const USER: (&str, &str, &str) = (
    "partner",
    "s3cret-registry-pa55word",
    "$2b$12$snPOEcPfTRLZSU0rpFRg5.TtNn/S07FEIypk4v/hwYtYnJYpZdDJ2",
);

impl Registry {
    /// Starts a registry; with `auth`, it takes only [`USER`] (Basic auth, over plain http on
    /// loopback).
    pub fn start(auth: bool) -> anyhow::Result<Registry> {
        anyhow::ensure!(
            Path::new(BINARY).exists(),
            "{BINARY} is missing: install Debian's docker-registry package (`apt-get install docker-registry`; `./dev test` does)"
        );
        let dir = tempfile::tempdir()?;
        // A port free now; the registry binds it a moment later.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            dir.path().join("data").display()
        );
        if auth {
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{}:{}\n", USER.0, USER.2))?;
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: panelgate-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config)?;
        let log = std::fs::File::create(dir.path().join("registry.log"))?;
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let mut registry = Registry {
            child: Some(child),
            addr,
            dir,
        };
        registry.wait_ready()?;
        Ok(registry)
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect(&self.addr).is_ok() {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                anyhow::bail!("the registry exited ({status}): {}", self.log());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the registry did not listen on {} within 20 s: {}",
                self.addr,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// `oci://ADDR/PATH`.
    pub fn reference(&self, path: &str) -> String {
        format!("oci://{}/{path}", self.addr)
    }

    /// The file the registry keeps blob `digest` (`sha256:...`) in.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// Stops the registry: the port answers no more.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}
