//! Canonical ⇄ AAGI motor, as pure functions that unit-test natively. The spec's conditional
//! rules are checked here, before any call, and every broken one is reported with its path.

use panelgate_adapter_sdk::{date, errors, *};
use serde_json::Number;

use crate::partner as wire;

pub const CURRENCY: &str = "THB";
/// The case reference: AAGI's contract id, used by policy information and cancel.
pub const CONTRACT_ID: &str = "contract-id";
const CHANNEL: &str = "WS";
const PLANS: [&str; 4] = ["VMI1", "VMI2+", "VMI3+", "VMI3"];

/// AAGI 6.2: coverage items each plan must carry when coverages are given.
fn mandatory_items(plan: &str) -> &'static [&'static str] {
    const THIRD_PARTY: [&str; 6] = ["TPBI_PERSON", "TPBI_ACCIDENT", "TPPD", "PA", "ME", "BB"];
    match plan {
        "VMI1" => &[
            "OD",
            "DD",
            "TPBI_PERSON",
            "TPBI_ACCIDENT",
            "TPPD",
            "PA",
            "ME",
            "BB",
        ],
        "VMI2+" | "VMI3+" => &[
            "OD",
            "DD",
            "FL",
            "TPBI_PERSON",
            "TPBI_ACCIDENT",
            "TPPD",
            "PA",
            "ME",
            "BB",
        ],
        _ => &THIRD_PARTY,
    }
}

/// AAGI 6.2's remarks: the coverage items a plan does not cover, whose sum must be "0" or null
/// (else AAGI answers 003).
fn not_covered(plan: &str) -> &'static [&'static str] {
    match plan {
        "VMI1" => &["FL"],
        "VMI3" => &["OD", "DD", "FL"],
        _ => &[],
    }
}

pub fn number(money: &Money, path: &str, issues: &mut Issues) -> Option<Number> {
    if money.currency != CURRENCY {
        issues.add(
            format!("{path}.currency"),
            format!("AAGI deals in THB, not `{}`", money.currency),
        );
        return None;
    }
    match money.amount.trim().parse::<Number>() {
        Ok(n) if !money.amount.trim().starts_with('-') => Some(n),
        _ => {
            issues.add(format!("{path}.amount"), "must be a non-negative decimal");
            None
        }
    }
}

pub fn money(number: &Number) -> Money {
    Money {
        amount: number.to_string(),
        currency: CURRENCY.into(),
    }
}

/// `VMI` or `CMI`, and for VMI the plan (`VMI1`, `VMI2+`, `VMI3+`, `VMI3`).
fn product_and_plan(
    product: &Option<String>,
    plan: &Option<String>,
    issues: &mut Issues,
) -> (String, Option<String>) {
    let product = match product.as_deref() {
        Some(p @ ("VMI" | "CMI")) => p.to_string(),
        Some(_) => {
            issues.add("product", "must be `VMI` (voluntary) or `CMI` (compulsory)");
            String::new()
        }
        None => {
            issues.add("product", "is required: `VMI` or `CMI`");
            String::new()
        }
    };
    let plan = match (product.as_str(), plan.as_deref()) {
        ("VMI", Some(p)) if PLANS.contains(&p) => Some(p.to_string()),
        ("VMI", Some(_)) => {
            issues.add("plan", "must be one of VMI1, VMI2+, VMI3+, VMI3");
            None
        }
        ("VMI", None) => {
            issues.add("plan", "is required for VMI: VMI1, VMI2+, VMI3+ or VMI3");
            None
        }
        ("CMI", Some(_)) => {
            issues.add("plan", "CMI has no plans; leave it out");
            None
        }
        _ => None,
    };
    (product, plan)
}

fn motor(interest: &InsuredInterest, issues: &mut Issues) -> Option<Vehicle> {
    match interest {
        InsuredInterest::Motor(v) => Some(v.clone()),
        _ => {
            issues.add("interest", "AAGI insures vehicles: use `motor`");
            None
        }
    }
}

