//! Canonical ⇄ BCS policy management, as pure functions that unit-test natively.

use panelgate_adapter_sdk::{date, errors, *};
use serde_json::Value;

use crate::partner::{
    self as wire, CaseApplicantWire, GENERAL_PRODUCTS, LIFE_PRODUCTS, PaymentWire, PersonWire, QuestionWire,
};

pub const CURRENCY: &str = "COP";
/// References: BCS's policy number (`policyId`) and its insurability case number.
pub const POLICY_ID: &str = "bcs-policy";
pub const CASE_NUMBER: &str = "bcs-case";

/// Where a product goes: the life endpoints, or the general ones with a `productIdent`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Route {
    Life,
    General(u8),
}

/// The route for `product` and the interest, refusing a product the interest does not fit.
pub fn route(product: &Option<String>, interest: &InsuredInterest) -> Result<(String, Route), AdapterError> {
    let invalid = |m: &str| {
        AdapterError::InvalidRequest(vec![FieldIssue {
            path: "product".into(),
            message: m.into(),
        }])
    };
    let product = product
        .clone()
        .ok_or_else(|| invalid("is required: a BCS product code (6.4)"))?;
    let line = match interest {
        InsuredInterest::Life(_) | InsuredInterest::PersonalAccident(_) => 1,
        InsuredInterest::CardProtection(_) => 2,
        InsuredInterest::Property(_) => 3,
        _ => return Err(invalid("BCS covers life, personal accident, cards and homes")),
    };
    if line == 1 && LIFE_PRODUCTS.contains(&product.as_str()) {
        return Ok((product, Route::Life));
    }
    match GENERAL_PRODUCTS.iter().find(|(p, _)| *p == product) {
        Some((_, ident)) if *ident == line => Ok((product, Route::General(line))),
        Some((_, ident)) => Err(invalid(&format!(
            "product {product} is productIdent {ident}; the interest is line {line}"
        ))),
        None => Err(invalid(&format!("unknown BCS product `{product}` (6.4)"))),
    }
}

pub fn frequency(f: Option<Frequency>) -> &'static str {
    match f {
        Some(Frequency::SemiAnnual) => "2",
        Some(Frequency::Quarterly) => "3",
        Some(Frequency::Monthly) => "5",
        Some(Frequency::Single) => "6",
        Some(Frequency::Annual) | None => "1",
    }
}

fn frequency_of(code: &Value) -> Option<Frequency> {
    match code
        .as_u64()
        .or_else(|| code.as_str().and_then(|s| s.parse().ok()))
    {
        Some(1) => Some(Frequency::Annual),
        Some(2) => Some(Frequency::SemiAnnual),
        Some(3) => Some(Frequency::Quarterly),
        Some(5) => Some(Frequency::Monthly),
        Some(6) => Some(Frequency::Single),
        _ => None,
    }
}

/// Identity type codes: numeric for quotes and issuing (6.3c), letters for statuses (6.3a).
pub fn numeric_id(kind: IdentityKind) -> Option<&'static str> {
    Some(match kind {
        IdentityKind::TaxId | IdentityKind::CompanyRegistration => "1",
        IdentityKind::NationalId => "2",
        IdentityKind::ResidencePermit => "3",
        IdentityKind::Passport => "5",
        IdentityKind::CivilRegistry => "6",
        _ => return None,
    })
}

pub fn letter_id(kind: IdentityKind, payee: bool) -> Option<&'static str> {
    Some(match kind {
        IdentityKind::NationalId => "CC",
        IdentityKind::ResidencePermit => "CE",
        IdentityKind::Passport => "PA",
        IdentityKind::TaxId | IdentityKind::CompanyRegistration => "NI",
        // Only the payee list (6.3b) has these.
        IdentityKind::DrivingLicence if payee => "LC",
        IdentityKind::CivilRegistry if payee => "RC",
        IdentityKind::Other(_) if payee => "OT",
        _ => return None,
    })
}

fn money_number(m: &Money, path: &str, issues: &mut Issues) -> Option<f64> {
    if m.currency != CURRENCY {
        issues.add(
            format!("{path}.currency"),
            format!("BCS deals in COP, not `{}`", m.currency),
        );
        return None;
    }
    let v = m.amount.trim().parse::<f64>().ok().filter(|v| *v >= 0.0);
    if v.is_none() {
        issues.add(format!("{path}.amount"), "must be a non-negative decimal");
    }
    v
}

pub fn money(v: &Value) -> Option<Money> {
    let n = v.as_f64()?;
    let amount = if n.fract() == 0.0 {
        format!("{n:.0}")
    } else {
        format!("{n:.2}")
    };
    Some(Money {
        amount,
        currency: CURRENCY.into(),
    })
}

/// `DD-MM-YYYY` (simulation and quote) or ISO (issuing, cases) (spec 8.12).
#[derive(Clone, Copy)]
pub enum Dates {
    DayFirst,
    Iso,
}

fn birth(value: &Option<String>, style: Dates, path: &str, issues: &mut Issues) -> String {
    match value.as_deref().map(|d| (d, date::parse(d))) {
        Some((_, Some(d))) => match style {
            Dates::Iso => date::format(d),
            Dates::DayFirst => format!("{:02}-{:02}-{}", d.day(), d.month() as u8, d.year()),
        },
        Some(_) => {
            issues.add(path, "must be a date as YYYY-MM-DD");
            String::new()
        }
        None => {
            issues.add(path, "is required by this partner");
            String::new()
        }
    }
}

