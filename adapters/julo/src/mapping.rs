//! Canonical ⇄ JULO partnership, as pure functions that unit-test natively.

use panelgate_adapter_sdk::{date, errors, *};

use crate::partner::*;

pub const CURRENCY: &str = "IDR";
/// The case reference: JULO's `application_xid`, in every later path.
pub const APPLICATION_XID: &str = "application-xid";
/// Recorded on the case (valued with the `application_xid`) once JULO validated the OTP (#8):
/// spec 5.2 makes "Send OTP and Validate OTP" mandatory before complete customer data.
pub const OTP_VERIFIED: &str = "otp-verified";

fn digits(value: &str, n: usize) -> bool {
    value.len() == n && value.chars().all(|c| c.is_ascii_digit())
}

/// Spec 5.1: `email` is a "valid email". One `@` between a local part and a domain of
/// dot-separated labels, none of them empty, and no spaces: `budi.s@gmail` (no dot in the
/// domain) is refused here as JULO's pre-register check and registration refuse it.
fn valid_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !value.chars().any(char::is_whitespace)
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
}

fn applicant(parties: &[Party]) -> Option<(usize, &Person)> {
    parties
        .iter()
        .enumerate()
        .find_map(|(i, p)| match (&p.detail, p.role.clone()) {
            (PartyDetail::Person(person), PartyRole::Applicant | PartyRole::Insured) => Some((i, person)),
            _ => None,
        })
}

fn nik(person: &Person) -> Option<String> {
    person
        .identities
        .iter()
        .find(|i| i.kind == IdentityKind::NationalId)
        .map(|i| i.number.clone())
}

fn credit_limit(interest: &InsuredInterest, issues: &mut Issues) -> Option<CreditLimitApplication> {
    match interest {
        InsuredInterest::CreditLimit(c) => Some(c.clone()),
        _ => {
            issues.add("interest", "JULO grants credit limits: use `credit_limit`");
            None
        }
    }
}

/// What registration needs, checked at once: the NIK, e-mail, PIN and location.
pub struct Registrant {
    pub nik: String,
    pub email: String,
    pub pin: String,
    pub latitude: f64,
    pub longitude: f64,
}

pub fn registrant(application: &Application) -> Result<Registrant, AdapterError> {
    let mut issues = Issues::new();
    let person = applicant(&application.parties);
    if person.is_none() {
        issues.add("parties", "needs an `applicant` person");
    }
    let path = |i: usize, field: &str| format!("parties[{i}].detail.person.{field}");
    let nik = person.and_then(|(i, p)| {
        let nik = issues.require(nik(p), &path(i, "identities"));
        if nik.as_ref().is_some_and(|n| !digits(n, 16)) {
            issues.add(path(i, "identities"), "the NIK has 16 digits");
        }
        nik
    });
    let email = person.and_then(|(i, p)| {
        let email = issues.require(p.email.clone(), &path(i, "email"));
        if email.as_ref().is_some_and(|e| !valid_email(e)) {
            issues.add(path(i, "email"), "is not an e-mail address");
        }
        email
    });
    let credit = credit_limit(&application.interest, &mut issues);
    let pin = issues.require(
        credit.as_ref().and_then(|c| c.pin.clone()),
        "interest.credit_limit.pin",
    );
    if pin.as_ref().is_some_and(|p| !digits(p, 6)) {
        issues.add("interest.credit_limit.pin", "the PIN has 6 digits");
    }
    let location = issues.require(
        credit.as_ref().and_then(|c| c.location),
        "interest.credit_limit.location",
    );
    issues.finish(|| ())?;
    let location = location.ok_or_else(|| errors::protocol("unreachable"))?;
    Ok(Registrant {
        nik: nik.unwrap_or_default(),
        email: email.unwrap_or_default(),
        pin: pin.unwrap_or_default(),
        latitude: location.latitude,
        longitude: location.longitude,
    })
}

pub fn registration(r: &Registrant) -> Registration {
    Registration {
        username: r.nik.clone(),
        pin: r.pin.clone(),
        email: r.email.clone(),
        latitude: r.latitude,
        longitude: r.longitude,
    }
}

