//! The mapping against the spec's rules and examples.

use super::*;

fn thb(amount: &str) -> Money {
    Money {
        amount: amount.into(),
        currency: CURRENCY.into(),
    }
}

pub fn car(kind: Option<RegistrationKind>, number: Option<&str>, region: Option<&str>) -> Vehicle {
    Vehicle {
        make: "39".into(),
        model: Some("1597".into()),
        year: Some(2022),
        usage: "110".into(),
        vin: Some("KNDJA723515687177".into()),
        engine_number: Some("52WVC10337".into()),
        colour: Some("7".into()),
        seats: None,
        registration: Some(VehicleRegistration {
            number: number.map(str::to_string),
            region: region.map(str::to_string),
            kind,
            country: Some("THA".into()),
        }),
        garage: Some(GarageKind::Company),
        market_value: None,
        accessories: Vec::new(),
        new_vehicle: None,
        mileage_km: None,
    }
}

fn quote(vehicle: Vehicle, plan: &str) -> QuoteRequest {
    QuoteRequest {
        product: Some("VMI".into()),
        plan: Some(plan.into()),
        binding: false,
        start_date: Some("2022-07-23".into()),
        end_date: Some("2023-07-23".into()),
        frequency: None,
        sum_insured: None,
        parties: vec![],
        interest: InsuredInterest::Motor(vehicle),
        coverages: vec![],
        channel: None,
        extensions: None,
        start_time: None,
        questionnaire: Vec::new(),
        renewal_of: None,
    }
}

fn paths(error: AdapterError) -> Vec<String> {
    match error {
        AdapterError::InvalidRequest(issues) => issues.into_iter().map(|i| i.path).collect(),
        other => panic!("expected invalid-request, got {other:?}"),
    }
}

#[test]
fn the_spec_example_vmi1_quick_quote_maps_field_for_field() {
    let wire = quick_quote(&quote(
        car(Some(RegistrationKind::General), Some("กข1234"), Some("0")),
        "VMI1",
    ))
    .unwrap();
    let json = serde_json::to_value(&wire).unwrap();
    assert_eq!(json["channel"], "WS");
    assert_eq!(json["productCode"], "VMI");
    assert_eq!(json["vehicle"]["registrationType"], "GEN");
    assert_eq!(json["vehicle"]["garageType"], "COMPANY");
    assert_eq!(
        json["vehicle"]["owner"],
        serde_json::Value::Null,
        "an unused owner is null, never \"\""
    );
    assert_eq!(json["productPackages"][0]["name"], "GRANU");
    assert_eq!(json["productPackages"][0]["coverages"][0]["code"], "VMI1");
    assert_eq!(
        json["productPackages"][0]["coverages"][0]["coverageItems"],
        serde_json::Value::Null
    );
}

#[test]
fn registration_rules_name_the_missing_plate_fields() {
    // GEN needs both province and number.
    let p = paths(quick_quote(&quote(car(Some(RegistrationKind::General), None, None), "VMI1")).unwrap_err());
    assert!(
        p.contains(&"interest.motor.registration.number".to_string()),
        "{p:?}"
    );
    assert!(
        p.contains(&"interest.motor.registration.region".to_string()),
        "{p:?}"
    );
    // REDPLATE: number optional, province required.
    let p =
        paths(quick_quote(&quote(car(Some(RegistrationKind::RedPlate), None, None), "VMI1")).unwrap_err());
    assert_eq!(p, vec!["interest.motor.registration.region".to_string()]);
    // Thailand with INTER is not a combination the spec defines.
    let p = paths(
        quick_quote(&quote(
            car(Some(RegistrationKind::International), Some("X1"), None),
            "VMI1",
        ))
        .unwrap_err(),
    );
    assert_eq!(p, vec!["interest.motor.registration".to_string()]);
}