fn insured(parties: &[Party]) -> Option<(usize, &Party)> {
    let find = |role| parties.iter().enumerate().find(|(_, p)| p.role == role);
    find(PartyRole::Insured)
        .or_else(|| find(PartyRole::Applicant))
        .or_else(|| find(PartyRole::Policyholder))
}

/// A canonical party as BCS's person, every missing field named. A payee (`dates` none) needs
/// no birth date.
pub fn person(party: &Party, path: &str, dates: Option<Dates>, issues: &mut Issues) -> PersonWire {
    let PartyDetail::Person(p) = &party.detail else {
        issues.add(
            format!("{path}.detail"),
            "BCS insures people: a person is required",
        );
        return empty_person();
    };
    let path = format!("{path}.detail.person");
    let identity = p.identities.first();
    let id_type = identity.and_then(|i| numeric_id(i.kind.clone()));
    if id_type.is_none() {
        issues.add(
            format!("{path}.identities"),
            "needs a national_id, passport, residence_permit, tax_id or civil_registry",
        );
    }
    let gender = match p.gender {
        Some(Gender::Female) => "1",
        Some(Gender::Male) => "2",
        _ => "3",
    };
    let address = home_address(p).map(|a| {
        [
            a.lines.first().cloned().unwrap_or_default(),
            a.province.clone().unwrap_or_default(),
            a.city.clone().unwrap_or_default(),
            a.postal_code.clone().unwrap_or_default(),
        ]
    });
    PersonWire {
        address,
        person_type: "1",
        id_type: id_type.unwrap_or_default(),
        id_number: identity.map(|i| i.number.clone()).unwrap_or_default(),
        first_name: p.given_name.clone().unwrap_or_default(),
        middle_name: p.middle_name.clone().unwrap_or_default(),
        last_name: p.family_name.clone().unwrap_or_default(),
        second_last_name: p.second_family_name.clone().unwrap_or_default(),
        full_name: p.full_name.clone(),
        birth: match dates {
            Some(dates) => birth(&p.birth_date, dates, &format!("{path}.birth_date"), issues),
            None => String::new(),
        },
        gender,
        email: p.email.clone(),
        phones: p
            .phones
            .iter()
            .map(|ph| {
                let kind = match ph.kind {
                    PhoneKind::Mobile => "2",
                    PhoneKind::Home => "4",
                    PhoneKind::Work => "1",
                    PhoneKind::Other(_) => "5",
                };
                (
                    kind,
                    ph.country_code.clone().unwrap_or_else(|| "57".into()),
                    ph.number.clone(),
                )
            })
            .collect(),
    }
}

/// The person's home: the residence, else the first address that is not the workplace.
fn home_address(p: &Person) -> Option<&Address> {
    p.addresses
        .iter()
        .find(|a| a.kind == AddressKind::Residence)
        .or_else(|| p.addresses.iter().find(|a| a.kind != AddressKind::Work))
}

fn empty_person() -> PersonWire {
    PersonWire {
        address: None,
        person_type: "1",
        id_type: "",
        id_number: String::new(),
        first_name: String::new(),
        middle_name: String::new(),
        last_name: String::new(),
        second_last_name: String::new(),
        full_name: String::new(),
        birth: String::new(),
        gender: "3",
        email: None,
        phones: Vec::new(),
    }
}

fn insured_person(parties: &[Party], dates: Dates, issues: &mut Issues) -> PersonWire {
    match insured(parties) {
        Some((i, p)) => person(p, &format!("parties[{i}]"), Some(dates), issues),
        None => {
            issues.add("parties", "needs an `insured` person");
            empty_person()
        }
    }
}

fn extension(extensions: &Option<String>, key: &str) -> Option<String> {
    let value: Value = serde_json::from_str(extensions.as_deref()?).ok()?;
    value.get(key).and_then(|v| {
        v.as_str()
            .map(str::to_string)
            .or_else(|| v.as_u64().map(|n| n.to_string()))
    })
}

fn home_risk(interest: &InsuredInterest, issues: &mut Issues) -> Option<Value> {
    let InsuredInterest::Property(building) = interest else {
        return None;
    };
    let amount = building
        .building_value
        .as_ref()
        .and_then(|m| money_number(m, "interest.property.building_value", issues));
    if amount.is_none() && building.building_value.is_none() {
        issues.add(
            "interest.property.building_value",
            "is required: the insured capital",
        );
    }
    let address = building.address.as_ref();
    let line = issues.require(
        address.and_then(|a| a.lines.first().cloned()),
        "interest.property.address.lines",
    );
    let state = issues.require(
        address.and_then(|a| a.province.clone()),
        "interest.property.address.province",
    );
    let city = issues.require(
        address.and_then(|a| a.city.clone()),
        "interest.property.address.city",
    );
    let postal = address.and_then(|a| a.postal_code.clone()).unwrap_or_default();
    Some(wire::home_risk(
        amount.unwrap_or_default(),
        &line.unwrap_or_default(),
        &state.unwrap_or_default(),
        &city.unwrap_or_default(),
        &postal,
    ))
}