/// The case JULO's registration opens, and what it needs next (spec 5.2's prerequisites).
pub fn registered(data: &serde_json::Value) -> Result<Acceptance, AdapterError> {
    let xid = match &data["application_xid"] {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) if !s.is_empty() => s.clone(),
        _ => {
            return Err(errors::protocol(
                "registration succeeded without an application_xid",
            ));
        }
    };
    let need = |code: &str, name: &str, kind| Requirement {
        code: code.into(),
        name: name.into(),
        kind,
        status: RequirementStatus::Requested,
        due: None,
    };
    Ok(Acceptance {
        outcome: AcceptanceOutcome::Pending,
        status: CaseStatus::PendingDocuments,
        references: vec![Reference { kind: APPLICATION_XID.into(), value: xid }],
        policy: None,
        requirements: vec![
            need("ktp_self", "Photo of the KTP", RequirementKind::Document),
            need("selfie", "Selfie", RequirementKind::Document),
            need("otp", "Mobile number confirmed by OTP", RequirementKind::Verification),
        ],
        message: Some("registered with JULO; upload the KTP and a selfie, confirm the phone, then complete the application".into()),
        more_policies: Vec::new(),
        payment_due: None,
        extensions: None,
    })
}

fn rupiah(money: &Option<Money>, path: &str, issues: &mut Issues) -> u64 {
    match money {
        None => {
            issues.add(path, "is required by this partner");
            0
        }
        Some(m) if m.currency != CURRENCY => {
            issues.add(format!("{path}.currency"), "JULO deals in IDR");
            0
        }
        Some(m) => {
            let whole = m.amount.trim().strip_suffix(".00").unwrap_or(m.amount.trim());
            whole.parse().unwrap_or_else(|_| {
                issues.add(format!("{path}.amount"), "must be whole rupiah");
                0
            })
        }
    }
}

fn mobile(person: &Person, n: usize) -> Option<String> {
    person
        .phones
        .iter()
        .filter(|p| p.kind == PhoneKind::Mobile)
        .nth(n)
        .map(|p| p.number.clone())
}

fn relative(parties: &[Party], role: PartyRole) -> Option<(usize, &Party, &Person)> {
    parties
        .iter()
        .enumerate()
        .find_map(|(i, p)| match (&p.detail, p.role == role) {
            (PartyDetail::Person(person), true) => Some((i, p, person)),
            _ => None,
        })
}

fn valid_date(value: Option<String>, path: &str, issues: &mut Issues) -> Option<String> {
    if value.as_deref().is_some_and(|d| date::parse(d).is_none()) {
        issues.add(path, "must be a date as YYYY-MM-DD");
    }
    value
}

