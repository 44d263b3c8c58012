//! Canonical ⇄ AAP H2H v2.0, as pure functions that unit-test natively.

use panelgate_adapter_sdk::date::Date;
use panelgate_adapter_sdk::{date, errors, form, *};
use serde_json::Number;

use crate::partner::*;

pub const CURRENCY: &str = "IDR";
/// Reference kind of the policy case: the Bank Jatim loan id links every call of a flow.
pub const LOAN_ID: &str = "loan-id";
/// Reference kind of a claim case: `{ID_Loan}/{No_Polis}`, so claim callbacks find the claim
/// and cancellation callbacks (which carry only the loan) find the policy.
pub const CLAIM: &str = "claim";

pub fn claim_key(id_loan: &str, no_polis: &str) -> String {
    format!("{id_loan}/{no_polis}")
}

/// Whole rupiah from a canonical amount; AAP's `Numeric` amounts are integers in every example.
pub fn rupiah(money: &Money, path: &str, issues: &mut Issues) -> Option<u64> {
    if money.currency != CURRENCY {
        issues.add(
            format!("{path}.currency"),
            format!("AAP panels deal in IDR, not `{}`", money.currency),
        );
        return None;
    }
    let amount = money.amount.trim();
    let whole = amount
        .strip_suffix(".00")
        .or_else(|| amount.strip_suffix(".0"))
        .unwrap_or(amount);
    match whole.parse::<u64>() {
        Ok(v) => Some(v),
        Err(_) => {
            issues.add(
                format!("{path}.amount"),
                "must be a whole, non-negative number of rupiah",
            );
            None
        }
    }
}

/// A canonical amount from an AAP number.
pub fn money(number: &Number) -> Money {
    let amount = match (number.as_u64(), number.as_i64(), number.as_f64()) {
        (Some(v), _, _) => v.to_string(),
        (_, Some(v), _) => v.to_string(),
        (_, _, Some(f)) if f.fract() == 0.0 => format!("{f:.0}"),
        _ => number.to_string(),
    };
    Money {
        amount,
        currency: CURRENCY.into(),
    }
}

fn insured(parties: &[Party]) -> Option<(usize, &Person)> {
    let person_in = |role: PartyRole| {
        parties
            .iter()
            .enumerate()
            .find_map(|(i, p)| match (&p.detail, p.role == role) {
                (PartyDetail::Person(person), true) => Some((i, person)),
                _ => None,
            })
    };
    person_in(PartyRole::Insured).or_else(|| person_in(PartyRole::Applicant))
}

/// The person's NIK (✓ in #1-#3), or an issue naming where it is missing or blank.
fn national_id(person: &Person, party: &str, issues: &mut Issues) -> Option<String> {
    let found = person
        .identities
        .iter()
        .enumerate()
        .find(|(_, id)| id.kind == IdentityKind::NationalId);
    match found {
        Some((j, id)) => issues.require_text(
            Some(id.number.clone()),
            &format!("{party}.identities[{j}].number"),
        ),
        None => {
            issues.add(format!("{party}.identities"), "needs a national_id (NIK)");
            None
        }
    }
}

/// A mandatory date, parsed once here: what is sent is formatted from the parsed value, never the
/// client's text (every date in the seed's examples is a plain `YYYY-MM-DD`).
fn valid_date(value: Option<&String>, path: &str, issues: &mut Issues) -> Option<Date> {
    match value {
        None => {
            issues.add(path, "is required by this partner");
            None
        }
        Some(v) => {
            let parsed = date::parse(v);
            if parsed.is_none() {
                issues.add(path, "must be a date as YYYY-MM-DD");
            }
            parsed
        }
    }
}