/// The body of a simulation (#4, #8) or a binding quote (#5, #9), and where it goes.
pub fn quote_body(
    request: &QuoteRequest,
    channel: &str,
    office: Option<String>,
) -> Result<(String, Value), AdapterError> {
    let (product, route) = route(&request.product, &request.interest)?;
    let mut issues = Issues::new();
    let freq = frequency(request.frequency);
    let channel = request.channel.clone().unwrap_or_else(|| channel.to_string());
    let risk = home_risk(&request.interest, &mut issues);
    let (path, body) = if !request.binding {
        match route {
            Route::Life => {
                let p = insured_person(&request.parties, Dates::DayFirst, &mut issues);
                (
                    "life/simulation",
                    wire::life_simulation(&product, &channel, &p.birth),
                )
            }
            // #8's home example (productIdent 3) prices the building and names no person:
            // a person given is sent, none is asked for.
            Route::General(3) if insured(&request.parties).is_none() => (
                "general/simulation",
                wire::general_simulation(3, &product, freq, &channel, None, risk),
            ),
            Route::General(ident) => {
                let p = insured_person(&request.parties, Dates::DayFirst, &mut issues);
                (
                    "general/simulation",
                    wire::general_simulation(ident, &product, freq, &channel, Some(&p.birth), risk),
                )
            }
        }
    } else {
        let p = insured_person(&request.parties, Dates::DayFirst, &mut issues);
        let plan = issues.require(request.plan.clone(), "plan").unwrap_or_default();
        let office = issues
            .require(
                extension(&request.extensions, "office").or(office),
                "extensions.office",
            )
            .unwrap_or_default();
        let coverages = request
            .coverages
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let amount = c
                    .sum_insured
                    .as_ref()
                    .and_then(|m| money_number(m, &format!("coverages[{i}].sum_insured"), &mut issues));
                wire::coverage(&c.code, amount)
            })
            .collect();
        let ident = match route {
            Route::Life => None,
            Route::General(ident) => Some(ident),
        };
        let mut body = wire::quote(ident, &product, freq, &office, &plan, &channel, &p, coverages);
        if let (Some(risk), Some(info)) = (risk, body["insuranceInfo"].as_object_mut()) {
            info.extend(risk.as_object().cloned().unwrap_or_default());
        }
        (
            if ident.is_none() {
                "life/quote"
            } else {
                "general/quote"
            },
            body,
        )
    };
    issues.finish(|| (format!("{}/{path}", wire::ROOT), body))
}

fn coverages_of(list: &Value) -> Vec<Coverage> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|c| Coverage {
            code: c["coverageId"].to_string().trim_matches('"').to_string(),
            name: c["desc"].as_str().map(str::to_string),
            sum_insured: money(&c["amt"]),
            premium: money(&c["insuranPremiumValue"]),
            deductible: money(&c["ccAcctRec"]["amt"]),
            rate: c["rate"].as_f64().map(|r| r.to_string()),
            excluded: false,
        })
        .collect()
}

/// A simulation's plans (#4, #8) or a quote (#5, #9) as canonical options.
pub fn quotation(answer: &Value, product: &str) -> Result<Quotation, AdapterError> {
    let (reference, options) = match answer["pmtReferences"]["pmtAuthId"]
        .as_u64()
        .map(|n| n.to_string())
        .or(answer["pmtReferences"]["pmtAuthId"].as_str().map(str::to_string))
    {
        Some(auth) => {
            let invoice = &answer["invoicePremium"];
            let premium = money(&invoice["fee"]["totalInsurableValue"])
                .ok_or_else(|| errors::protocol("a quote without invoicePremium.fee.totalInsurableValue"))?;
            let option = QuoteOption {
                product: Some(product.into()),
                plan: answer["product"]["idItem"].as_u64().map(|n| n.to_string()),
                description: answer["product"]["desc"].as_str().map(str::to_string),
                premium,
                frequency: frequency_of(&answer["product"]["freq"]),
                coverages: coverages_of(&answer["insuranceInfo"]["coverageInfo"]),
                taxes: money(&invoice["fee"]["amt"]),
                fees: None,
                id: None,
                breakdown: Vec::new(),
                extensions: None,
            };
            (Some(auth), vec![option])
        }
        None => {
            let plans = answer["insuranceInfo"]
                .as_array()
                .ok_or_else(|| errors::protocol("a simulation without insuranceInfo[]"))?;
            let options = plans
                .iter()
                .map(|plan| {
                    let p = &plan["product"];
                    Ok(QuoteOption {
                        product: Some(p["productClass"].to_string().trim_matches('"').to_string()),
                        // Spec 8.3: the text says `coverageId`; the example says `idItem`.
                        plan: p
                            .get("idItem")
                            .or(p.get("coverageId"))
                            .map(|v| v.to_string().trim_matches('"').to_string()),
                        description: p["desc"].as_str().map(str::to_string),
                        premium: money(&p["fee"]["totalInsurableValue"])
                            .ok_or_else(|| errors::protocol("a plan without a premium"))?,
                        frequency: frequency_of(&p["freq"]),
                        coverages: coverages_of(&plan["coverageInfo"]),
                        taxes: None,
                        fees: None,
                        id: None,
                        breakdown: Vec::new(),
                        extensions: None,
                    })
                })
                .collect::<Result<Vec<_>, AdapterError>>()?;
            (None, options)
        }
    };
    Ok(Quotation {
        reference,
        options,
        underwriting: UnderwritingIndication::Unknown,
        acceptance_class: None,
        accumulation: None,
        requirements: Vec::new(),
        valid_until: None,
        message: None,
        extensions: None,
    })
}