/// #2: the full application, with the spec's conditionals (6.3, 6.4) checked and every
/// missing field named.
pub fn customer_data(details: &ApplicationDetails) -> Result<CustomerData, AdapterError> {
    let mut issues = Issues::new();
    let Some((i, person)) = applicant(&details.parties) else {
        issues.add("step.complete_application.parties", "needs an `applicant` person");
        return Err(issues
            .finish(|| ())
            .err()
            .unwrap_or_else(|| errors::protocol("unreachable")));
    };
    let p = |field: &str| format!("step.complete_application.parties[{i}].detail.person.{field}");
    let a = |field: &str| format!("step.complete_application.application.{field}");
    let mut need =
        |value: Option<String>, path: String| issues.require_text(value, &path).unwrap_or_default();
    let address = person
        .addresses
        .iter()
        .find(|a| a.kind == AddressKind::Residence)
        .or(person.addresses.first());
    let mut data = CustomerData {
        fullname: need(Some(person.full_name.clone()), p("full_name")),
        birth_place: need(person.birth_place.clone(), p("birth_place")),
        dob: need(person.birth_date.clone(), p("birth_date")),
        mother_maiden_name: need(person.mother_maiden_name.clone(), p("mother_maiden_name")),
        address_street_num: need(address.and_then(|a| a.lines.first().cloned()), p("addresses")),
        address_provinsi: need(
            address.and_then(|a| a.province.clone()),
            p("addresses[].province"),
        ),
        address_kabupaten: need(address.and_then(|a| a.city.clone()), p("addresses[].city")),
        address_kecamatan: need(
            address.and_then(|a| a.district.clone()),
            p("addresses[].district"),
        ),
        address_kelurahan: need(
            address.and_then(|a| a.sub_district.clone()),
            p("addresses[].sub_district"),
        ),
        address_kodepos: need(
            address.and_then(|a| a.postal_code.clone()),
            p("addresses[].postal_code"),
        ),
        marital_status: need(person.marital_status.clone(), p("marital_status")),
        mobile_phone_1: need(mobile(person, 0), p("phones")),
        mobile_phone_2: mobile(person, 1).filter(|n| !n.trim().is_empty()),
        last_education: need(person.education.clone(), p("education")),
        home_status: need(details.application.home_status.clone(), a("home_status")),
        occupied_since: details.application.resident_since.clone(),
        loan_purpose: need(details.application.purpose.clone(), a("purpose")),
        loan_purpose_desc: need(details.application.purpose_detail.clone(), a("purpose_detail")),
        ..CustomerData::default()
    };
    data.gender = match person.gender {
        Some(Gender::Male) => "Pria".into(),
        Some(Gender::Female) => "Wanita".into(),
        _ => {
            issues.add(p("gender"), "is required: male or female (Pria / Wanita)");
            String::new()
        }
    };
    valid_date(
        Some(data.dob.clone()).filter(|d| !d.is_empty()),
        &p("birth_date"),
        &mut issues,
    );
    data.dependent = issues
        .require(details.application.dependents, &a("dependents"))
        .unwrap_or(0);

    // A relative's field, named by the relative's role as the portal gave it.
    let r = |role: &str, field: &str| format!("step.complete_application.parties[{role}].{field}");
    // Spec 6.3: who must be named depends on the marital status.
    let kin = relative(&details.parties, PartyRole::NextOfKin);
    match kin {
        Some((_, party, kin)) => {
            let mut need = |value, path: String| issues.require_text(value, &path).unwrap_or_default();
            data.kin_name = need(
                Some(kin.full_name.clone()),
                r("next_of_kin", "detail.person.full_name"),
            );
            data.kin_mobile_phone = need(mobile(kin, 0), r("next_of_kin", "detail.person.phones"));
            data.kin_relationship = need(party.relationship.clone(), r("next_of_kin", "relationship"));
            data.kin_dob = kin.birth_date.clone();
        }
        None => issues.add(
            "step.complete_application.parties",
            "needs a `next_of_kin` (JULO's kin)",
        ),
    }
    match data.marital_status.as_str() {
        "Lajang" => match relative(&details.parties, PartyRole::EmergencyContact) {
            Some((_, _, close)) => {
                data.close_kin_name = issues.require_text(
                    Some(close.full_name.clone()),
                    &r("emergency_contact", "detail.person.full_name"),
                );
                data.close_kin_mobile_phone =
                    issues.require_text(mobile(close, 0), &r("emergency_contact", "detail.person.phones"));
            }
            None => issues.add(
                "step.complete_application.parties",
                "a single applicant (Lajang) names a parent as `emergency_contact`",
            ),
        },
        "Menikah" => match relative(&details.parties, PartyRole::Spouse) {
            Some((_, _, spouse)) => {
                data.spouse_name = issues.require_text(
                    Some(spouse.full_name.clone()),
                    &r("spouse", "detail.person.full_name"),
                );
                data.spouse_mobile_phone =
                    issues.require_text(mobile(spouse, 0), &r("spouse", "detail.person.phones"));
                data.spouse_dob = spouse.birth_date.clone();
            }
            None => issues.add(
                "step.complete_application.parties",
                "a married applicant (Menikah) names a `spouse`",
            ),
        },
        _ => {}
    }

    // Spec 6.4: employer details unless the applicant does not work.
    let job = details.application.employment.as_ref();
    data.job_type = issues
        .require_text(job.map(|j| j.kind.clone()), &a("employment.kind"))
        .unwrap_or_default();
    if !data.job_type.is_empty() && !NOT_WORKING.contains(&data.job_type.as_str()) {
        let j = |v: Option<String>, f: &str, issues: &mut Issues| {
            issues.require_text(v, &a(&format!("employment.{f}")))
        };
        data.job_industry = j(job.and_then(|j| j.industry.clone()), "industry", &mut issues);
        data.job_description = j(
            job.and_then(|j| j.description.clone()),
            "description",
            &mut issues,
        );
        data.company_name = j(job.and_then(|j| j.employer.clone()), "employer", &mut issues);
        data.company_phone_number = j(
            job.and_then(|j| j.employer_phone.clone()),
            "employer_phone",
            &mut issues,
        );
        data.job_start = valid_date(
            j(job.and_then(|j| j.start_date.clone()), "start_date", &mut issues),
            &a("employment.start_date"),
            &mut issues,
        );
        data.payday = issues.require(job.and_then(|j| j.payday), &a("employment.payday"));
        if data.payday.is_some_and(|d| !(1..=31).contains(&d)) {
            issues.add(a("employment.payday"), "is a day of the month, 1 to 31");
        }
    }
    let finances = details.application.finances.as_ref();
    data.monthly_income = rupiah(
        &finances.and_then(|f| f.monthly_income.clone()),
        &a("finances.monthly_income"),
        &mut issues,
    );
    data.monthly_expenses = rupiah(
        &finances.and_then(|f| f.monthly_expenses.clone()),
        &a("finances.monthly_expenses"),
        &mut issues,
    );
    data.monthly_housing_cost = rupiah(
        &finances.and_then(|f| f.monthly_housing_cost.clone()),
        &a("finances.monthly_housing_cost"),
        &mut issues,
    );
    data.total_current_debt = rupiah(
        &finances.and_then(|f| f.current_debt.clone()),
        &a("finances.current_debt"),
        &mut issues,
    );
    match &details.application.bank_account {
        Some(account) => {
            let mut need = |value: &String, path: String| {
                issues
                    .require_text(Some(value.clone()), &path)
                    .unwrap_or_default()
            };
            data.bank_name = need(&account.bank, a("bank_account.bank"));
            data.bank_account_number = need(&account.number, a("bank_account.number"));
        }
        None => issues.add(a("bank_account"), "is required by this partner"),
    }
    let consent = |kind| {
        details
            .consents
            .iter()
            .find(|c| c.kind == kind)
            .map(|c| c.accepted)
    };
    data.is_verification_agreed = issues
        .require(
            consent(ConsentKind::DataVerification),
            "step.complete_application.consents[data_verification]",
        )
        .unwrap_or(false);
    data.is_term_accepted = issues
        .require(
            consent(ConsentKind::Terms),
            "step.complete_application.consents[terms]",
        )
        .unwrap_or(false);
    issues.finish(|| data)
}