/// `Tenor` (✓, months) is the insurance term: none (0) or one whose end (akad + tenor) is past
/// any date is refused, never sent (nor an end date sent as `""`).
fn tenor_end(akad: Option<Date>, tenor: Option<u32>, issues: &mut Issues) -> Option<Date> {
    const PATH: &str = "interest.credit_life.tenor_months";
    match (akad, tenor) {
        (_, Some(0)) => {
            issues.add(PATH, "must be at least one month");
            None
        }
        (Some(akad), Some(tenor)) => {
            let end = date::add_months(akad, tenor);
            if end.is_none() {
                issues.add(PATH, "runs past 9999-12-31 from the contract date");
            }
            end
        }
        _ => None,
    }
}

/// AAP #2/#3 `Usia` (✓, "Usia nasabah"): a person born after the akad date has no age to send.
fn born_by(subject: Option<&Subject>, akad: Option<Date>, issues: &mut Issues) {
    if let (Some(s), Some(akad)) = (subject, akad)
        && s.birth_date > akad
    {
        issues.add(
            s.birth_path.clone(),
            "is after the contract (akad) date: AAP's `Usia` would be negative",
        );
    }
}

fn product(product: &Option<String>, issues: &mut Issues) -> Option<String> {
    match product.as_deref() {
        Some(p @ ("01" | "11")) => Some(p.to_string()),
        Some(_) => {
            issues.add("product", "must be `01` (non pegawai) or `11` (pegawai aktif)");
            None
        }
        None => {
            issues.add("product", "is required by this partner: `01` or `11`");
            None
        }
    }
}

/// The insured person, their NIK and birth date, with every missing piece reported at once.
struct Subject<'a> {
    person: &'a Person,
    nik: String,
    birth_date: Date,
    birth_path: String,
}

/// The loan, looked at on its own so that a fault of the person does not hide (or fake) the
/// loan's.
fn credit_life<'a>(interest: &'a InsuredInterest, issues: &mut Issues) -> Option<&'a Loan> {
    match interest {
        InsuredInterest::CreditLife(loan) => Some(loan),
        _ => {
            issues.add("interest", "AAP panels cover loans: use `credit_life`");
            None
        }
    }
}

/// `Nama_Nasabah` (✓ in #2/#3; a quote does not send it).
fn insured_name(parties: &[Party], issues: &mut Issues) -> Option<String> {
    let (i, person) = insured(parties)?;
    issues.require_text(
        Some(person.full_name.clone()),
        &format!("parties[{i}].detail.person.full_name"),
    )
}

fn subject<'a>(parties: &'a [Party], issues: &mut Issues) -> Option<Subject<'a>> {
    let Some((i, person)) = insured(parties) else {
        issues.add("parties", "needs an insured (or applicant) person");
        return None;
    };
    let party = format!("parties[{i}].detail.person");
    let nik = national_id(person, &party, issues);
    let birth_path = format!("{party}.birth_date");
    let birth_date = valid_date(person.birth_date.as_ref(), &birth_path, issues);
    Some(Subject {
        person,
        nik: nik?,
        birth_date: birth_date?,
        birth_path,
    })
}

pub fn premium_request(request: &QuoteRequest) -> Result<PremiumRequest, AdapterError> {
    let mut issues = Issues::new();
    let produk = product(&request.product, &mut issues);
    let subject = subject(&request.parties, &mut issues);
    let loan = credit_life(&request.interest, &mut issues);
    let akad = valid_date(
        loan.and_then(|l| l.contract_date.as_ref())
            .or(request.start_date.as_ref()),
        "interest.credit_life.contract_date",
        &mut issues,
    );
    let tenor = issues.require(
        loan.and_then(|l| l.tenor_months),
        "interest.credit_life.tenor_months",
    );
    tenor_end(akad, tenor, &mut issues);
    born_by(subject.as_ref(), akad, &mut issues);
    let sum = match request.sum_insured.as_ref().map(|m| ("sum_insured", m)).or(loan
        .and_then(|l| l.principal.as_ref())
        .map(|m| ("interest.credit_life.principal", m)))
    {
        Some((path, m)) => rupiah(m, path, &mut issues),
        None => {
            issues.add("sum_insured", "is required (or the loan's principal)");
            None
        }
    };
    issues.finish(|| ())?;
    let subject = subject.ok_or_else(|| errors::protocol("unreachable"))?;
    Ok(PremiumRequest {
        tanggal_lahir: date::format(subject.birth_date),
        tanggal_akad: akad.map(date::format).unwrap_or_default(),
        tenor: tenor.unwrap_or_default(),
        nilai_pertanggungan: sum.unwrap_or_default(),
        produk: produk.unwrap_or_default(),
        nik: subject.nik,
    })
}