/// #6 / #10 body: issue from the quote's `pmtAuthId`.
pub fn issuing_body(
    application: &Application,
    channel: &str,
    office: Option<String>,
) -> Result<(String, Value), AdapterError> {
    let (product, route) = route(&application.product, &application.interest)?;
    let mut issues = Issues::new();
    let quote = issues
        .require(application.quote_reference.clone(), "quote_reference")
        .unwrap_or_default();
    let plan = issues
        .require(application.plan.clone(), "plan")
        .unwrap_or_default();
    let office = issues
        .require(
            extension(&application.extensions, "office").or(office),
            "extensions.office",
        )
        .unwrap_or_default();
    let payment = payment(application, &mut issues);
    let p = insured_person(&application.parties, Dates::Iso, &mut issues);
    if p.address
        .as_ref()
        .is_none_or(|[line, _, city, _]| line.is_empty() || city.is_empty())
    {
        issues.add(
            format!("{}.detail.person.addresses", insured_path(&application.parties)),
            "needs the insured's address with a line and a city (BCS's postAddr addr1 and cityId)",
        );
    }
    let risk = home_risk(&application.interest, &mut issues);
    let beneficiaries = application
        .parties
        .iter()
        .enumerate()
        .filter(|(_, b)| b.role == PartyRole::Beneficiary)
        .map(|(i, b)| {
            let share = issues
                .require(b.share_percent.clone(), &format!("parties[{i}].share_percent"))
                .unwrap_or_default();
            // Every beneficiary of the seed's examples carries its `relationshipType`, and BCS
            // gives no code list to default from: the portal says it, the adapter never guesses.
            let relationship = issues
                .require(b.relationship.clone(), &format!("parties[{i}].relationship"))
                .unwrap_or_default();
            wire::beneficiary(
                &person(b, &format!("parties[{i}]"), Some(Dates::Iso), &mut issues),
                &share,
                &relationship,
            )
        })
        .collect();
    let channel = application.channel.clone().unwrap_or_else(|| channel.to_string());
    let ident = match route {
        Route::Life => None,
        Route::General(ident) => Some(ident),
    };
    let body = wire::issuing(
        ident,
        &product,
        frequency(application.frequency),
        &office,
        &quote,
        &plan,
        &channel,
        &p,
        &payment,
        beneficiaries,
        risk,
    );
    let path = if ident.is_none() {
        "life/issuing"
    } else {
        "general/issuing"
    };
    issues.finish(|| (format!("{}/{path}", wire::ROOT), body))
}

fn insured_path(parties: &[Party]) -> String {
    insured(parties).map_or_else(|| "parties".into(), |(i, _)| format!("parties[{i}]"))
}

/// Spec 6.12: the bank codes of `ccAcctRec[].code` and `depAcctId[].bankId`.
pub const BANKS: [&str; 22] = [
    "1", "2", "6", "7", "8", "9", "12", "13", "19", "23", "32", "40", "51", "52", "53", "58", "60", "61",
    "62", "65", "507", "558",
];

/// #6/#10's payment: the card or the account BCS collects from, every missing part named.
fn payment(application: &Application, issues: &mut Issues) -> PaymentWire {
    let Some(pay) = application.payment.as_ref() else {
        issues.add("payment", "is required: card or account_debit");
        return PaymentWire::Card {
            bank: String::new(),
            number: String::new(),
        };
    };
    let bank = issues
        .require(pay.bank.clone(), "payment.bank")
        .unwrap_or_default();
    if !bank.is_empty() && !BANKS.contains(&bank.as_str()) {
        issues.add(
            "payment.bank",
            "is a BCS bank code (6.12), e.g. 32 Banco Caja Social",
        );
    }
    let number = issues
        .require(pay.account.clone(), "payment.account")
        .unwrap_or_default();
    match pay.method {
        PaymentMethod::Card => PaymentWire::Card { bank, number },
        PaymentMethod::AccountDebit => {
            // `depAcctId.acctType` has no code list of its own (the seed prints the card-type
            // table under it) and the canonical payment has no account type: extensions.
            let kind = issues
                .require(
                    extension(&application.extensions, "account_type"),
                    "extensions.account_type",
                )
                .unwrap_or_default();
            PaymentWire::Account { bank, kind, number }
        }
        _ => {
            issues.add("payment.method", "BCS collects by card or account_debit");
            PaymentWire::Card { bank, number }
        }
    }
}

pub fn issued(answer: &Value) -> Result<Acceptance, AdapterError> {
    let info = &answer["insuranceInfo"];
    let number = info["policyId"]
        .as_str()
        .map(str::to_string)
        .or(info["policyId"].as_u64().map(|n| n.to_string()));
    let number = number
        .filter(|n| !n.is_empty())
        .ok_or_else(|| errors::protocol("issued without insuranceInfo.policyId"))?;
    let certificate = info["certCode"]
        .as_str()
        .map(str::to_string)
        .or(info["certCode"].as_u64().map(|n| n.to_string()));
    Ok(Acceptance {
        extensions: None,
        outcome: AcceptanceOutcome::Issued,
        status: CaseStatus::InForce,
        references: vec![Reference {
            kind: POLICY_ID.into(),
            value: number.clone(),
        }],
        policy: Some(Policy {
            number,
            certificate,
            start_date: info["effDt"].as_str().map(str::to_string),
            end_date: info["endDt"].as_str().map(str::to_string),
            premium: money(&info["insuranPremiumValue"]),
            document_link: None,
            start_time: None,
            option_id: None,
            breakdown: Vec::new(),
            renewal_of: None,
            extensions: None,
        }),
        requirements: Vec::new(),
        message: info["cSpRefId"].as_str().map(|s| {
            format!("{s} {}", info["trnRquId"].as_str().unwrap_or_default())
                .trim()
                .to_string()
        }),
        more_policies: Vec::new(),
        payment_due: None,
    })
}

/// Settings the insurance-case body needs (spec 5.3's `channel` and `trnSrcInfo`).
pub struct CaseSettings {
    pub domain: String,
    pub user: String,
    pub bank_system: u8,
}