/// AAGI 6.4: which of plate province and number each country/type pair requires.
fn check_registration(registration: Option<&VehicleRegistration>, issues: &mut Issues) {
    let base = "interest.motor.registration";
    let country = registration.and_then(|r| r.country.as_deref());
    let kind = registration.and_then(|r| r.kind.clone());
    let thai = matches!(country, None | Some("THA"));
    let (state, number) = match (thai, country.is_none(), kind.clone()) {
        (true, _, Some(RegistrationKind::General)) => (true, true),
        (true, _, Some(RegistrationKind::RedPlate)) => (true, false),
        (true, _, Some(RegistrationKind::Government)) => (false, true),
        (true, _, None) => (true, false),
        (false, _, Some(RegistrationKind::International)) | (false, _, None) => (false, true),
        _ => {
            issues.add(
                base,
                format!(
                    "country {} with kind {:?} is not a combination AAGI defines (6.4)",
                    country.unwrap_or("unset"),
                    kind
                ),
            );
            return;
        }
    };
    if state && registration.and_then(|r| r.region.as_ref()).is_none() {
        issues.add(
            format!("{base}.region"),
            "the plate's province code is required for this registration",
        );
    }
    if number
        && registration
            .and_then(|r| r.number.as_ref())
            .is_none_or(|n| n.trim().is_empty())
    {
        issues.add(
            format!("{base}.number"),
            "the plate number is required for this registration",
        );
    }
}

/// AAGI 6.3: the garage types each plan allows.
fn check_garage(
    plan: Option<&str>,
    product: &str,
    garage: Option<GarageKind>,
    issues: &mut Issues,
) -> Option<String> {
    let allowed: &[Option<GarageKind>] = match (product, plan) {
        ("VMI", Some("VMI1")) => &[Some(GarageKind::Dealer), Some(GarageKind::Company)],
        ("VMI", Some("VMI2+" | "VMI3+")) => &[Some(GarageKind::Company)],
        _ => &[None, Some(GarageKind::Unspecified)],
    };
    if !allowed.contains(&garage) {
        issues.add(
            "interest.motor.garage",
            format!(
                "{} allows {:?}, not {:?}",
                plan.unwrap_or(product),
                allowed,
                garage
            ),
        );
    }
    garage.map(|g| {
        match g {
            GarageKind::Dealer => "DEALER",
            GarageKind::Company => "COMPANY",
            GarageKind::Unspecified => "UNSPECIFIED",
            // Refused above: no plan allows a garage AAGI does not name.
            GarageKind::Other(code) => return code,
        }
        .to_string()
    })
}

fn vehicle_owner(parties: &[Party], issues: &mut Issues) -> Option<wire::Owner> {
    let (i, person) = parties
        .iter()
        .enumerate()
        .find_map(|(i, p)| match (&p.detail, p.role.clone()) {
            (PartyDetail::Person(person), PartyRole::VehicleOwner) => Some((i, person)),
            _ => None,
        })?;
    let postal = person.addresses.iter().find_map(|a| a.postal_code.clone());
    if postal.as_ref().is_some_and(|p| p.len() != 5) {
        issues.add(
            format!("parties[{i}].detail.person.addresses"),
            "the postal code has 5 digits",
        );
    }
    Some(wire::Owner {
        birth_date: person.birth_date.clone(),
        address: postal.map(|postal_code| wire::OwnerAddress { postal_code }),
    })
}

fn vehicle(
    v: &Vehicle,
    parties: &[Party],
    product: &str,
    plan: Option<&str>,
    contract: bool,
    issues: &mut Issues,
) -> wire::Vehicle {
    check_registration(v.registration.as_ref(), issues);
    let garage_type = check_garage(plan, product, v.garage.clone(), issues);
    if product == "VMI" && v.model.is_none() {
        issues.add("interest.motor.model", "is required for VMI");
    }
    let year = v.year.map(|y| y.to_string());
    if product == "VMI" && year.as_ref().is_none_or(|y| y.len() != 4) {
        issues.add(
            "interest.motor.year",
            "a four-digit year of manufacture is required for VMI",
        );
    }
    if contract && v.vin.as_ref().is_none_or(|vin| vin.trim().is_empty()) {
        issues.add("interest.motor.vin", "is required to issue (AAGI 6.5)");
    }
    let registration = v.registration.as_ref();
    wire::Vehicle {
        make: v.make.clone(),
        model: v.model.clone(),
        usage: v.usage.clone(),
        garage_type,
        vehicle_identification_number: v.vin.clone(),
        color: v.colour.clone(),
        registration_number: registration.and_then(|r| r.number.clone()),
        registration_state: registration.and_then(|r| r.region.clone()),
        registration_type: registration.and_then(|r| r.kind.clone()).map(|k| {
            match k {
                RegistrationKind::General => "GEN",
                RegistrationKind::RedPlate => "REDPLATE",
                RegistrationKind::Government => "GOV",
                RegistrationKind::International => "INTER",
                // Refused by `check_registration`: AAGI 6.4 names no other kind.
                RegistrationKind::Other(code) => return code,
            }
            .to_string()
        }),
        registration_country: registration.and_then(|r| r.country.clone()),
        year_of_manufacture: year,
        engine_number: v.engine_number.clone(),
        number_of_seats: v.seats,
        owner: vehicle_owner(parties, issues),
    }
}