#[test]
fn garage_type_must_suit_the_plan() {
    let mut v = car(Some(RegistrationKind::General), Some("กข1234"), Some("0"));
    v.garage = Some(GarageKind::Dealer);
    assert!(quick_quote(&quote(v.clone(), "VMI1")).is_ok());
    let p = paths(quick_quote(&quote(v.clone(), "VMI2+")).unwrap_err());
    assert_eq!(p, vec!["interest.motor.garage".to_string()]);
    v.garage = None;
    assert!(quick_quote(&quote(v, "VMI3")).is_ok());
}

#[test]
fn given_coverages_must_carry_the_plans_mandatory_items() {
    let mut request = quote(
        car(Some(RegistrationKind::General), Some("กข1234"), Some("0")),
        "VMI1",
    );
    request.coverages = vec![Coverage {
        code: "OD".into(),
        name: None,
        sum_insured: Some(thb("1300000")),
        premium: None,
        deductible: None,
        rate: None,
        excluded: false,
    }];
    let p = paths(quick_quote(&request).unwrap_err());
    assert!(p.iter().all(|p| p == "coverages") && p.len() == 7, "{p:?}");
}

#[test]
fn an_amount_is_a_decimal_within_f64() {
    // The TypeScript twin's `parseNumber` and `rustF64` follow these (its json.test.ts).
    for amount in ["1e400", "", "0x0", "+1"] {
        let mut issues = Issues::new();
        assert_eq!(number(&thb(amount), "sum_insured", &mut issues), None, "{amount}");
        assert!(issues.finish(|| ()).is_err(), "{amount}");
    }
    let mut issues = Issues::new();
    assert!(number(&thb(" 700000 "), "sum_insured", &mut issues).is_some());
}

#[test]
fn the_quick_quote_response_becomes_a_premium_with_taxes() {
    let response: wire::QuickQuote = serde_json::from_value(serde_json::json!({
        "policyStartDate": "2022-07-23", "policyExpiryDate": "2023-07-23", "channel": "WS", "productCode": "VMI",
        "vehicle": { "make": "39", "model": "1597", "usage": "110", "garageType": "COMPANY", "vehicleIdentificationNumber": "K",
            "registrationNumber": "กข1234", "registrationState": "0", "yearOfManufacture": "2022", "engineNumber": null,
            "numberOfSeats": 7, "owner": null, "color": "7", "registrationType": "GEN", "registrationCountry": "THA" },
        "productPackages": [{ "name": "GRANU", "coverages": [{ "name": "VMI1", "code": "VMI1", "sumInsured": 600000,
            "coverageItems": [{ "name": "Sum Insured", "code": "OD", "sumInsured": 600000 }] }],
          "premium": { "discounts": null, "additionalCosts": [{ "name": null, "type": "VAT", "amount": 1308.44 },
            { "name": null, "type": "STAMP", "amount": 75 }], "netPremium": 18617, "grossPremium": 20000.44 } }]
    }))
    .unwrap();
    let q = quotation(response).unwrap();
    assert_eq!(q.options[0].premium, thb("20000.44"));
    assert_eq!(q.options[0].taxes, Some(thb("1383.44")));
    assert_eq!(q.options[0].coverages[0].sum_insured, Some(thb("600000")));
}