impl CaseSettings {
    /// The panel's `case-domain`, `case-user` and `bank-system` settings, held to #3's table:
    /// "channel.sPname … String | 15", "channel.user … String | 10" and "trnSrcInfo.code |
    /// Cases[].Entities[].BankSystemOrigin | Int | 1": a setting BCS would refuse is named here,
    /// before any call.
    pub fn new(domain: String, user: String, bank_system: &str) -> Result<CaseSettings, AdapterError> {
        let setting = |name: &str, value: &str, rule: &str| {
            errors::protocol(format!(
                "the panel's `{name}` setting is `{value}`: BCS's insurability case takes {rule}"
            ))
        };
        if domain.is_empty() || domain.chars().count() > 15 {
            return Err(setting(
                "case-domain",
                &domain,
                "a channel.sPname of 1 to 15 characters",
            ));
        }
        if user.is_empty() || user.chars().count() > 10 {
            return Err(setting(
                "case-user",
                &user,
                "a channel.user of 1 to 10 characters",
            ));
        }
        let digit = match bank_system.as_bytes() {
            [d @ b'0'..=b'9'] => d - b'0',
            _ => {
                return Err(setting(
                    "bank-system",
                    bank_system,
                    "a trnSrcInfo.code of one digit (Int | 1)",
                ));
            }
        };
        Ok(CaseSettings {
            domain,
            user,
            bank_system: digit,
        })
    }
}

/// #3: a debtor's (credit-life) application for a medical-examination case.
pub fn case_body(
    application: &Application,
    settings: &CaseSettings,
) -> Result<(String, Value), AdapterError> {
    let mut issues = Issues::new();
    let InsuredInterest::CreditLife(loan) = &application.interest else {
        return Err(AdapterError::InvalidRequest(vec![FieldIssue {
            path: "interest".into(),
            message: "an insurability case is for a credit application: use `credit_life`".into(),
        }]));
    };
    let product = match application.product.as_deref() {
        Some(p @ ("3701" | "3703" | "34VD")) => p.to_string(),
        _ => {
            issues.add("product", "is a case product type: 3701, 3703 or 34VD (6.4c)");
            String::new()
        }
    };
    let amount = match &loan.principal {
        Some(m) => money_number(m, "interest.credit_life.principal", &mut issues),
        None => issues.require(None, "interest.credit_life.principal"),
    };
    let request = issues.require(loan.account.clone(), "interest.credit_life.account");
    // "requestNumber … Número de solicitud enviado por el banco. | int | 15": digits only (a
    // sign or a 16th digit would go out as a number BCS refuses).
    let request: Option<u64> = request.and_then(|r| match r.parse() {
        Ok(n) if r.len() <= 15 && r.chars().all(|c| c.is_ascii_digit()) => Some(n),
        _ => {
            issues.add(
                "interest.credit_life.account",
                "is BCS's request number: at most 15 digits",
            );
            None
        }
    });
    let branch = issues
        .require(loan.branch.clone(), "interest.credit_life.branch")
        .unwrap_or_default();
    let created = issues
        .require(
            loan.application_date.clone(),
            "interest.credit_life.application_date",
        )
        .unwrap_or_default();
    let p = insured_person(&application.parties, Dates::Iso, &mut issues);
    let applicant = case_applicant(application, &mut issues);
    let city = insured(&application.parties)
        .and_then(|(_, party)| match &party.detail {
            PartyDetail::Person(person) => person.addresses.first().and_then(|a| a.city.clone()),
            _ => None,
        })
        .filter(|c| c.len() <= 5);
    let city = issues
        .require(city, "parties[insured].detail.person.addresses[0].city")
        .unwrap_or_default();
    let body = wire::insurance_case(
        &settings.domain,
        &settings.user,
        amount.unwrap_or_default(),
        &city,
        product == "34VD",
        &created,
        request.unwrap_or_default(),
        &branch,
        settings.bank_system,
        &product,
        &p,
        &applicant,
    );
    issues.finish(|| (format!("{}/insurance/case", wire::ROOT), body))
}

/// Digits of a phone number as #3's `Int` of at most `digits` digits.
fn phone_int(person: &Person, kind: PhoneKind, digits: usize, path: &str, issues: &mut Issues) -> u64 {
    let name = match kind {
        PhoneKind::Mobile => "mobile",
        PhoneKind::Home => "home",
        PhoneKind::Work => "work",
        PhoneKind::Other(_) => "other",
    };
    let Some(phone) = person.phones.iter().find(|p| p.kind == kind) else {
        issues.add(path, format!("needs a {name} phone (BCS's case requires it)"));
        return 0;
    };
    let number: String = phone.number.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    match number.parse::<u64>() {
        Ok(n) if number.len() <= digits => n,
        _ => {
            issues.add(
                path,
                format!("a {name} number for BCS is at most {digits} digits"),
            );
            0
        }
    }
}

/// An address line (45) and city code (5) of #3.
fn case_address(address: Option<&Address>, path: &str, what: &str, issues: &mut Issues) -> (String, String) {
    let Some(a) = address else {
        issues.add(
            path,
            format!("needs the applicant's {what} address (BCS's case requires it)"),
        );
        return Default::default();
    };
    let line = a.lines.first().cloned().unwrap_or_default();
    if line.is_empty() || line.chars().count() > 45 {
        issues.add(
            format!("{path}.lines"),
            "needs a first line of at most 45 characters",
        );
    }
    let city = a.city.clone().unwrap_or_default();
    if city.is_empty() || city.chars().count() > 5 {
        issues.add(format!("{path}.city"), "is BCS's city code, at most 5 characters");
    }
    (line, city)
}