fn package(
    plan: &str,
    sum_insured: Option<&Money>,
    coverages: &[Coverage],
    premium: Option<wire::Premium>,
    issues: &mut Issues,
) -> wire::Package {
    let sum = sum_insured.and_then(|m| number(m, "sum_insured", issues));
    let items = if coverages.is_empty() {
        None
    } else {
        let codes: Vec<&str> = coverages.iter().map(|c| c.code.as_str()).collect();
        for missing in mandatory_items(plan).iter().filter(|m| !codes.contains(m)) {
            issues.add(
                "coverages",
                format!("{plan} needs coverage item `{missing}` (AAGI 6.2)"),
            );
        }
        Some(
            coverages
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let path = format!("coverages[{i}].sum_insured");
                    let covered = !not_covered(plan).contains(&c.code.as_str());
                    if let Some(m) = c.sum_insured.as_ref().filter(|_| !covered)
                        && m.amount.trim().parse::<f64>() != Ok(0.0)
                    {
                        issues.add(
                            &path,
                            format!(
                                "must be 0 or absent: {plan} does not cover `{}` (AAGI 6.2)",
                                c.code
                            ),
                        );
                    }
                    wire::CoverageItem {
                        name: c.name.clone(),
                        code: c.code.clone(),
                        sum_insured: c.sum_insured.as_ref().and_then(|m| number(m, &path, issues)),
                    }
                })
                .collect(),
        )
    };
    wire::Package {
        name: Some("GRANU".into()),
        coverages: Some(vec![wire::Coverage {
            name: Some(plan.into()),
            code: plan.into(),
            sum_insured: sum,
            coverage_items: items,
        }]),
        premium,
    }
}

fn valid_date(value: Option<&String>, path: &str, required: bool, issues: &mut Issues) -> Option<String> {
    match value {
        Some(v) if date::parse(v).is_some() => Some(v.clone()),
        Some(_) => {
            issues.add(path, "must be a date as YYYY-MM-DD");
            None
        }
        None if required => {
            issues.add(path, "is required by this partner");
            None
        }
        None => None,
    }
}

pub fn quick_quote(request: &QuoteRequest) -> Result<wire::QuickQuote, AdapterError> {
    let mut issues = Issues::new();
    let (product, plan) = product_and_plan(&request.product, &request.plan, &mut issues);
    let start = valid_date(request.start_date.as_ref(), "start_date", true, &mut issues);
    let end = valid_date(request.end_date.as_ref(), "end_date", false, &mut issues);
    let vehicle = motor(&request.interest, &mut issues).map(|v| {
        vehicle(
            &v,
            &request.parties,
            &product,
            plan.as_deref(),
            false,
            &mut issues,
        )
    });
    let packages = plan.as_deref().map(|plan| {
        vec![package(
            plan,
            request.sum_insured.as_ref(),
            &request.coverages,
            None,
            &mut issues,
        )]
    });
    issues.finish(|| ())?;
    let vehicle = vehicle.ok_or_else(|| errors::protocol("unreachable"))?;
    Ok(wire::QuickQuote {
        policy_start_date: start.unwrap_or_default(),
        policy_expiry_date: end,
        channel: CHANNEL.into(),
        product_code: product,
        vehicle,
        product_packages: packages,
        premium: None,
    })
}