#[test]
fn aagi_error_codes_become_typed_errors() {
    let body = |code: &str| format!(r#"{{"code":"{code}","message":"m"}}"#).into_bytes();
    assert!(matches!(
        failure(400, &body("999")),
        AdapterError::PartnerBadRequest(_)
    ));
    assert!(matches!(failure(400, &body("112")), AdapterError::Rejected(r) if r.code == "112"));
    assert!(matches!(failure(401, b""), AdapterError::Unauthorized(_)));
    assert!(matches!(
        failure(503, b"down"),
        AdapterError::PartnerUnavailable(_)
    ));
}

#[test]
fn a_5xx_is_partner_unavailable_whatever_its_body() {
    // A definite answer would close an accept AAGI may have issued as refused; these are not.
    let body = |code: &str| format!(r#"{{"code":"{code}","message":"m"}}"#).into_bytes();
    for (status, code) in [
        (500, "999"),
        (503, "503"),
        (502, "112"),
        (408, "408"),
        (429, "429"),
    ] {
        match failure(status, &body(code)) {
            AdapterError::PartnerUnavailable(m) => assert_eq!(m, format!("HTTP {status}: {code} m")),
            other => panic!("HTTP {status} {code}: {other:?}"),
        }
    }
}

#[test]
fn error_003_is_the_coverage_items_rule_the_adapter_checks_itself() {
    let body = r#"{"code":"003","message":"coverageItems ข้อมูลที่ส่งมาไม่ถูกต้อง"}"#.as_bytes();
    assert_eq!(paths(failure(400, body)), ["coverages"]);
}

#[test]
fn a_package_answered_with_null_coverages_prices_the_product() {
    let response: wire::QuickQuote = serde_json::from_value(serde_json::json!({
        "policyStartDate": "2022-07-23", "policyExpiryDate": "2023-07-23", "channel": "WS", "productCode": "CMI",
        "vehicle": { "make": "39", "model": "1597", "usage": "1.10", "garageType": null, "vehicleIdentificationNumber": "K",
            "registrationNumber": "กข1234", "registrationState": "0", "yearOfManufacture": "2020", "engineNumber": "",
            "owner": null },
        "productPackages": [{ "name": null, "coverages": null,
          "premium": { "discounts": null, "additionalCosts": null, "netPremium": 600, "grossPremium": 645.21 } }]
    }))
    .unwrap();
    let q = quotation(response).unwrap();
    assert_eq!(q.options.len(), 1);
    assert_eq!(q.options[0].plan, None);
    assert_eq!(q.options[0].premium, thb("645.21"));
}

#[test]
fn a_cmi_package_names_no_coverage_code() {
    let package = wire::Package {
        name: None,
        coverages: None,
        premium: None,
    };
    let json = serde_json::to_value(&package).unwrap();
    assert!(json["coverages"].is_null(), "{json}");
    assert!(!json.to_string().contains("\"CMI\""), "{json}");
}

fn info(contract_id: serde_json::Value, status: &str) -> wire::ContractInfo {
    serde_json::from_value(serde_json::json!({
        "contractId": contract_id, "policyNumber": null, "policyStartDate": "2022-06-17",
        "policyExpiryDate": "2023-06-17", "documentUrl": null, "policyStatus": status
    }))
    .unwrap()
}

#[test]
fn a_null_contract_id_is_tolerated_where_its_meaning_is_clear() {
    // A VERIFY creates nothing: pending, no reference.
    let a = acceptance(info(serde_json::Value::Null, "SUCCESS"), AcceptanceMode::Verify).unwrap();
    assert_eq!(a.outcome, AcceptanceOutcome::Pending);
    assert!(a.references.is_empty());
    // The status of a contract the path names keeps that id.
    let s = status_report(info(serde_json::Value::Null, "CANCELLED"), "abc").unwrap();
    assert_eq!(s.references[0].value, "abc");
    assert_eq!(s.status, CaseStatus::Cancelled);
    // An inspection without a contract to follow it by is not clear.
    assert!(matches!(
        acceptance(
            info(serde_json::Value::Null, "PROCESS_CAR_INSPECTION"),
            AcceptanceMode::Issue
        ),
        Err(AdapterError::PartnerProtocol(_))
    ));
    let a = acceptance(info(serde_json::json!("c-1"), "SUCCESS"), AcceptanceMode::Issue).unwrap();
    assert_eq!(a.references[0].value, "c-1");
}

#[test]
fn a_verify_answered_rejected_is_declined_not_verified() {
    let a = acceptance(info(serde_json::Value::Null, "REJECTED"), AcceptanceMode::Verify).unwrap();
    assert_eq!(a.outcome, AcceptanceOutcome::Rejected);
    assert_eq!(a.status, CaseStatus::Declined);
    // A verification cannot have been cancelled: not an answer to trust.
    assert!(matches!(
        acceptance(info(serde_json::Value::Null, "CANCELLED"), AcceptanceMode::Verify),
        Err(AdapterError::PartnerProtocol(_))
    ));
}
