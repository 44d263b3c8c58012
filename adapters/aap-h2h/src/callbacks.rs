//! The four callbacks an insurer panel sends AAP (spec #5, #9, #12, #13), as canonical events
//! and the answer the panel expects.

use panelgate_adapter_sdk::*;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::mapping::{CLAIM, LOAN_ID, claim_key, money};
use crate::partner::{self, BAD_REQUEST_TEXT, Reply};

pub const PATHS: [(&str, &str); 4] = [
    (
        "post-status-pertanggung-cbc",
        "#5 the insurer's case-by-case underwriting decision",
    ),
    (
        "post-status-pembatalan",
        "#9 the insurer's decision on a cancellation",
    ),
    ("post-status", "#12 a claim's status"),
    ("post-pembayaran", "#13 a claim's payment, with the proof as PDF"),
];

/// Why a callback is refused: AAP answers 400 with its fixed text (spec §4).
struct Refusal(String);

pub fn handle(callback: &CallbackRequest) -> CallbackOutcome {
    let result = match callback.path.as_str() {
        "post-status-pertanggung-cbc" => cbc_decision(callback),
        "post-status-pembatalan" => cancellation_decision(callback),
        "post-status" => claim_status(callback),
        "post-pembayaran" => claim_payment(callback),
        other => Err(Refusal(format!("unknown callback `{other}`"))),
    };
    match result {
        Ok((event, message)) => CallbackOutcome {
            events: vec![event],
            reply: reply(200, "00", message),
        },
        Err(Refusal(why)) => {
            panelgate_adapter_sdk::log(
                bindings::panelgate::adapter::log::Level::Warn,
                &format!("refused callback: {why}"),
            );
            CallbackOutcome {
                events: Vec::new(),
                reply: CallbackReply {
                    status: 400,
                    content_type: "text/plain".into(),
                    body: BAD_REQUEST_TEXT.into(),
                },
            }
        }
    }
}

fn reply(status: u16, code: &str, message: &str) -> CallbackReply {
    let body = serde_json::to_vec(&Reply {
        status: code,
        keterangan: message,
    })
    .unwrap_or_default();
    CallbackReply {
        status,
        content_type: "application/json".into(),
        body,
    }
}

fn json<T: DeserializeOwned>(callback: &CallbackRequest) -> Result<T, Refusal> {
    match &callback.body {
        CallbackBody::Bytes(bytes) => serde_json::from_slice(bytes).map_err(|e| Refusal(e.to_string())),
        _ => Err(Refusal("expected a JSON body".into())),
    }
}

fn required(value: &str, name: &str) -> Result<(), Refusal> {
    if value.trim().is_empty() {
        Err(Refusal(format!("`{name}` is empty")))
    } else {
        Ok(())
    }
}

fn cbc_decision(callback: &CallbackRequest) -> Result<(Event, &'static str), Refusal> {
    let d: partner::CbcDecision = json(callback)?;
    required(&d.id_loan, "ID_Loan")?;
    let extra = money(&d.extra_premi);
    let loaded = d.extra_premi.as_f64().is_some_and(|v| v > 0.0);
    let (decision, status) = match d.status.as_str() {
        "MENUNGGU" => (UnderwritingDecisionKind::Waiting, CaseStatus::PendingUnderwriting),
        "DIPROSES" => (
            UnderwritingDecisionKind::InProgress,
            CaseStatus::PendingUnderwriting,
        ),
        // Approval is an offer (possibly with extra premium) the broker confirms with #6.
        "DISETUJUI" if loaded => (UnderwritingDecisionKind::ApprovedLoaded, CaseStatus::Offered),
        "DISETUJUI" => (UnderwritingDecisionKind::Approved, CaseStatus::Offered),
        "DITOLAK" => (UnderwritingDecisionKind::Declined, CaseStatus::Declined),
        other => {
            return Err(Refusal(format!(
                "Status `{other}` is not MENUNGGU, DIPROSES, DITOLAK or DISETUJUI"
            )));
        }
    };
    let event = Event {
        case_ref: Reference {
            kind: LOAN_ID.into(),
            value: d.id_loan.clone(),
        },
        dedup_key: format!("cbc-decision/{}/{}/{}", d.id_loan, d.status, extra.amount),
        status: Some(status),
        detail: EventDetail::UnderwritingDecision(UnderwritingDecision {
            decision,
            extra_premium: Some(extra),
            remarks: d.keterangan.filter(|k| !k.is_empty()),
        }),
        extensions: None,
    };
    Ok((event, "Berhasil mengubah status akseptasi"))
}