/// The insurability statement (#3 `question[]`), from the application's questionnaire: each
/// answer's `question` is BCS's question number 1-99, its `answer` `yes` or `no` (or `true` /
/// `false`), its `details` the comment of at most 200 characters.
fn questions(questionnaire: &[Answer], issues: &mut Issues) -> Vec<QuestionWire> {
    const PATH: &str = "questionnaire";
    if questionnaire.is_empty() {
        issues.add(
            PATH,
            "is required: the insured's answers to BCS's insurability statement, e.g. [{\"question\": \"1\", \"answer\": \"no\"}]",
        );
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, q) in questionnaire.iter().enumerate() {
        let ident = q
            .question
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|n| (1..=99).contains(n));
        let answer = match q.answer.trim().to_ascii_lowercase().as_str() {
            "yes" | "true" => Some(true),
            "no" | "false" => Some(false),
            _ => None,
        };
        let comment = q.details.clone().unwrap_or_default();
        let comment = (comment.chars().count() <= 200).then_some(comment);
        match (ident, answer, comment) {
            (Some(ident), Some(answer), Some(comment)) => out.push(QuestionWire {
                ident,
                answer,
                comment,
            }),
            (None, _, _) => issues.add(format!("{PATH}[{i}].question"), "is a question number 1-99"),
            (_, None, _) => issues.add(format!("{PATH}[{i}].answer"), "is `yes` or `no`"),
            (_, _, None) => issues.add(
                format!("{PATH}[{i}].details"),
                "is text of at most 200 characters",
            ),
        }
    }
    out
}

/// The #3 applicant fields beyond the person: identity as BCS's case takes it, plan,
/// workplace, home, phones, occupation and the insurability statement.
fn case_applicant(application: &Application, issues: &mut Issues) -> CaseApplicantWire {
    let plan = issues
        .require(application.plan.clone(), "plan")
        .unwrap_or_default();
    if plan.chars().count() > 3 {
        issues.add("plan", "BCS's planRequested is at most 3 characters");
    }
    let questions = questions(&application.questionnaire, issues);
    let (path, person) = match insured(&application.parties) {
        Some((
            i,
            Party {
                detail: PartyDetail::Person(p),
                ..
            },
        )) => (format!("parties[{i}].detail.person"), p),
        // insured_person has named the missing person already.
        _ => {
            return CaseApplicantWire {
                plan,
                questions,
                ..Default::default()
            };
        }
    };
    let identity = person.identities.first();
    // #3's example: "govIssueIdentType": "CC", the letter codes of #1/#2 (6.3a).
    let id_type = identity
        .and_then(|i| letter_id(i.kind.clone(), false))
        .unwrap_or_default();
    if id_type.is_empty() {
        issues.add(
            format!("{path}.identities"),
            "BCS's case takes national_id, residence_permit, passport or tax_id",
        );
    }
    // "identSerialNum … Número de identificación del solicitante. | Int | 15".
    let id_number = match identity.map(|i| i.number.parse::<u64>()) {
        Some(Ok(n)) if identity.is_some_and(|i| i.number.len() <= 15) => n,
        _ => {
            issues.add(
                format!("{path}.identities[0].number"),
                "BCS's case takes a numeric identification of at most 15 digits",
            );
            0
        }
    };
    let work = person.addresses.iter().find(|a| a.kind == AddressKind::Work);
    let (work_address, work_city) = case_address(work, &format!("{path}.addresses[work]"), "work", issues);
    let (home_address, home_city) = case_address(
        home_address(person),
        &format!("{path}.addresses[residence]"),
        "home",
        issues,
    );
    let phones = format!("{path}.phones");
    let work_phone = phone_int(person, PhoneKind::Work, 7, &format!("{phones}[work]"), issues);
    let cell_phone = phone_int(
        person,
        PhoneKind::Mobile,
        10,
        &format!("{phones}[mobile]"),
        issues,
    );
    let home_phone = phone_int(person, PhoneKind::Home, 7, &format!("{phones}[home]"), issues);
    // "businessOcucupation.certcode … Ocupación del solicitante. | Int | 4"; the example sends
    // "05", so the code goes out as the digits the portal gave, leading zero kept.
    let occupation = person.occupation.clone().unwrap_or_default();
    if occupation.is_empty() || occupation.len() > 4 || !occupation.chars().all(|c| c.is_ascii_digit()) {
        issues.add(
            format!("{path}.occupation"),
            "is BCS's occupation code (certcode), up to 4 digits",
        );
    }
    CaseApplicantWire {
        id_type,
        id_number,
        plan,
        work_address,
        work_city,
        work_phone,
        cell_phone,
        home_city,
        home_address,
        home_phone,
        occupation,
        questions,
    }
}

