//! The four callbacks an insurer panel sends AAP (spec #5, #9, #12, #13), as canonical events
//! and the answer the panel expects.

use panelgate_adapter_sdk::*;
use serde::de::DeserializeOwned;

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
        dedup_key: format!("claim-payment/{id_loan}/{no_polis}/{}", paid.amount),
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
    };
    Ok((event, "Berhasil mengupload dokumen pembayaran klaim"))
}