fn cancellation_decision(callback: &CallbackRequest) -> Result<(Event, &'static str), Refusal> {
    let d: partner::CancellationDecision = json(callback)?;
    required(&d.id_loan, "ID_Loan")?;
    required(&d.no_polis, "No_Polis")?;
    let (approved, status) = match d.status.as_str() {
        "DISETUJUI" => (true, CaseStatus::Cancelled),
        "DITOLAK" => (false, CaseStatus::InForce),
        other => return Err(Refusal(format!("Status `{other}` is not DISETUJUI or DITOLAK"))),
    };
    let event = Event {
        case_ref: Reference {
            kind: LOAN_ID.into(),
            value: d.id_loan.clone(),
        },
        dedup_key: format!("cancellation-decision/{}/{}/{}", d.id_loan, d.no_polis, d.status),
        status: Some(status),
        detail: EventDetail::CancellationDecision(CancellationDecision {
            approved,
            refund: None,
            remarks: None,
        }),
        extensions: None,
    };
    Ok((event, "Berhasil mengubah status pembatalan"))
}

fn claim_status(callback: &CallbackRequest) -> Result<(Event, &'static str), Refusal> {
    let d: partner::ClaimStatus = json(callback)?;
    required(&d.id_loan, "ID_Loan")?;
    required(&d.no_polis, "No_Polis")?;
    let status = match d.status.as_str() {
        "ANALISA" => CaseStatus::ClaimUnderReview,
        "TOLAK" => CaseStatus::ClaimRejected,
        "TAHAN" => CaseStatus::ClaimInformationRequested,
        "TERIMA" => CaseStatus::ClaimApproved,
        other => {
            return Err(Refusal(format!(
                "Status `{other}` is not ANALISA, TOLAK, TAHAN or TERIMA"
            )));
        }
    };
    let event = Event {
        case_ref: Reference {
            kind: CLAIM.into(),
            value: claim_key(&d.id_loan, &d.no_polis),
        },
        dedup_key: format!(
            "claim-status/{}/{}/{}/{}",
            d.id_loan, d.no_polis, d.status, d.keterangan
        ),
        status: Some(status),
        detail: EventDetail::ClaimStatus(ClaimStatusChange {
            status,
            remarks: Some(d.keterangan),
        }),
        extensions: None,
    };
    Ok((event, "Berhasil memperbaharui status klaim"))
}

fn claim_payment(callback: &CallbackRequest) -> Result<(Event, &'static str), Refusal> {
    let CallbackBody::Form(parts) = &callback.body else {
        return Err(Refusal("expected multipart/form-data".into()));
    };
    let field = |name: &str| {
        form::text_of(parts, name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Refusal(format!("`{name}` is missing")))
    };
    let (id_loan, no_polis, keterangan) = (field("ID_Loan")?, field("No_Polis")?, field("Keterangan")?);
    let amount = field("Nilai_Dibayarkan")?;
    let amount: serde_json::Number = amount
        .parse()
        .map_err(|_| Refusal(format!("Nilai_Dibayarkan `{amount}` is not a number")))?;
    let file = form::part(parts, "files").ok_or_else(|| Refusal("`files` is missing".into()))?;
    if !form::is_pdf(&file.data) {
        return Err(Refusal("`files` is not a PDF".into()));
    }
    let paid = money(&amount);
    let event = Event {
        case_ref: Reference {
            kind: CLAIM.into(),
            value: claim_key(&id_loan, &no_polis),
        },
        // Two part-payments of one amount differ only in their proof: its digest keeps them
        // two events, while a repeated delivery (the same bytes) stays one.
        dedup_key: format!(
            "claim-payment/{id_loan}/{no_polis}/{}/{}",
            paid.amount,
            hex::encode(Sha256::digest(&file.data))
        ),
        status: Some(CaseStatus::ClaimPaid),
        detail: EventDetail::ClaimPayment(ClaimPayment {
            amount: paid,
            proof: Some(Attachment {
                filename: file
                    .filename
                    .clone()
                    .unwrap_or_else(|| "bukti-pembayaran.pdf".into()),
                content_type: "application/pdf".into(),
                data: file.data.clone(),
            }),
            remarks: Some(keterangan),
        }),
        extensions: None,
    };
    Ok((event, "Berhasil mengupload dokumen pembayaran klaim"))
}

#[cfg(test)]
mod tests {
    //! The four callbacks against the seed's own examples, and each decision branch.

    use super::*;

