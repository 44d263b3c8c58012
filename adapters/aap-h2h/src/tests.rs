//! Operations against a mock host: what a panel's `line` allows before the panel is called.

use super::*;
use panelgate_adapter_sdk::mock::MockHost;

fn case(kind: CaseKind, reference: (&str, &str)) -> CaseRef {
    CaseRef {
        id: "c".into(),
        kind,
        status: CaseStatus::PendingDocuments,
        product: None,
        references: vec![Reference {
            kind: reference.0.into(),
            value: reference.1.into(),
        }],
        policy: None,
        parent: None,
    }
}

fn document(case: CaseRef) -> Document {
    Document {
        case,
        code: "B-BJTM-0005".into(),
        name: None,
        filename: "treadmill.pdf".into(),
        content_type: "application/pdf".into(),
        data: b"%PDF-1.4 test".to_vec(),
        extensions: None,
    }
}

fn panel(line: &str) -> MockHost {
    MockHost::new()
        .setting("base-url", "https://panel.example")
        .setting("line", line)
        .answer_json(
            200,
            &serde_json::json!({ "Status": "00", "Keterangan": "Berhasil" }),
        )
}

fn confirmation() -> Confirmation {
    Confirmation {
        case: case(CaseKind::Policy, (LOAN_ID, "PL004348")),
        step: ConfirmStep::OfferDecision(OfferDecision {
            accept: false,
            remarks: None,
        }),
        extensions: None,
    }
}

#[test]
fn a_general_panel_refuses_underwriting_uploads_and_confirmations_before_calling_the_panel() {
    // AAP #4 and #6: "Peruntukan: Panel asuransi jiwa".
    let host = panel("general").install();
    let upload = AapH2h::upload_document(document(case(CaseKind::Policy, (LOAN_ID, "24DW70026"))));
    assert!(matches!(upload, Err(AdapterError::Unsupported(_))), "{upload:?}");
    let confirm = AapH2h::confirm(confirmation());
    assert!(
        matches!(confirm, Err(AdapterError::Unsupported(_))),
        "{confirm:?}"
    );
    assert!(host.requests().is_empty());
}

#[test]
fn a_general_panel_still_takes_claim_documents() {
    // AAP #11: "Peruntukan: Panel asuransi jiwa/umum".
    let host = panel("general").install();
    let claim = case(CaseKind::Claim, (CLAIM, "PL002848/1032311000648"));
    AapH2h::upload_document(document(claim)).unwrap();
    assert_eq!(host.requests()[0].url, "https://panel.example/klaim/dokumen");
}

#[test]
fn a_life_panel_takes_underwriting_uploads_and_confirmations() {
    let host = panel("life")
        .answer_json(
            200,
            &serde_json::json!({ "Status": "00", "Keterangan": "ok", "EPolicy": "", "Policy_No": "" }),
        )
        .install();
    AapH2h::upload_document(document(case(CaseKind::Policy, (LOAN_ID, "24DW70026")))).unwrap();
    AapH2h::confirm(confirmation()).unwrap();
    let urls: Vec<_> = host.requests().iter().map(|r| r.url.clone()).collect();
    assert_eq!(
        urls,
        [
            "https://panel.example/akseptasi/dokumen",
            "https://panel.example/akseptasi/konfirmasi-cbc"
        ]
    );
}
