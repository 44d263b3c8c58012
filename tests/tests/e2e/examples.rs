//! Every canonical example under `examples/`, posted unmodified to its route in the order a
//! portal would, answers 2xx. An example file this test does not post fails it.

use std::collections::BTreeSet;

use crate::common::*;
use serde_json::Value;

struct Walk<'a> {
    h: &'a Harness,
    posted: BTreeSet<String>,
}

impl Walk<'_> {
    /// Posts `examples/{panel}/{name}.json` to `route` and returns the answer.
    async fn post(&mut self, panel: &str, name: &str, route: &str) -> Value {
        let (status, body) = self
            .h
            .post(&format!("/v1/panels/{panel}/{route}"), &example(panel, name))
            .await;
        assert!(
            status.is_success(),
            "{panel}/{name}.json → {route}: {status} {body}"
        );
        self.posted.insert(format!("{panel}/{name}"));
        body
    }
}

fn case(body: &Value) -> String {
    body["case_id"].as_str().expect("a case").to_string()
}

#[tokio::test]
async fn every_example_gets_a_2xx_from_its_route() {
    let h = start().await;
    let mut w = Walk {
        h: &h,
        posted: BTreeSet::new(),
    };

    // AAP life panel: quote, automatic cover, case by case through confirmation, claim, cancellations.
    w.post("A03", "quote", "quotes").await;
    let cac = case(&w.post("A03", "accept-cac", "policies").await);
    let cbc = case(&w.post("A03", "accept-cbc", "policies").await);
    h.a03
        .send_cbc_decision("DEMO-A03-0002", "DISETUJUI", 100_000, "CBC diterima")
        .await
        .unwrap();
    w.post("A03", "confirm", &format!("policies/{cbc}/confirm")).await;
    w.post("A03", "claim", "claims").await;
    w.post("A03", "cancel-inforce", &format!("policies/{cac}/cancel"))
        .await;
    let mut pending = example("A03", "accept-cbc");
    pending["interest"]["credit_life"]["account"] = "DEMO-A03-0003".into();
    let (_, body) = h.post("/v1/panels/A03/policies", &pending).await;
    w.post(
        "A03",
        "cancel-withdrawal",
        &format!("policies/{}/cancel", case(&body)),
    )
    .await;

    // AAP general panel.
    w.post("B03", "quote", "quotes").await;
    let b03 = case(&w.post("B03", "accept", "policies").await);
    w.post("B03", "claim", "claims").await;
    w.post("B03", "cancel-inforce", &format!("policies/{b03}/cancel"))
        .await;

    // AAGI motor.
    w.post("aagi-motor", "quote", "quotes").await;
    let car = case(&w.post("aagi-motor", "accept", "policies").await);
    w.post("aagi-motor", "accept-company", "policies").await;
    w.post("aagi-motor", "cancel", &format!("policies/{car}/cancel"))
        .await;

    // JULO: register, images, OTP, supporting data, the full application.
    let julo = case(&w.post("julo", "accept", "policies").await);
    for code in ["ktp_self", "selfie"] {
        let (status, _) = h
            .upload(
                &format!("/v1/panels/julo/policies/{julo}/documents"),
                code,
                "p.jpg",
                b"\xff\xd8\xff jpeg".to_vec(),
            )
            .await;
        assert!(status.is_success());
    }
    for name in [
        "confirm-send-otp",
        "confirm-verify-otp",
        "confirm-bpjs",
        "confirm-bank-import",
        "confirm-complete-application",
    ] {
        w.post("julo", name, &format!("policies/{julo}/confirm")).await;
    }

    // BCS: the life quote first, so a fresh simulator holds pmtAuthId 1001 as issue-life.json
    // carries (the README walk-through takes it from the quote's answer instead).
    w.post("bcs", "quote-life", "quotes").await;
    w.post("bcs", "issue-life", "policies").await;
    for name in ["quote-life-simulation", "quote-card-simulation", "quote-home"] {
        w.post("bcs", name, "quotes").await;
    }
    w.post("bcs", "accept-insurance-case", "policies").await;
    for name in ["notify-status-submit", "notify-status-update", "notify-payee"] {
        w.post("bcs", name, "notifications").await;
    }

    // Desk Coll's example runs in deskcoll_e2e (its panel needs the Python adapter's harness).
    w.posted.insert("deskcoll/collection-result".into());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for panel in std::fs::read_dir(&root).unwrap() {
        let panel = panel.unwrap().path();
        for file in std::fs::read_dir(&panel).unwrap() {
            let file = file.unwrap().path();
            let name = format!(
                "{}/{}",
                panel.file_name().unwrap().to_string_lossy(),
                file.file_stem().unwrap().to_string_lossy()
            );
            assert!(
                w.posted.contains(&name),
                "examples/{name}.json is not exercised by this test"
            );
        }
    }
}

/// Every walk-through of the README's "A case, by curl", as pasted (the demo's addresses swapped
/// for the test's), runs twice in a row on one host and one set of simulators without a single
/// error answer: each run takes what it needs from earlier answers, nothing from a fresh demo.
#[tokio::test]
async fn the_readme_walk_throughs_run_twice_without_a_rejection() {
    let (h, _deskcoll) =
        crate::deskcoll::start_deskcoll(crate::deskcoll::PASSWORD, crate::deskcoll::HASH_KEY).await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let start = readme
        .find("## A case, by curl")
        .expect("the walk-through section");
    let end = start + readme[start..].find("\n## ").expect("the next section");
    let mut script = String::new();
    for block in readme[start..end].split("```sh\n").skip(1) {
        script.push_str(&block[..block.find("```").expect("the block's end")]);
        script.push('\n');
    }
    let script = script
        .replace("http://127.0.0.1:8080", &h.base)
        .replace("http://127.0.0.1:9101", &h.a03.base_url())
        .replace("http://127.0.0.1:9105", &h.julo.base_url())
        .replace("examples/", &format!("{}/examples/", root.display()))
        .replace("demo-portal-token", PORTAL);
    assert!(
        !script.contains("127.0.0.1:9"),
        "a simulator address the test does not map: {script}"
    );
    for run in 1..=2 {
        let dir = tempfile::tempdir().unwrap();
        let output = tokio::process::Command::new("sh")
            .arg("-ec")
            .arg(&script)
            .current_dir(dir.path())
            .output()
            .await
            .expect("sh runs");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
        assert!(output.status.success(), "run {run}: {stderr}\n{stdout}");
        for text in [&stdout, &stderr] {
            assert!(
                !text.contains("\"error\":") && !text.contains("\"error\": "),
                "run {run} met an error answer:\n{text}"
            );
        }
    }
}