    fn request(path: &str, body: serde_json::Value) -> CallbackRequest {
        CallbackRequest {
            path: path.into(),
            method: "POST".into(),
            headers: Vec::new(),
            query: None,
            body: CallbackBody::Bytes(serde_json::to_vec(&body).unwrap()),
        }
    }

    fn cbc(status: &str, extra: i64) -> CallbackRequest {
        // AAP #5's example request.
        request(
            "post-status-pertanggung-cbc",
            serde_json::json!({
                "ID_Loan": "PL004348", "Extra_Premi": extra, "Status": status, "Link_E_Polis": "",
                "Nomor_Polis": "", "Keterangan": "CBC diterima dan dikenakan biaya Rp 100,000",
                "Asuransi": "A03"
            }),
        )
    }

    fn decision(event: &Event) -> &UnderwritingDecision {
        match &event.detail {
            EventDetail::UnderwritingDecision(d) => d,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_seeds_cbc_approval_with_extra_premium_is_a_loaded_offer_acknowledged_00() {
        let outcome = handle(&cbc("DISETUJUI", 100000));
        assert_eq!(outcome.reply.status, 200);
        let reply: serde_json::Value = serde_json::from_slice(&outcome.reply.body).unwrap();
        assert_eq!(reply["Status"], "00");
        assert_eq!(reply["Keterangan"], "Berhasil mengubah status akseptasi");
        let event = &outcome.events[0];
        assert_eq!(event.case_ref.kind, LOAN_ID);
        assert_eq!(event.case_ref.value, "PL004348");
        assert_eq!(event.status, Some(CaseStatus::Offered));
        let d = decision(event);
        assert_eq!(d.decision, UnderwritingDecisionKind::ApprovedLoaded);
        assert_eq!(d.extra_premium.as_ref().unwrap().amount, "100000");
    }

    #[test]
    fn each_cbc_status_has_its_decision_and_ditolak_declines_the_case() {
        use CaseStatus as S;
        use UnderwritingDecisionKind as K;
        for (status, kind, case) in [
            ("MENUNGGU", K::Waiting, S::PendingUnderwriting),
            ("DIPROSES", K::InProgress, S::PendingUnderwriting),
            ("DISETUJUI", K::Approved, S::Offered),
            ("DITOLAK", K::Declined, S::Declined),
        ] {
            let (event, _) = cbc_decision(&cbc(status, 0)).ok().expect(status);
            assert_eq!(event.status, Some(case), "{status}");
            assert_eq!(decision(&event).decision, kind, "{status}");
        }
        let (declined, _) = cbc_decision(&cbc("DITOLAK", 0)).ok().unwrap();
        let (approved, _) = cbc_decision(&cbc("DISETUJUI", 0)).ok().unwrap();
        assert_ne!(declined.dedup_key, approved.dedup_key);
    }

    #[test]
    fn a_cbc_status_outside_the_seeds_list_or_without_id_loan_is_refused() {
        assert!(cbc_decision(&cbc("DITERIMA", 0)).is_err());
        let mut body = serde_json::json!({ "ID_Loan": " ", "Extra_Premi": 0, "Status": "DITOLAK" });
        assert!(cbc_decision(&request("post-status-pertanggung-cbc", body.clone())).is_err());
        body["ID_Loan"] = "PL004348".into();
        body["Extra_Premi"] = "seratus".into();
        assert!(cbc_decision(&request("post-status-pertanggung-cbc", body)).is_err());
    }

    fn cancellation(status: &str) -> CallbackRequest {
        // AAP #9's example request (its `Status` printed outside the braces).
        request(
            "post-status-pembatalan",
            serde_json::json!({ "ID_Loan": "23K00322", "No_Polis": "1032311000649", "Status": status }),
        )
    }

    #[test]
    fn a_cancellation_disetujui_cancels_and_ditolak_keeps_the_policy_in_force() {
        let (approved, message) = cancellation_decision(&cancellation("DISETUJUI")).ok().unwrap();
        assert_eq!(message, "Berhasil mengubah status pembatalan");
        assert_eq!(approved.status, Some(CaseStatus::Cancelled));
        let (declined, _) = cancellation_decision(&cancellation("DITOLAK")).ok().unwrap();
        assert_eq!(declined.status, Some(CaseStatus::InForce));
        assert_eq!(declined.case_ref.value, "23K00322");
        match &declined.detail {
            EventDetail::CancellationDecision(d) => assert!(!d.approved),
            other => panic!("{other:?}"),
        }
        assert!(cancellation_decision(&cancellation("MENUNGGU")).is_err());
        let no_policy = request(
            "post-status-pembatalan",
            serde_json::json!({ "ID_Loan": "23K00322", "No_Polis": "", "Status": "DITOLAK" }),
        );
        assert!(cancellation_decision(&no_policy).is_err());
    }

    fn claim(status: &str) -> CallbackRequest {
        // AAP #12's example request.
        request(
            "post-status",
            serde_json::json!({
                "ID_Loan": "TESANDI4", "Status": status, "Keterangan": "Kurang KTP",
                "No_Polis": "1032311000648"
            }),
        )
    }

    #[test]
    fn each_claim_status_maps_and_tolak_rejects_the_claim() {
        for (status, expected) in [
            ("ANALISA", CaseStatus::ClaimUnderReview),
            ("TOLAK", CaseStatus::ClaimRejected),
            ("TAHAN", CaseStatus::ClaimInformationRequested),
            ("TERIMA", CaseStatus::ClaimApproved),
        ] {
            let (event, _) = claim_status(&claim(status)).ok().expect(status);
            assert_eq!(event.status, Some(expected), "{status}");
            assert_eq!(event.case_ref.kind, CLAIM);
            assert_eq!(event.case_ref.value, "TESANDI4/1032311000648");
            match &event.detail {
                EventDetail::ClaimStatus(c) => {
                    assert_eq!(c.status, expected);
                    assert_eq!(c.remarks.as_deref(), Some("Kurang KTP"));
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(claim_status(&claim("DITOLAK")).is_err());
    }

    fn payment(file: &[u8]) -> CallbackRequest {
        let text = |name: &str, value: &str| FormPart {
            name: name.into(),
            filename: None,
            content_type: None,
            data: value.as_bytes().to_vec(),
        };
        CallbackRequest {
            path: "post-pembayaran".into(),
            method: "POST".into(),
            headers: Vec::new(),
            query: None,
            body: CallbackBody::Form(vec![
                text("ID_Loan", "TESANDI4"),
                text("Nilai_Dibayarkan", "600000000"),
                text("Keterangan", "Klaim dibayarkan"),
                text("No_Polis", "1032311000648"),
                FormPart {
                    name: "files".into(),
                    filename: Some("bukti.pdf".into()),
                    content_type: Some("application/pdf".into()),
                    data: file.to_vec(),
                },
            ]),
        }
    }

    #[test]
    fn a_claim_payment_carries_its_amount_and_pdf_proof() {
        let (event, message) = claim_payment(&payment(b"%PDF-1.4 proof")).ok().unwrap();
        assert_eq!(message, "Berhasil mengupload dokumen pembayaran klaim");
        assert_eq!(event.status, Some(CaseStatus::ClaimPaid));
        match &event.detail {
            EventDetail::ClaimPayment(p) => {
                assert_eq!(p.amount.amount, "600000000");
                assert_eq!(p.proof.as_ref().unwrap().filename, "bukti.pdf");
            }
            other => panic!("{other:?}"),
        }
        assert!(claim_payment(&payment(b"GIF89a")).is_err());
        assert!(claim_payment(&claim("TERIMA")).is_err());
    }

    #[test]
    fn two_part_payments_of_one_amount_are_two_events_and_a_repeated_delivery_is_one() {
        // AAP #13 carries ID_Loan, Nilai_Dibayarkan, Keterangan, No_Polis and the proof (`files`):
        // two instalments of the same amount differ only in their proof.
        let key = |proof: &[u8]| claim_payment(&payment(proof)).ok().unwrap().0.dedup_key;
        let first = key(b"%PDF-1.4 transfer 1");
        assert_ne!(first, key(b"%PDF-1.4 transfer 2"));
        assert_eq!(first, key(b"%PDF-1.4 transfer 1"));
        assert!(
            first.starts_with("claim-payment/TESANDI4/1032311000648/600000000/"),
            "{first}"
        );
    }

    #[test]
    fn status_callbacks_keep_their_dedup_keys() {
        let (cbc, _) = cbc_decision(&cbc("DISETUJUI", 100000)).ok().unwrap();
        assert_eq!(cbc.dedup_key, "cbc-decision/PL004348/DISETUJUI/100000");
        let (cancel, _) = cancellation_decision(&cancellation("DITOLAK")).ok().unwrap();
        assert_eq!(
            cancel.dedup_key,
            "cancellation-decision/23K00322/1032311000649/DITOLAK"
        );
        let (status, _) = claim_status(&claim("TAHAN")).ok().unwrap();
        assert_eq!(
            status.dedup_key,
            "claim-status/TESANDI4/1032311000648/TAHAN/Kurang KTP"
        );
    }
}