fn premium_option(
    product: &str,
    plan: Option<&str>,
    premium: &wire::Premium,
    coverages: Vec<Coverage>,
) -> QuoteOption {
    let taxes: Option<f64> = premium
        .additional_costs
        .as_ref()
        .map(|costs| costs.iter().filter_map(|c| c.amount.as_f64()).sum());
    QuoteOption {
        product: Some(product.into()),
        plan: plan.map(str::to_string),
        description: premium
            .net_premium
            .as_ref()
            .map(|n| format!("net premium {n} THB before VAT and stamp duty")),
        premium: money(&premium.gross_premium),
        frequency: Some(Frequency::Annual),
        coverages,
        taxes: taxes.map(|t| Money {
            amount: format!("{t:.2}"),
            currency: CURRENCY.into(),
        }),
        fees: None,
        id: None,
        breakdown: Vec::new(),
        extensions: None,
    }
}

pub fn quotation(response: wire::QuickQuote) -> Result<Quotation, AdapterError> {
    let mut options = Vec::new();
    for package in response.product_packages.unwrap_or_default() {
        let Some(premium) = &package.premium else { continue };
        let coverages = package.coverages.as_deref().unwrap_or_default();
        if coverages.is_empty() {
            // `"coverages": null`: no plan (CMI); the package's premium is the product's.
            options.push(premium_option(&response.product_code, None, premium, Vec::new()));
        }
        for coverage in coverages {
            let items = coverage
                .coverage_items
                .iter()
                .flatten()
                .map(|i| Coverage {
                    code: i.code.clone(),
                    name: i.name.clone(),
                    sum_insured: i.sum_insured.as_ref().map(money),
                    premium: None,
                    deductible: None,
                    rate: None,
                    excluded: false,
                })
                .collect();
            options.push(premium_option(
                &response.product_code,
                Some(&coverage.code),
                premium,
                items,
            ));
        }
    }
    if let Some(premium) = &response.premium {
        options.push(premium_option(&response.product_code, None, premium, Vec::new()));
    }
    if options.is_empty() {
        return Err(errors::protocol("the quick quote came back without a premium"));
    }
    Ok(Quotation {
        reference: None,
        options,
        underwriting: UnderwritingIndication::Automatic,
        acceptance_class: None,
        accumulation: None,
        requirements: Vec::new(),
        valid_until: None,
        message: None,
        extensions: None,
    })
}

fn identity_type(kind: IdentityKind) -> Option<&'static str> {
    match kind {
        IdentityKind::NationalId => Some("NRIC"),
        IdentityKind::Passport => Some("PASS"),
        _ => None,
    }
}

fn address(a: &panelgate_adapter_sdk::Address, path: &str, issues: &mut Issues) -> Option<wire::Address> {
    let kind = match a.kind {
        AddressKind::Registered => "REGISTER",
        AddressKind::Residence => "CURRENT",
        _ => return None,
    };
    let line = |i: usize| a.lines.get(i).cloned();
    let line1 = issues.require(line(0).filter(|l| !l.trim().is_empty()), &format!("{path}.lines"));
    if line1.as_ref().is_some_and(|l| l.chars().count() > 250) {
        issues.add(format!("{path}.lines[0]"), "is at most 250 characters");
    }
    let district = issues.require(a.district.clone(), &format!("{path}.district"));
    let sub_district = issues.require(a.sub_district.clone(), &format!("{path}.sub_district"));
    let state = issues.require(a.province.clone(), &format!("{path}.province"));
    let postal = issues.require(a.postal_code.clone(), &format!("{path}.postal_code"));
    if postal.as_ref().is_some_and(|p| p.len() != 5) {
        issues.add(format!("{path}.postal_code"), "has 5 digits");
    }
    Some(wire::Address {
        kind: kind.into(),
        address_line1: line1.unwrap_or_default(),
        address_line2: line(1),
        address_line3: line(2),
        address_line4: line(3),
        district: district.unwrap_or_default(),
        sub_district: sub_district.unwrap_or_default(),
        state: state.unwrap_or_default(),
        postal_code: postal.unwrap_or_default(),
    })
}