/// JULO's failure: `success: false` with its error strings.
///
/// The spec gives no HTTP status for any failure, only the envelope (`"success": false, "errors":
/// ["error message"]`), so the status is read as HTTP means it, and the envelope says why:
/// - 401/403: `unauthorized`.
/// - 404 with the envelope: JULO does not know the application (an unknown `application_xid`),
///   `not-found`. A 404 without it is no answer about the application (a wrong `base-url`
///   gives one), so `partner-protocol`.
/// - 408, 429 and 5xx: JULO could not answer now, `partner-unavailable` (retryable) whatever the
///   body says; never a final refusal.
/// - Any other status with the envelope: JULO answers its business refusals (NIK or e-mail
///   already registered, wrong OTP, an OTP it could not send, a weak PIN) with HTTP 400 and it;
///   the message is JULO's word to the customer, so it is `rejected`.
/// - A 400 without JULO's envelope stays a malformed request.
pub fn failure(status: u16, body: &[u8]) -> AdapterError {
    let envelope: Option<Envelope> = serde_json::from_slice(body).ok();
    let messages = envelope
        .as_ref()
        .filter(|e| !e.success)
        .map(|e| {
            e.errors
                .iter()
                .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
                .collect::<Vec<_>>()
                .join("; ")
        })
        .filter(|m| !m.is_empty());
    let snippet = || panelgate_adapter_sdk::http::snippet(body);
    match (status, messages) {
        (401 | 403, m) => AdapterError::Unauthorized(m.unwrap_or_else(snippet)),
        (404, Some(m)) => AdapterError::NotFound(m),
        (408 | 429 | 500..=599, m) => AdapterError::PartnerUnavailable(match m {
            Some(m) => format!("HTTP {status}: {m}"),
            None => format!("HTTP {status}"),
        }),
        (_, Some(m)) => errors::rejected("julo", m),
        (400, None) => AdapterError::PartnerBadRequest(snippet()),
        (_, None) => errors::protocol(format!("HTTP {status}: {}", snippet())),
    }
}

/// The strong-PIN check's (#6) verdict: JULO's refusal is the portal's PIN named as weak;
/// any other failure (401, 5xx, an answer that is no envelope) stops registration as it is,
/// so a PIN JULO did not call strong never registers.
pub fn pin_verdict(answer: Result<serde_json::Value, AdapterError>) -> Result<(), AdapterError> {
    match answer {
        Ok(_) => Ok(()),
        Err(AdapterError::Rejected(weak)) => Err(AdapterError::InvalidRequest(vec![FieldIssue {
            path: "interest.credit_limit.pin".into(),
            message: format!("JULO finds the PIN weak: {}", weak.message),
        }])),
        Err(other) => Err(other),
    }
}

/// The image an upload (#3) carries, by its magic bytes: JULO's images are photos of the KTP
/// and the customer ("Images ktp_self/selfie/ crop_selfie", the curl's `upload=test.jpg`), so
/// JPEG and PNG; a PDF or anything else is refused before it leaves.
pub fn image_format(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("jpeg")
    } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else {
        None
    }
}