pub fn requirements(dokumen: &[Dokumen], due: Option<&str>) -> Vec<Requirement> {
    dokumen
        .iter()
        .map(|d| Requirement {
            code: d.kode_dokumen.clone(),
            name: d.nama_dokumen.clone(),
            kind: RequirementKind::Document,
            status: RequirementStatus::Requested,
            due: due.map(str::to_string),
        })
        .collect()
}

pub fn quotation(response: PremiumResponse, product: Option<String>) -> Quotation {
    let underwriting = underwriting(&response.status_akseptasi, &response.dokumen);
    let accumulated = response.akumulasi.as_u64() == Some(1);
    Quotation {
        extensions: None,
        reference: None,
        options: vec![QuoteOption {
            product,
            plan: None,
            description: None,
            premium: money(&response.premi),
            frequency: Some(Frequency::Single),
            coverages: Vec::new(),
            taxes: None,
            fees: None,
            id: None,
            breakdown: Vec::new(),
            extensions: None,
        }],
        underwriting,
        acceptance_class: Some(response.status_akseptasi),
        accumulation: accumulated.then(|| money(&response.nilai_akumulasi)),
        requirements: requirements(&response.dokumen, None),
        valid_until: None,
        message: Some(response.keterangan),
    }
}

/// AAP #1: "Status_Akseptasi ... CAC => Automatic Cover A, B, C, D, dll": the letter classes are
/// automatic cover, issued by #2 at once, even where the panel lists underwriting documents (the
/// seed's own example answers "A" beside five of them). Any other class (the panels' `CBC`) needs
/// case-by-case underwriting (#3).
pub fn underwriting(class: &str, dokumen: &[Dokumen]) -> UnderwritingIndication {
    let class = class.trim();
    let automatic_cover =
        class == "CAC" || (class.len() == 1 && class.chars().all(|c| c.is_ascii_uppercase()));
    if automatic_cover || (class.is_empty() && dokumen.is_empty()) {
        UnderwritingIndication::Automatic
    } else {
        UnderwritingIndication::Refer
    }
}