fn addresses(list: &[panelgate_adapter_sdk::Address], path: &str, issues: &mut Issues) -> Vec<wire::Address> {
    let out: Vec<wire::Address> = list
        .iter()
        .enumerate()
        .filter_map(|(i, a)| address(a, &format!("{path}.addresses[{i}]"), issues))
        .collect();
    // AAGI FAQ: both a REGISTER and a CURRENT address, always.
    for (kind, canonical) in [("REGISTER", "registered"), ("CURRENT", "residence")] {
        if !out.iter().any(|a| a.kind == kind) {
            issues.add(
                format!("{path}.addresses"),
                format!("needs a `{canonical}` address (AAGI's {kind})"),
            );
        }
    }
    out
}

fn mobile(phones: &[Phone], path: &str, required: bool, issues: &mut Issues) -> Option<String> {
    let number = phones
        .iter()
        .find(|p| p.kind == PhoneKind::Mobile)
        .map(|p| p.number.clone());
    match &number {
        Some(n) if n.len() != 10 || !n.chars().all(|c| c.is_ascii_digit()) => {
            issues.add(format!("{path}.phones"), "the mobile number has 10 digits")
        }
        None if required => issues.add(format!("{path}.phones"), "a mobile phone is required"),
        _ => {}
    }
    number
}

/// A canonical party as AAGI's `insuredPerson`, `beneficiary` or `payer`.
fn party(
    p: &Party,
    path: &str,
    insured: bool,
    digital: bool,
    customer_name: Option<String>,
    issues: &mut Issues,
) -> wire::Party {
    match &p.detail {
        PartyDetail::Person(person) => {
            let path = format!("{path}.detail.person");
            let title = issues.require(person.title.clone(), &format!("{path}.title"));
            let first = issues.require(person.given_name.clone(), &format!("{path}.given_name"));
            let last = issues.require(person.family_name.clone(), &format!("{path}.family_name"));
            let gender = match person.gender {
                Some(Gender::Male) => Some("MALE".to_string()),
                Some(Gender::Female) => Some("FEMALE".to_string()),
                _ => {
                    issues.add(format!("{path}.gender"), "is required: male or female");
                    None
                }
            };
            let ids: Vec<wire::IdentityDocument> = person
                .identities
                .iter()
                .filter_map(|i| {
                    identity_type(i.kind.clone()).map(|t| wire::IdentityDocument {
                        identity_type: t.into(),
                        identity_number: i.number.clone(),
                    })
                })
                .collect();
            if ids.is_empty() {
                issues.add(format!("{path}.identities"), "needs a national_id or passport");
            }
            if person.nationality.is_none() {
                // AAGI requires it of every person it is sent: the insured, a beneficiary, a payer.
                issues.add(
                    format!("{path}.nationality"),
                    "is required for a person AAGI is sent",
                );
            }
            let birth = valid_date(
                person.birth_date.as_ref(),
                &format!("{path}.birth_date"),
                true,
                issues,
            );
            if insured && digital && person.email.is_none() {
                issues.add(
                    format!("{path}.email"),
                    "is required for an e-policy (digital_policy)",
                );
            }
            wire::Party {
                kind: "PERSON".into(),
                title,
                first_name: first,
                last_name: last,
                gender,
                identification_documents: Some(ids),
                nationality: person.nationality.clone(),
                birth_date: birth,
                occupation: Some(person.occupation.clone().unwrap_or_else(|| "99".into())),
                email_address: person.email.clone(),
                mobile_phone: mobile(&person.phones, &path, true, issues),
                addresses: addresses(&person.addresses, &path, issues),
                ..wire::Party::default()
            }
        }
        PartyDetail::Organisation(org) => {
            let path = format!("{path}.detail.organisation");
            let register = org
                .identities
                .iter()
                .find(|i| i.kind == IdentityKind::CompanyRegistration)
                .map(|i| i.number.clone());
            if register.is_none() {
                issues.add(
                    format!("{path}.identities"),
                    "needs a company_registration (AAGI's registerId)",
                );
            }
            if insured && digital {
                issues.add(
                    "digital_policy",
                    "AAGI cannot issue an e-policy to a company; set it false",
                );
            }
            wire::Party {
                kind: "COMPANY".into(),
                register_id: register,
                company_prefix: org.prefix.clone(),
                company_name: Some(org.name.clone()),
                company_suffix: org.suffix.clone(),
                customer_name,
                email_address: org.email.clone(),
                mobile_phone: mobile(&org.phones, &path, false, issues),
                addresses: addresses(&org.addresses, &path, issues),
                ..wire::Party::default()
            }
        }
    }
}

