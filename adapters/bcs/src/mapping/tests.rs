//! The mapping against the spec's examples and rules.

use super::*;

fn insured() -> Party {
    Party {
        role: PartyRole::Insured,
        detail: PartyDetail::Person(Person {
            full_name: "ANGELICA SUAREZ".into(),
            title: None,
            given_name: Some("ANGELICA".into()),
            middle_name: None,
            family_name: Some("SUAREZ".into()),
            second_family_name: None,
            birth_date: Some("1990-12-30".into()),
            birth_place: None,
            gender: Some(Gender::Female),
            nationality: Some("169".into()),
            marital_status: None,
            occupation: None,
            education: None,
            mother_maiden_name: None,
            identities: vec![Identity {
                kind: IdentityKind::NationalId,
                number: "44458129653".into(),
                issuing_country: None,
            }],
            addresses: vec![],
            email: Some("angelica@example.co".into()),
            phones: vec![Phone {
                kind: PhoneKind::Mobile,
                number: "3001234567".into(),
                country_code: None,
                area_code: None,
            }],
        }),
        relationship: None,
        share_percent: None,
    }
}

fn quote(product: &str, interest: InsuredInterest, binding: bool) -> QuoteRequest {
    QuoteRequest {
        product: Some(product.into()),
        plan: Some("1".into()),
        binding,
        start_date: None,
        end_date: None,
        frequency: None,
        sum_insured: None,
        parties: vec![insured()],
        interest,
        coverages: vec![],
        channel: None,
        extensions: Some(r#"{"office":"6005"}"#.into()),
    }
}

fn life() -> InsuredInterest {
    InsuredInterest::Life(LifeCover {
        smoker: None,
        height_cm: None,
        weight_kg: None,
    })
}

#[test]
fn products_route_to_the_life_or_the_general_endpoints() {
    assert_eq!(route(&Some("24297".into()), &life()).unwrap().1, Route::Life);
    assert_eq!(
        route(&Some("34299".into()), &life()).unwrap().1,
        Route::General(1)
    );
    let card = InsuredInterest::CardProtection(Card {
        brand: None,
        kind: None,
        last_digits: None,
        account: None,
    });
    assert_eq!(route(&Some("69308".into()), &card).unwrap().1, Route::General(2));
    assert!(
        route(&Some("69308".into()), &life()).is_err(),
        "a card product is not life cover"
    );
    assert!(route(&Some("99999".into()), &life()).is_err());
}

#[test]
fn a_life_simulation_is_the_spec_example_array_with_a_day_first_birth_date() {
    let (path, body) = quote_body(&quote("24297", life(), false), "101", None).unwrap();
    assert_eq!(path, "policy-management/v1/life/simulation");
    assert_eq!(body[0]["product"]["productIdNumber"], "24297");
    assert_eq!(body[0]["insuranceInfo"]["personName"]["birthDt"], "30-12-1990");
    assert_eq!(body[0]["insuranceInfo"]["channel"], "101");
}

#[test]
fn a_binding_quote_needs_a_plan_and_an_office() {
    let mut q = quote("31300", life(), true);
    q.plan = None;
    q.extensions = None;
    let Err(AdapterError::InvalidRequest(issues)) = quote_body(&q, "101", None) else {
        panic!("expected invalid")
    };
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(paths, ["plan", "extensions.office"]);
}

#[test]
fn simulations_and_quotes_read_back_as_options() {
    let simulation = serde_json::json!({ "responseDetail": { "errorCode": "", "errorDesc": "", "startDt": "x" }, "insuranceInfo": [
        { "product": { "productLine": 31, "productClass": 31300, "idItem": 1, "desc": "Plan 1 5 MM", "fee": { "totalInsurableValue": 200 }, "freq": 1 },
          "coverageInfo": [ { "coverageId": 1, "desc": "Muerte Accidental", "amt": 5000000.0, "fee": { "insuranPremiumValue": 0.0 }, "insuranPremiumValue": 59880.0 } ] } ] });
    let q = quotation(&simulation, "31300").unwrap();
    assert_eq!(q.reference, None);
    assert_eq!(q.options[0].plan.as_deref(), Some("1"));
    assert_eq!(
        q.options[0].premium,
        Money {
            amount: "200".into(),
            currency: "COP".into()
        }
    );
    assert_eq!(
        q.options[0].coverages[0].sum_insured,
        Some(Money {
            amount: "5000000".into(),
            currency: "COP".into()
        })
    );
    let quoted = serde_json::json!({ "pmtReferences": { "pmtAuthId": 1221 }, "responseDetail": { "errorCode": "", "errorDesc": "", "startDt": "" },
        "insuranceInfo": { "coverageInfo": [] }, "invoicePremium": { "fee": { "totalInsurableValue": 27775, "amt": 2409 }, "billId": 1111, "insuranPremiumValue": 25366 },
        "product": { "idItem": 1, "desc": "X", "freq": 1 } });
    let q = quotation(&quoted, "34299").unwrap();
    assert_eq!(q.reference.as_deref(), Some("1221"));
    assert_eq!(q.options[0].premium.amount, "27775");
    assert_eq!(q.options[0].taxes.as_ref().unwrap().amount, "2409");
}

#[test]
fn both_error_envelopes_are_typed() {
    let a = br#"{"responseType":{"value":"ER"},"responseDetail":{"errorCode":"00001","errorDesc":"Error en la actualizacion","errorType":"TPS"}}"#;
    assert!(matches!(failure(200, a), AdapterError::Rejected(r) if r.code == "00001"));
    let b = br#"{"responseType":{"value":"ERR400"},"responseDetail":{"errorCode":400,"errorDesc":"Payload not found","errorType":"Bad Request"}}"#;
    assert!(matches!(failure(400, b), AdapterError::PartnerBadRequest(_)));
    assert!(is_error(&serde_json::from_slice(a).unwrap()));
    assert!(!is_error(
        &serde_json::json!({ "responseDetail": { "errorCode": "", "errorDesc": "" } })
    ));
}