pub fn case_opened(answer: &Value, application: &Application) -> Result<Acceptance, AdapterError> {
    let info = &answer["insuranceInfo"];
    // #3 answers Visual Time's own outcome inside `insuranceInfo`, not at the top: "insuranceInfo.
    // responseType.value | Devuelve el estado de la transaccion", "insuranceInfo.responseDetail.
    // errorCode | Devuelve codigo de error encontrado". An HTTP 200 that carries an error there
    // opened no case.
    if is_error(info) {
        let envelope: Option<wire::Envelope> = serde_json::from_value(info.clone()).ok();
        let (kind, code, message) = envelope_parts(envelope.as_ref());
        return Err(errors::rejected(code.unwrap_or(kind), message));
    }
    let case = info["policyId"]
        .as_u64()
        .map(|n| n.to_string())
        .or(info["policyId"].as_str().map(str::to_string));
    let case = case.ok_or_else(|| errors::protocol("a case without insuranceInfo.policyId"))?;
    let mut references = vec![Reference {
        kind: CASE_NUMBER.into(),
        value: case,
    }];
    if let InsuredInterest::CreditLife(Loan {
        account: Some(account),
        ..
    }) = &application.interest
    {
        references.push(Reference {
            kind: "credit-application".into(),
            value: account.clone(),
        });
    }
    Ok(Acceptance {
        outcome: AcceptanceOutcome::Pending,
        status: CaseStatus::PendingUnderwriting,
        references,
        policy: None,
        requirements: vec![Requirement {
            code: "medical-examinations".into(),
            name: "Medical examinations (GestionDeExamenesMedicos)".into(),
            kind: RequirementKind::MedicalExamination,
            status: RequirementStatus::Requested,
            due: None,
        }],
        message: Some("insurability case created in Visual Time".into()),
        more_policies: Vec::new(),
        payment_due: None,
        extensions: None,
    })
}

pub const STATUS_CODES: [&str; 17] = [
    "SE", "AP", "NE", "DE", "NR", "AE", "AG", "CM", "PC", "AN", "AV", "DI", "FS", "IT", "PE", "PS", "SO",
];

/// #1 / #2: the status body, with #2's types and lengths (spec 5.2) checked.
pub fn status_body(
    report: &ApplicationStatusReport,
    source: &str,
) -> Result<(String, bool, Value), AdapterError> {
    let mut issues = Issues::new();
    let base = "application_status";
    let code = issues
        .require(report.status_code.clone(), &format!("{base}.status_code"))
        .unwrap_or_default();
    if !code.is_empty() && !STATUS_CODES.contains(&code.as_str()) {
        issues.add(
            format!("{base}.status_code"),
            format!("is one of {}", STATUS_CODES.join(" ")),
        );
    }
    let mut length = |value: &str, max: usize, field: &str| {
        if value.chars().count() > max {
            issues.add(
                format!("{base}.{field}"),
                format!("BCS takes at most {max} characters"),
            );
        }
    };
    length(&report.application_number, 15, "application_number");
    length(&report.applicant.number, 30, "applicant.number");
    let product = report.product.clone().unwrap_or_default();
    length(&product, 4, "product");
    let observation = report.observation.clone().unwrap_or_default();
    length(&observation, 200, "observation");
    // "pmtsPlanProdType | Plan Asignado | String | … maxLength: 3"
    if let Some(plan) = &report.plan {
        length(plan, 3, "plan");
    }
    // "personInfo.personType | Tipo solicitante | String | … maxLength: 15"
    if let Some(applicant_type) = &report.applicant_type {
        length(applicant_type, 15, "applicant_type");
    }
    // "coverageInfo[].coverageId | Código de Amparo | String | … maxLength: 10" and
    // "coverageInfo[].percentage | Porcentaje Prima | String | maxLength: 3".
    for (i, c) in report.coverages.iter().enumerate() {
        length(&c.code, 10, &format!("coverages[{i}].code"));
        if let Some(percent) = &c.premium_percent {
            length(percent, 3, &format!("coverages[{i}].premium_percent"));
        }
    }
    if product.is_empty() {
        issues.add(format!("{base}.product"), "is required (BCS product type)");
    }
    if observation.is_empty() {
        issues.add(format!("{base}.observation"), "is required");
    }
    let client = client_status(report.status, &code);
    if client.is_none() {
        issues.add(
            format!("{base}.status"),
            "has no BCS client status (SE AP NE DE NR): use a pending, approved, rejected or withdrawn status",
        );
    }
    let id_type = letter_id(report.applicant.kind.clone(), false);
    if id_type.is_none() {
        issues.add(
            format!("{base}.applicant.kind"),
            "BCS takes national_id, residence_permit, passport or tax_id here",
        );
    }
    let since = issues
        .require(
            report.insurability_date.clone(),
            &format!("{base}.insurability_date"),
        )
        .unwrap_or_default();
    if !since.is_empty() && date::parse(&since).is_none() {
        issues.add(
            format!("{base}.insurability_date"),
            "must be a date as YYYY-MM-DD",
        );
    }
    let case_number = issues
        .require(report.case_number.clone(), &format!("{base}.case_number"))
        .unwrap_or_default();
    if !case_number.chars().all(|c| c.is_ascii_digit()) {
        issues.add(format!("{base}.case_number"), "is numeric");
    }
    if report
        .extra_premium_percent
        .as_ref()
        .is_some_and(|p| p.is_empty() || p.len() > 5 || !p.chars().all(|c| c.is_ascii_digit()))
    {
        issues.add(format!("{base}.extra_premium_percent"), "is up to 5 digits");
    }
    let coverages = report
        .coverages
        .iter()
        .map(|c| wire::status_coverage(&c.code, c.excluded, c.premium_percent.as_deref()))
        .collect();
    let body = wire::status(
        source,
        &code,
        &report.application_number,
        &product,
        id_type.unwrap_or_default(),
        &report.applicant.number,
        client.unwrap_or_default(),
        report.applicant_type.as_deref(),
        &since,
        &observation,
        report.plan.as_deref(),
        report.extra_premium_percent.as_deref(),
        coverages,
        &case_number,
    );
    let path = if report.update {
        "status-update"
    } else {
        "status-submit"
    };
    issues.finish(|| (format!("{}/{path}", wire::ROOT), report.update, body))
}