fn consents(list: &[Consent], issues: &mut Issues) -> Vec<wire::Consent> {
    let mut out = Vec::new();
    // AAGI 5.2.2: all three, INFORMATION and SANCTION_COUNTRY accepted.
    for (kind, wire_kind, must_accept) in [
        (ConsentKind::Information, "INFORMATION", true),
        (ConsentKind::SanctionScreening, "SANCTION_COUNTRY", true),
        (ConsentKind::Marketing, "MARKETING", false),
    ] {
        match list.iter().find(|c| c.kind == kind) {
            None => issues.add(
                "consents",
                format!("needs the `{}` consent (AAGI's {wire_kind})", store_name(kind)),
            ),
            Some(c) if must_accept && !c.accepted => issues.add(
                "consents",
                format!("`{}` must be accepted to issue", store_name(kind)),
            ),
            Some(c) => out.push(wire::Consent {
                consent_group: None,
                consent_type: wire_kind.into(),
                has_accepted: c.accepted,
                acceptance_date: c.date.clone(),
            }),
        }
    }
    out
}

fn store_name(kind: ConsentKind) -> &'static str {
    match kind {
        ConsentKind::Information => "information",
        ConsentKind::SanctionScreening => "sanction_screening",
        ConsentKind::Marketing => "marketing",
        _ => "other",
    }
}

fn role(parties: &[Party], role: PartyRole) -> Option<(usize, &Party)> {
    parties.iter().enumerate().find(|(_, p)| p.role == role)
}

/// The main driver's name (the first party with role `driver`), which AAGI prints for a
/// company insuring a private car (AAGI 5.2.1 `customerName`).
fn main_driver(parties: &[Party]) -> Option<String> {
    parties.iter().find_map(|p| match (&p.role, &p.detail) {
        (PartyRole::Driver, PartyDetail::Person(person)) => Some(person.full_name.clone()),
        _ => None,
    })
}

pub fn contract(application: &Application) -> Result<wire::Contract, AdapterError> {
    let mut issues = Issues::new();
    let (product, plan) = product_and_plan(&application.product, &application.plan, &mut issues);
    let state = match application.mode {
        AcceptanceMode::Issue => "ISSUE",
        AcceptanceMode::Verify => "VERIFY",
        AcceptanceMode::Underwrite => {
            issues.add(
                "mode",
                "AAGI issues or verifies; there is no underwriting submission",
            );
            ""
        }
    };
    let start = valid_date(application.start_date.as_ref(), "start_date", true, &mut issues);
    let end = valid_date(application.end_date.as_ref(), "end_date", false, &mut issues);
    let proposal = valid_date(
        application.proposal_date.as_ref(),
        "proposal_date",
        false,
        &mut issues,
    );
    let digital = application.digital_policy.unwrap_or(false);
    let vehicle = motor(&application.interest, &mut issues).map(|v| {
        vehicle(
            &v,
            &application.parties,
            &product,
            plan.as_deref(),
            true,
            &mut issues,
        )
    });
    let gross = match &application.premium {
        Some(m) => number(m, "premium", &mut issues),
        None => issues.require(None, "premium"),
    };
    let premium = gross.map(|gross_premium| wire::Premium {
        discounts: None,
        additional_costs: None,
        net_premium: None,
        gross_premium,
    });
    // AAGI 7.10: the contracts model requires a package for CMI too ("productPackages | Yes |
    // Yes"); it carries CMI's premium. Its coverage `code` is "Enum | Yes | Yes | ... | VMI1,
    // VMI2+, VMI3+, VMI3 | Fixed Value": no value is CMI's, so a CMI package names no coverage
    // (`"coverages": null`, as the CMI quick quote leaves the whole package out).
    let packages = match plan.as_deref() {
        Some(plan) => vec![package(
            plan,
            application.sum_insured.as_ref(),
            &application.coverages,
            premium,
            &mut issues,
        )],
        None => vec![wire::Package {
            name: None,
            coverages: None,
            premium,
        }],
    };
    let customer = main_driver(&application.parties);
    let insured = match role(&application.parties, PartyRole::Insured) {
        Some((i, p)) => {
            let company_individual_use = matches!(p.detail, PartyDetail::Organisation(_))
                && vehicle
                    .as_ref()
                    .is_some_and(|v| matches!(v.usage.as_str(), "110" | "210"));
            if company_individual_use && customer.is_none() {
                issues.add(
                    "parties",
                    "a company insuring a private car names its main driver: a person with role `driver` (AAGI 5.2.1)",
                );
            }
            Some(party(
                p,
                &format!("parties[{i}]"),
                true,
                digital,
                customer.clone(),
                &mut issues,
            ))
        }
        None => {
            issues.add("parties", "needs an `insured` party");
            None
        }
    };
    let beneficiary = role(&application.parties, PartyRole::Beneficiary).map(|(i, p)| {
        party(
            p,
            &format!("parties[{i}]"),
            false,
            false,
            Some(display_name(p)),
            &mut issues,
        )
    });
    let payer = role(&application.parties, PartyRole::Payer).map(|(i, p)| {
        party(
            p,
            &format!("parties[{i}]"),
            false,
            false,
            Some(display_name(p)),
            &mut issues,
        )
    });
    let consents = consents(&application.consents, &mut issues);
    issues.finish(|| ())?;
    Ok(wire::Contract {
        policy_start_date: start.unwrap_or_default(),
        policy_expiry_date: end,
        proposal_date: proposal,
        channel: CHANNEL.into(),
        product_code: product,
        contract_process_state: state.into(),
        is_digital_policy: digital,
        vehicle: vehicle.ok_or_else(|| errors::protocol("unreachable"))?,
        product_packages: packages,
        insured_person: insured.ok_or_else(|| errors::protocol("unreachable"))?,
        beneficiary,
        payer,
        consents,
    })
}