pub fn acceptance_request(application: &Application) -> Result<AcceptanceRequest, AdapterError> {
    let mut issues = Issues::new();
    let produk = product(&application.product, &mut issues);
    let subject = subject(&application.parties, &mut issues);
    let name = insured_name(&application.parties, &mut issues);
    let loan = credit_life(&application.interest, &mut issues);
    let id_loan = issues.require_text(
        loan.and_then(|l| l.account.clone()),
        "interest.credit_life.account",
    );
    let branch = issues.require_text(loan.and_then(|l| l.branch.clone()), "interest.credit_life.branch");
    let tenor = issues.require(
        loan.and_then(|l| l.tenor_months),
        "interest.credit_life.tenor_months",
    );
    let akad = valid_date(
        loan.and_then(|l| l.contract_date.as_ref())
            .or(application.start_date.as_ref()),
        "interest.credit_life.contract_date",
        &mut issues,
    );
    let applied = valid_date(
        loan.and_then(|l| l.application_date.as_ref())
            .or(application.proposal_date.as_ref()),
        "interest.credit_life.application_date",
        &mut issues,
    );
    let sum = match application
        .sum_insured
        .as_ref()
        .or(loan.and_then(|l| l.principal.as_ref()))
    {
        Some(m) => rupiah(m, "sum_insured", &mut issues),
        None => issues.require(None, "sum_insured"),
    };
    // AAP 5.2: the premium is calculated by Bank Jatim and is mandatory.
    let premi = match &application.premium {
        Some(m) => rupiah(m, "premium", &mut issues),
        None => issues.require(None, "premium"),
    };
    let (jenis, ref_loan) = match loan.and_then(|l| l.transaction.clone()) {
        None | Some(LoanTransaction::NewLoan) => ("NEW", None),
        Some(LoanTransaction::TopUp(previous)) if previous.trim().is_empty() => {
            issues.add(
                "interest.credit_life.transaction.top_up",
                "names the loan topped up",
            );
            ("TOPUP", None)
        }
        Some(LoanTransaction::TopUp(previous)) => ("TOPUP", Some(previous)),
    };
    // The spec never says how the end date relates to the tenor; akad + tenor months it is,
    // unless the loan or the application states its own end.
    let by_tenor = tenor_end(akad, tenor, &mut issues);
    born_by(subject.as_ref(), akad, &mut issues);
    let end = match loan
        .and_then(|l| l.end_date.clone())
        .or(application.end_date.clone())
    {
        Some(end) => valid_date(Some(&end), "interest.credit_life.end_date", &mut issues),
        None => by_tenor,
    };
    issues.finish(|| ())?;
    let (Some(subject), Some(akad), Some(end)) = (subject, akad, end) else {
        return Err(errors::protocol("unreachable"));
    };
    // AAP 7.12: the spec's own examples break any age rule; we send age at last birthday on the akad date.
    let usia = date::age_on(subject.birth_date, akad);
    Ok(AcceptanceRequest {
        kode_cabang_bank: branch.unwrap_or_default(),
        id_loan: id_loan.unwrap_or_default(),
        tenor: tenor.unwrap_or_default(),
        nama_nasabah: name.unwrap_or_default(),
        nik: subject.nik,
        tanggal_lahir: date::format(subject.birth_date),
        nilai_pertanggungan: sum.unwrap_or_default(),
        tanggal_pengajuan: applied.map(date::format).unwrap_or_default(),
        tanggal_akad: date::format(akad),
        usia,
        tanggal_akhir_asuransi: date::format(end),
        premi: premi.unwrap_or_default(),
        produk: produk.unwrap_or_default(),
        jenis_transaksi: jenis.into(),
        ref_id_loan: ref_loan,
        pekerjaan: subject.person.occupation.clone(),
    })
}

pub fn issued(request: &AcceptanceRequest, response: PolicyResponse) -> Result<Acceptance, AdapterError> {
    if response.policy_no.trim().is_empty() {
        return Err(errors::protocol("success without `Policy_No`"));
    }
    Ok(Acceptance {
        extensions: None,
        outcome: AcceptanceOutcome::Issued,
        status: CaseStatus::InForce,
        references: vec![Reference {
            kind: LOAN_ID.into(),
            value: request.id_loan.clone(),
        }],
        policy: Some(Policy {
            number: response.policy_no,
            certificate: None,
            start_date: Some(request.tanggal_akad.clone()),
            end_date: Some(request.tanggal_akhir_asuransi.clone()),
            premium: Some(Money {
                amount: request.premi.to_string(),
                currency: CURRENCY.into(),
            }),
            document_link: Some(response.epolicy).filter(|l| !l.is_empty()),
            start_time: None,
            option_id: None,
            breakdown: Vec::new(),
            renewal_of: None,
            extensions: None,
        }),
        requirements: Vec::new(),
        message: Some(response.keterangan),
        more_policies: Vec::new(),
        payment_due: None,
    })
}

pub fn submitted(request: &AcceptanceRequest, response: CbcResponse) -> Acceptance {
    let requirements = requirements(&response.dokumen, None);
    Acceptance {
        outcome: AcceptanceOutcome::Pending,
        status: if requirements.is_empty() {
            CaseStatus::PendingUnderwriting
        } else {
            CaseStatus::PendingDocuments
        },
        references: vec![Reference {
            kind: LOAN_ID.into(),
            value: request.id_loan.clone(),
        }],
        policy: None,
        requirements,
        message: Some(response.keterangan),
        more_policies: Vec::new(),
        payment_due: None,
        extensions: None,
    }
}