/// The client's status (spec 5.2's "Client status table": SE AP NE DE NR) from the canonical
/// status, apart from the application's own code (`statusCode`, seventeen values). "NR"
/// (Negado Relacionado) is a rejection the application's code names as such.
pub fn client_status(status: CaseStatus, application_code: &str) -> Option<&'static str> {
    Some(match status {
        CaseStatus::Submitted
        | CaseStatus::PendingDocuments
        | CaseStatus::PendingUnderwriting
        | CaseStatus::Referred
        | CaseStatus::Offered => "SE",
        CaseStatus::ApplicationApproved | CaseStatus::InForce => "AP",
        CaseStatus::ApplicationRejected | CaseStatus::Declined if application_code == "NR" => "NR",
        CaseStatus::ApplicationRejected | CaseStatus::Declined => "NE",
        CaseStatus::Withdrawn => "DE",
        _ => return None,
    })
}

/// #11: a payee the customer registers.
pub fn payee_body(p: &PayeeRegistration) -> Result<(String, Value), AdapterError> {
    let mut issues = Issues::new();
    let customer_type = letter_id(p.customer.kind.clone(), true);
    if customer_type.is_none() {
        issues.add("payee_registration.customer.kind", "has no BCS payee code (6.3b)");
    }
    let payee = person(&p.payee, "payee_registration.payee", None, &mut issues);
    let PartyDetail::Person(person) = &p.payee.detail else {
        return issues.finish(unreachable_body);
    };
    let identity = person.identities.first();
    let payee_type = identity.and_then(|i| letter_id(i.kind.clone(), true));
    if payee_type.is_none() {
        issues.add(
            "payee_registration.payee.detail.person.identities",
            "has no BCS payee code (6.3b)",
        );
    }
    let country = identity
        .and_then(|i| i.issuing_country.clone())
        .or(person.nationality.clone())
        .unwrap_or_else(|| "169".into());
    let address = p.notification_address.as_ref();
    let line = issues
        .require(
            address.and_then(|a| a.lines.first().cloned()),
            "payee_registration.notification_address",
        )
        .unwrap_or_default();
    let postal = address.and_then(|a| a.postal_code.clone()).unwrap_or_default();
    let branch = issues
        .require(p.branch.clone(), "payee_registration.branch")
        .unwrap_or_default();
    let adviser = p.adviser.clone().unwrap_or_default();
    let relationship = issues
        .require(p.relationship.clone(), "payee_registration.relationship")
        .unwrap_or_default();
    let body = wire::payee(
        customer_type.unwrap_or_default(),
        &p.customer.number,
        &payee,
        payee_type.unwrap_or_default(),
        &country,
        if country == "169" { "COLOMBIA" } else { "" },
        &line,
        &postal,
        &relationship,
        &branch,
        &adviser,
    );
    issues.finish(|| (format!("{}/costumer-payee", wire::ROOT), body))
}

fn unreachable_body() -> (String, Value) {
    (String::new(), Value::Null)
}

/// A BCS failure: envelope A (`ER`) or B (`ERR400`), or a bare HTTP status (spec 4).
///
/// The seed's one envelope carries "custom errors code or business errors" alike, so an
/// envelope alone is no decline: a 5xx (and 408, 429) is the partner unavailable whatever its
/// body (the contract's rule, `docs/wit.md`), so an issuing it answers is in doubt rather than
/// declined; APIkit's own 405/406/415 refuse the request's form; a refusal is a decline only
/// when it carries the partner's code.
pub fn failure(status: u16, body: &[u8]) -> AdapterError {
    let envelope: Option<wire::Envelope> = serde_json::from_slice(body).ok();
    let (kind, code, message) = envelope_parts(envelope.as_ref());
    let said = || {
        format!("{} {message}", code.clone().unwrap_or_default())
            .trim()
            .to_string()
    };
    match status {
        401 | 403 => AdapterError::Unauthorized(panelgate_adapter_sdk::http::snippet(body)),
        404 => AdapterError::NotFound(panelgate_adapter_sdk::http::snippet(body)),
        408 | 429 | 500..=599 => {
            AdapterError::PartnerUnavailable(format!("HTTP {status} {}", said()).trim().to_string())
        }
        _ if kind == "ERR400" || matches!(status, 400 | 405 | 406 | 415) => {
            AdapterError::PartnerBadRequest(format!("HTTP {status} {}", said()).trim().to_string())
        }
        _ => match code {
            Some(code) => errors::rejected(code, message),
            None => errors::protocol(format!(
                "HTTP {status} without the partner's error code: {}",
                panelgate_adapter_sdk::http::snippet(body)
            )),
        },
    }
}

/// An error envelope's `responseType.value`, its `errorCode` (string or number) when it has
/// one, and its `errorDesc`.
fn envelope_parts(envelope: Option<&wire::Envelope>) -> (String, Option<String>, String) {
    let detail = envelope.and_then(|e| e.response_detail.as_ref());
    let code = detail
        .map(|d| d.error_code.to_string().trim_matches('"').to_string())
        .filter(|c| !c.is_empty() && c != "null");
    let message = detail.and_then(|d| d.error_desc.clone()).unwrap_or_default();
    let kind = envelope
        .and_then(|e| e.response_type.as_ref())
        .map(|t| t.value.clone())
        .unwrap_or_default();
    (kind, code, message)
}

/// True when a 2xx body (or #3's `insuranceInfo`) nevertheless carries an error envelope.
pub fn is_error(answer: &Value) -> bool {
    let kind = answer["responseType"]["value"].as_str().unwrap_or_default();
    let code = &answer["responseDetail"]["errorCode"];
    kind.starts_with("ER") || matches!(code, Value::Number(_)) || code.as_str().is_some_and(|c| !c.is_empty())
}

#[cfg(test)]
mod tests;