fn display_name(p: &Party) -> String {
    match &p.detail {
        PartyDetail::Person(person) => person.full_name.clone(),
        PartyDetail::Organisation(org) => org.name.clone(),
    }
}

fn case_status(policy_status: &str) -> Result<CaseStatus, AdapterError> {
    Ok(match policy_status {
        "SUCCESS" => CaseStatus::InForce,
        "PROCESS_CAR_INSPECTION" => CaseStatus::PendingUnderwriting,
        "REJECTED" => CaseStatus::Declined,
        "CANCELLED" => CaseStatus::Cancelled,
        other => return Err(errors::protocol(format!("unknown policyStatus `{other}`"))),
    })
}

fn policy(info: &wire::ContractInfo) -> Option<Policy> {
    info.policy_number
        .as_ref()
        .filter(|n| !n.is_empty())
        .map(|number| Policy {
            number: number.clone(),
            certificate: None,
            start_date: info.policy_start_date.clone(),
            end_date: info.policy_expiry_date.clone(),
            premium: None,
            document_link: info.document_url.clone(),
            start_time: None,
            option_id: None,
            breakdown: Vec::new(),
            renewal_of: None,
            extensions: None,
        })
}

pub fn acceptance(info: wire::ContractInfo, mode: AcceptanceMode) -> Result<Acceptance, AdapterError> {
    let status = case_status(&info.policy_status)?;
    // `contractId: null`: clear on a VERIFY (nothing was created) or an issue that names its
    // policy; a car inspection can only be followed by its contract, so it needs the id.
    let references: Vec<Reference> = info
        .contract_id
        .iter()
        .filter(|id| !id.is_empty())
        .map(|id| Reference {
            kind: CONTRACT_ID.into(),
            value: id.clone(),
        })
        .collect();
    if references.is_empty() && mode != AcceptanceMode::Verify && status == CaseStatus::PendingUnderwriting {
        return Err(errors::protocol(
            "AAGI asks for a car inspection but gave no contractId to follow it by",
        ));
    }
    let (outcome, status, requirements, message) = match (mode, status) {
        // A VERIFY issues nothing, so a passed one is a submitted case; its status still counts
        // (#3: "Sample Status: PROCESS_CAR_INSPECTION, SUCCESS, REJECTED, CANCELLED"): a
        // REJECTED verification is declined below, not "verified".
        (AcceptanceMode::Verify, CaseStatus::InForce | CaseStatus::PendingUnderwriting) => (
            AcceptanceOutcome::Pending,
            CaseStatus::Submitted,
            vec![],
            "verified; not issued",
        ),
        (_, CaseStatus::InForce) => (AcceptanceOutcome::Issued, status, vec![], "issued"),
        (_, CaseStatus::PendingUnderwriting) => (
            AcceptanceOutcome::Pending,
            status,
            vec![Requirement {
                code: "car-inspection".into(),
                name: "Car inspection before cover starts".into(),
                kind: RequirementKind::Verification,
                status: RequirementStatus::Requested,
                due: None,
            }],
            "the car must be inspected; follow the case's status",
        ),
        (_, CaseStatus::Declined) => (AcceptanceOutcome::Rejected, status, vec![], "rejected"),
        (_, other) => return Err(errors::protocol(format!("a new contract cannot be {other:?}"))),
    };
    Ok(Acceptance {
        outcome,
        status,
        references,
        policy: policy(&info),
        requirements,
        message: Some(message.into()),
        more_policies: Vec::new(),
        payment_due: None,
        extensions: None,
    })
}