/// The case's value of reference `kind`.
pub fn reference(case: &CaseRef, kind: &str) -> Result<String, AdapterError> {
    case.references
        .iter()
        .find(|r| r.kind == kind)
        .map(|r| r.value.clone())
        .ok_or_else(|| AdapterError::Conflict(format!("case `{}` has no `{kind}` reference", case.id)))
}

pub fn policy_number(case: &CaseRef) -> Result<String, AdapterError> {
    case.policy
        .as_ref()
        .map(|p| p.number.clone())
        .ok_or_else(|| AdapterError::Conflict(format!("case `{}` has no issued policy", case.id)))
}

/// AAP #8 "Pembatalan Pengajuan Akseptasi" withdraws an application (pengajuan) not yet accepted;
/// a policy already issued ("nasabah yang sudah terakseptasi") is cancelled by #7. Withdrawing it
/// is refused before AAP is asked, whatever the panel would answer.
pub fn withdrawable(case: &CaseRef) -> Result<(), AdapterError> {
    let pending = matches!(
        case.status,
        CaseStatus::Submitted
            | CaseStatus::PendingDocuments
            | CaseStatus::PendingUnderwriting
            | CaseStatus::Referred
            | CaseStatus::Offered
    );
    match &case.policy {
        Some(policy) => Err(AdapterError::Conflict(format!(
            "case `{}` holds issued policy `{}`: withdraw only a pending application (AAP #8); cancel an issued policy as `in_force` (AAP #7)",
            case.id, policy.number
        ))),
        None if !pending => Err(AdapterError::Conflict(format!(
            "case `{}` is {:?}, not a pending application: AAP #8 withdraws only an application awaiting acceptance",
            case.id, case.status
        ))),
        None => Ok(()),
    }
}

/// #4 or #11: one PDF per call, with the field casing each endpoint's spec uses.
pub fn upload_form(document: &Document) -> Result<(&'static str, Vec<FormPart>), AdapterError> {
    let mut issues = Issues::new();
    if !form::is_pdf(&document.data) {
        issues.add("file", "AAP panels take PDF documents only");
    }
    // `Kode_Dokumen` is ✓ in #4 and #11: an agreed code, never "".
    issues.require_text(Some(document.code.clone()), "code");
    issues.finish(|| ())?;
    let case = &document.case;
    match case.kind {
        CaseKind::Policy => Ok((
            "akseptasi/dokumen",
            vec![
                form::text("ID_Loan", &reference(case, LOAN_ID)?),
                form::text("Kode_Dokumen", &document.code),
                // AAP 5.4: `Files` with a capital F here, `files` in #11 and #13.
                form::file(
                    "Files",
                    &document.filename,
                    "application/pdf",
                    document.data.clone(),
                ),
            ],
        )),
        CaseKind::Claim => {
            let key = reference(case, CLAIM)?;
            let (id_loan, no_polis) = key
                .split_once('/')
                .ok_or_else(|| errors::protocol("bad claim reference"))?;
            Ok((
                "klaim/dokumen",
                vec![
                    form::text("ID_Loan", id_loan),
                    form::text("No_Polis", no_polis),
                    form::text("Kode_Dokumen", &document.code),
                    form::file(
                        "files",
                        &document.filename,
                        "application/pdf",
                        document.data.clone(),
                    ),
                ],
            ))
        }
        other => Err(AdapterError::Conflict(format!(
            "documents go to policy or claim cases, not {other:?}"
        ))),
    }
}