/// Refuses an upload that is not a JPEG or PNG image, naming the file.
pub fn check_image(data: &[u8]) -> Result<(), AdapterError> {
    match image_format(data) {
        Some(_) => Ok(()),
        None => Err(AdapterError::InvalidRequest(vec![FieldIssue {
            path: "file".into(),
            message: "JULO takes images (JPEG or PNG) only; this file is not one".into(),
        }])),
    }
}

/// Complete customer data (#2) only after the OTP was validated (spec 5.2: "Send OTP and
/// Validate OTP | YES | those API's need to hit for validate mobile phone").
pub fn otp_verified(case: &CaseRef) -> Result<(), AdapterError> {
    match case.references.iter().any(|r| r.kind == OTP_VERIFIED) {
        true => Ok(()),
        false => Err(AdapterError::Conflict(format!(
            "case `{}`: confirm the phone first (steps `send_otp` then `verify_otp`); JULO takes \
             the complete application only after the OTP is validated",
            case.id
        ))),
    }
}

/// A query value, percent-encoded in full: everything but RFC 3986's unreserved characters.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The lookup kinds this adapter serves: JULO's dropdowns and its address levels.
pub fn lookup_kinds() -> Vec<String> {
    DROPDOWNS
        .iter()
        .map(|d| d.to_string())
        .chain(ADDRESS_LEVELS.iter().map(|(k, _, _)| k.to_string()))
        .collect()
}

/// The path and query of a lookup, or the missing filter named.
pub fn lookup_query(request: &LookupRequest) -> Result<String, AdapterError> {
    let filter = |name: &str| {
        request
            .filters
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.clone())
    };
    let invalid = |path: &str, message: &str| {
        AdapterError::InvalidRequest(vec![FieldIssue {
            path: path.into(),
            message: message.into(),
        }])
    };
    if DROPDOWNS.contains(&request.kind.as_str()) {
        let mut query = format!("{BASE}/dropdown-data?data_selected={}", request.kind);
        if request.kind == "jobs" {
            let industry = filter("job_industry")
                .ok_or_else(|| invalid("job_industry", "`jobs` are listed per job_industry"))?;
            query.push_str(&format!("&job_industry={}", encode(&industry)));
        }
        return Ok(query);
    }
    let Some((_, level, parents)) = ADDRESS_LEVELS.iter().find(|(k, _, _)| *k == request.kind) else {
        return Err(invalid(
            "kind",
            &format!(
                "JULO has no `{}` list; it has {}",
                request.kind,
                lookup_kinds().join(", ")
            ),
        ));
    };
    let mut query = format!("{BASE}/address?get_address={level}");
    for parent in *parents {
        let value = filter(parent)
            .ok_or_else(|| invalid(parent, &format!("`{}` are listed per {parent}", request.kind)))?;
        query.push_str(&format!("&{parent}={}", encode(&value)));
    }
    Ok(query)
}

/// A list's items: strings, or (sub-districts) objects carrying the postal code, which the spec
/// promises ("province, cities, district, sub-district and postal code") without showing the
/// shape: `{"subdistrict": "Cigondewah Kaler", "zipcode": "40214"}`. The code is the name
/// (`address_kelurahan` takes it back); the label carries the postal code.
pub fn lookup_items(
    data: &serde_json::Value,
    parent: Option<String>,
) -> Result<Vec<LookupItem>, AdapterError> {
    let items = data
        .as_array()
        .ok_or_else(|| errors::protocol("a list came back without an array"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let (code, label) = lookup_item(v).ok_or_else(|| {
                errors::protocol(format!("list item {i} is neither a name nor a named place: {v}"))
            })?;
            Ok(LookupItem {
                code,
                label,
                parent: parent.clone(),
            })
        })
        .collect()
}

fn lookup_item(value: &serde_json::Value) -> Option<(String, String)> {
    if let Some(s) = value.as_str() {
        return Some((s.to_string(), s.to_string()));
    }
    let field = |names: &[&str]| {
        names.iter().find_map(|n| match &value[*n] {
            serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let name = field(&["subdistrict", "sub_district", "kelurahan"])?;
    Some(match field(&["zipcode", "zip_code", "kodepos"]) {
        Some(zip) => (name.clone(), format!("{name} ({zip})")),
        None => (name.clone(), name),
    })
}

#[cfg(test)]
mod tests;