/// #3's answer for the contract `asked` (the id in the path, which stands when the answer's
/// `contractId` is null).
pub fn status_report(info: wire::ContractInfo, asked: &str) -> Result<StatusReport, AdapterError> {
    let id = info
        .contract_id
        .clone()
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| asked.to_string());
    Ok(StatusReport {
        status: case_status(&info.policy_status)?,
        policy: policy(&info),
        references: vec![Reference {
            kind: CONTRACT_ID.into(),
            value: id,
        }],
        message: Some(format!("policyStatus {}", info.policy_status)),
        payment_due: None,
        partner_status: None,
        extensions: None,
    })
}

pub fn amendment(cancellation: &Cancellation) -> Result<wire::Amendment, AdapterError> {
    let reason = cancellation
        .reason
        .clone()
        .unwrap_or_else(|| "Cancelled by the broker".into());
    // AAGI 5.4: the reason is at most 50 characters.
    if reason.chars().count() > 50 {
        return Err(AdapterError::InvalidRequest(vec![FieldIssue {
            path: "reason".into(),
            message: "AAGI takes at most 50 characters".into(),
        }]));
    }
    Ok(wire::Amendment {
        kind: "CANCEL".into(),
        reason,
    })
}

/// An AAGI failure as the typed error it means (codes from the FAQ; HTTP statuses undocumented).
pub fn failure(status: u16, body: &[u8]) -> AdapterError {
    let parsed: Option<wire::ErrorBody> = serde_json::from_slice(body).ok();
    match (status, parsed) {
        (401 | 403, _) => AdapterError::Unauthorized(panelgate_adapter_sdk::http::snippet(body)),
        (404, _) => AdapterError::NotFound(panelgate_adapter_sdk::http::snippet(body)),
        // A 5xx (or 408/429) is no final answer whatever its body: a contract AAGI (or the
        // gateway before it) failed on may still have been issued, so the host must hold it in
        // doubt, not close it as refused. The FAQ's 999 "เกิดข้อผิดพลาดในระบบ" is a system error.
        (408 | 429 | 500..=599, Some(e)) => {
            AdapterError::PartnerUnavailable(format!("HTTP {status}: {} {}", e.code, e.message))
        }
        (408 | 429 | 500..=599, None) => AdapterError::PartnerUnavailable(format!("HTTP {status}")),
        // 999 below 500: in practice a malformed request (AAGI FAQ).
        (_, Some(e)) if e.code == "999" => AdapterError::PartnerBadRequest(format!("999 {}", e.message)),
        // 003 is the rule `package` checks before calling (6.2's mandatory coverage items),
        // so it is reported as that check reports it: an invalid request at `coverages`.
        (_, Some(e)) if e.code == "003" => AdapterError::InvalidRequest(vec![FieldIssue {
            path: "coverages".into(),
            message: format!("AAGI 003: {} (AAGI 6.2)", e.message),
        }]),
        (_, Some(e)) => errors::rejected(e.code, e.message),
        (_, None) => errors::protocol(format!(
            "HTTP {status}: {}",
            panelgate_adapter_sdk::http::snippet(body)
        )),
    }
}

#[cfg(test)]
mod tests;