pub fn claim_registration(claim: &ClaimRequest, today: &str) -> Result<ClaimRegistration, AdapterError> {
    let mut issues = Issues::new();
    let id_loan = reference(&claim.policy, LOAN_ID)?;
    let no_polis = policy_number(&claim.policy)?;
    let kejadian = valid_date(Some(&claim.loss_date), "loss_date", &mut issues);
    let notified = claim.notified_date.clone().unwrap_or_else(|| today.to_string());
    let pengajuan = valid_date(Some(&notified), "notified_date", &mut issues);
    let sebab = issues.require_text(claim.cause.clone(), "cause");
    let estimate = match &claim.estimated_amount {
        Some(m) => rupiah(m, "estimated_amount", &mut issues),
        None => issues.require(None, "estimated_amount"),
    };
    // AAP #10: `Deskripsi` is mandatory (✓), though its text reads "Keterangan pengajuan klaim
    // apabila ditambahkan": refused here, as `Premi` is, rather than sent as "".
    let deskripsi = match claim.description.as_deref().map(str::trim) {
        Some(d) if !d.is_empty() => Some(d.to_string()),
        _ => issues.require(None, "description"),
    };
    if claim.claim_type.trim().is_empty() {
        issues.add(
            "claim_type",
            "is required (the agreed claim type, e.g. `Kredit_Macet`)",
        );
    }
    issues.finish(|| ClaimRegistration {
        id_loan,
        tanggal_pengajuan: pengajuan.map(date::format).unwrap_or_default(),
        tanggal_kejadian: kejadian.map(date::format).unwrap_or_default(),
        jenis_klaim: claim.claim_type.clone(),
        sebab_klaim: sebab.unwrap_or_default(),
        estimasi_nilai_klaim: estimate.unwrap_or_default(),
        deskripsi: deskripsi.unwrap_or_default(),
        no_polis,
    })
}

pub fn claim_receipt(request: &ClaimRegistration, response: ClaimResponse) -> ClaimReceipt {
    ClaimReceipt {
        status: CaseStatus::ClaimSubmitted,
        references: vec![Reference {
            kind: CLAIM.into(),
            value: claim_key(&request.id_loan, &request.no_polis),
        }],
        requirements: requirements(&response.dokumen, Some(&response.tenggat_waktu_klaim)),
        documents_due: Some(response.tenggat_waktu_klaim),
        message: Some(response.keterangan),
        extensions: None,
    }
}

/// Turns an AAP answer into the envelope's success body, or the typed error it means.
pub fn check_response(status: u16, body: &[u8]) -> Result<(), AdapterError> {
    match status {
        200 => {}
        400 => return Err(AdapterError::PartnerBadRequest(snippet(body))),
        401 | 403 => return Err(AdapterError::Unauthorized(snippet(body))),
        500..=599 => {
            return Err(AdapterError::PartnerUnavailable(format!(
                "HTTP {status}: {}",
                snippet(body)
            )));
        }
        other => {
            return Err(errors::protocol(format!(
                "HTTP {other} is not in the spec: {}",
                snippet(body)
            )));
        }
    }
    let envelope: Envelope = serde_json::from_slice(body)
        .map_err(|e| errors::protocol(format!("the body is not AAP's envelope ({e}): {}", snippet(body))))?;
    match envelope.status.as_str() {
        "00" => Ok(()),
        // AAP §4: every business or system failure is HTTP 200 with Status 01.
        // AAP §1-§13 document `01` only as "Skenario Internal Server Error (StatusCode 200)"
        // ("Terjadi kesalahan host to host", "... pada sistem"): the partner's 5xx, sent as 200.
        // So it is `partner-unavailable` as a 5xx is: a quote may be retried, and a state-changing
        // call is in doubt (the panel's system failed part-way; it may have acted).
        "01" => Err(AdapterError::PartnerUnavailable(format!(
            "Status 01: {}",
            envelope.keterangan
        ))),
        other => Err(errors::protocol(format!("unknown Status `{other}`"))),
    }
}

fn snippet(body: &[u8]) -> String {
    panelgate_adapter_sdk::http::snippet(body)
}

#[cfg(test)]
mod tests;
