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
        start_time: None,
        questionnaire: Vec::new(),
        renewal_of: None,
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
    assert!(matches!(failure(422, a), AdapterError::Rejected(r) if r.code == "00001"));
    // A server error in the same envelope is the partner unavailable, not a decline: an
    // issuing it answers is in doubt. So are a timeout and a rate limit, with or without one.
    for status in [500, 502, 503] {
        assert!(
            matches!(failure(status, a), AdapterError::PartnerUnavailable(m) if m.contains("00001")),
            "{status}"
        );
    }
    for status in [408, 429] {
        assert!(
            matches!(failure(status, b""), AdapterError::PartnerUnavailable(_)),
            "{status}"
        );
    }
    // APIkit's refusals of the request's form, and a refusal with no code of the partner's.
    for status in [405, 406, 415] {
        assert!(
            matches!(failure(status, b""), AdapterError::PartnerBadRequest(_)),
            "{status}"
        );
    }
    assert!(matches!(failure(409, b"busy"), AdapterError::PartnerProtocol(_)));
    assert!(is_error(&serde_json::from_slice(a).unwrap()));
    assert!(!is_error(
        &serde_json::json!({ "responseDetail": { "errorCode": "", "errorDesc": "" } })
    ));
}

// ---- issue 18: the seed's required fields ----

fn address(kind: AddressKind, line: &str, city: &str) -> Address {
    Address {
        kind,
        lines: vec![line.into()],
        sub_district: None,
        district: None,
        city: Some(city.into()),
        province: Some("11".into()),
        postal_code: Some("110111".into()),
        country: None,
    }
}

fn phone(kind: PhoneKind, number: &str) -> Phone {
    Phone {
        kind,
        number: number.into(),
        country_code: None,
        area_code: None,
    }
}

/// The seed #3 example's applicant, canonically.
fn applicant() -> Party {
    let mut party = insured();
    if let PartyDetail::Person(p) = &mut party.detail {
        p.identities[0].number = "10003598".into();
        p.occupation = Some("05".into());
        p.addresses = vec![
            address(AddressKind::Residence, "KR 22 06 32", "11001"),
            address(AddressKind::Work, "KR 1 12 66", "81001"),
        ];
        p.phones = vec![
            phone(PhoneKind::Mobile, "3212587913"),
            phone(PhoneKind::Home, "4296111"),
            phone(PhoneKind::Work, "740 3462"),
        ];
    }
    party
}

fn application(mode: AcceptanceMode, product: &str, interest: InsuredInterest) -> Application {
    Application {
        case_id: "c1".into(),
        mode,
        product: Some(product.into()),
        plan: Some("001".into()),
        quote_reference: Some("1001".into()),
        start_date: None,
        end_date: None,
        proposal_date: None,
        frequency: None,
        sum_insured: None,
        premium: None,
        payment: Some(Payment {
            method: PaymentMethod::AccountDebit,
            bank: Some("558".into()),
            account: Some("696369321563".into()),
        }),
        parties: vec![applicant()],
        interest,
        coverages: vec![],
        consents: vec![],
        digital_policy: None,
        channel: None,
        extensions: Some(r#"{"office":"6005","account_type":"2"}"#.into()),
        option_ids: Vec::new(),
        start_time: None,
        questionnaire: vec![answer("1", "yes"), answer("2", "no")],
        renewal_of: None,
    }
}

fn debtor() -> InsuredInterest {
    InsuredInterest::CreditLife(Loan {
        account: Some("1216827820".into()),
        principal: Some(Money {
            amount: "50000000".into(),
            currency: "COP".into(),
        }),
        outstanding: None,
        tenor_months: None,
        branch: Some("0166".into()),
        application_date: Some("2023-08-01".into()),
        contract_date: None,
        end_date: None,
        transaction: None,
    })
}

fn settings() -> CaseSettings {
    CaseSettings {
        domain: "domain".into(),
        user: "admon".into(),
        bank_system: 6,
    }
}

fn paths(result: Result<(String, Value), AdapterError>) -> Vec<String> {
    match result {
        Err(AdapterError::InvalidRequest(issues)) => issues.into_iter().map(|i| i.path).collect(),
        other => panic!("expected invalid, got {other:?}"),
    }
}

#[test]
fn an_insurance_case_applicant_is_the_seed_example_shape() {
    let app = application(AcceptanceMode::Underwrite, "3703", debtor());
    let (path, body) = case_body(&app, &settings()).unwrap();
    assert_eq!(path, "policy-management/v1/insurance/case");
    let a = &body["insuranceInfo"][0]["refInfo"][0]["applicantInfo"][0];
    assert_eq!(a["applicantType"], 1);
    assert_eq!(a["planRequested"], "001");
    assert_eq!(
        a["personInfo"],
        serde_json::json!({ "birthDt": "1990-12-30", "gender": "1" })
    );
    // "identSerialNum … | Int | 15"; the example's "govIssueIdentType": "CC".
    assert_eq!(
        a["govIssueIdent"],
        serde_json::json!({ "identSerialNum": 10003598, "govIssueIdentType": "CC" })
    );
    assert_eq!(
        a["orgInfo"],
        serde_json::json!({ "addr1": "KR 1 12 66", "cityId": "81001", "additionalPhoneNum": { "cellPhone": 7403462 } })
    );
    assert_eq!(a["contactInfo"]["cellPhone"], 3212587913u64);
    assert_eq!(a["contactInfo"]["addr1"], "KR 22 06 32");
    assert_eq!(a["contactInfo"]["cityId"], "11001");
    assert_eq!(a["contactInfo"]["additionalPhoneNum"]["cellPhone"], 4296111);
    assert_eq!(a["contactInfo"]["emailAddr"], "angelica@example.co");
    assert!(a.get("emailAddr").is_none(), "emailAddr is under contactInfo");
    assert_eq!(
        a["birthDt"], "1990-12-30",
        "the insurability date defaults to the birth date"
    );
    assert_eq!(a["businessOcucupation"]["certcode"], "05");
    assert_eq!(
        a["question"],
        serde_json::json!([{ "questionIdent": 1, "answer": true, "desc": "" }, { "questionIdent": 2, "answer": false, "desc": "" }])
    );
}

#[test]
fn an_insurance_case_names_each_missing_applicant_field() {
    let mut app = application(AcceptanceMode::Underwrite, "3703", debtor());
    app.plan = Some("0001".into());
    app.questionnaire = vec![answer("1", "maybe")];
    if let PartyDetail::Person(p) = &mut app.parties[0].detail {
        p.identities[0].number = "AB12".into();
        p.addresses.retain(|a| a.kind == AddressKind::Residence);
        p.phones.retain(|ph| ph.kind == PhoneKind::Mobile);
        p.occupation = None;
    }
    let p = "parties[0].detail.person";
    assert_eq!(
        paths(case_body(&app, &settings())),
        [
            "plan".to_string(),
            "questionnaire[0].answer".into(),
            format!("{p}.identities[0].number"),
            format!("{p}.addresses[work]"),
            format!("{p}.phones[work]"),
            format!("{p}.phones[home]"),
            format!("{p}.occupation"),
        ]
    );
    app.questionnaire = Vec::new();
    assert!(paths(case_body(&app, &settings())).contains(&"questionnaire".to_string()));
}

fn beneficiary(relationship: Option<&str>) -> Party {
    let mut b = insured();
    b.role = PartyRole::Beneficiary;
    b.relationship = relationship.map(str::to_string);
    b.share_percent = Some("100".into());
    b
}

#[test]
fn issuing_carries_the_payment_the_address_and_the_beneficiary_relationship() {
    let mut app = application(AcceptanceMode::Issue, "31300", life());
    app.parties.push(beneficiary(Some("3")));
    let (path, body) = issuing_body(&app, "101", None).unwrap();
    assert_eq!(path, "policy-management/v1/life/issuing");
    // An account debit: pmtType "1" and depAcctId, as #10's productIdent 2 and 3 examples.
    assert_eq!(body["pmtReferences"]["pmtType"], "1");
    assert_eq!(
        body["personInfo"]["depAcctId"],
        serde_json::json!([{ "bankId": "558", "acctType": "2", "acctId": "696369321563" }])
    );
    assert!(body["personInfo"].get("ccAcctRec").is_none());
    let post = &body["personInfo"]["contactInfo"]["postAddr"][0];
    assert_eq!(post["addr1"], "KR 22 06 32");
    assert_eq!(post["cityId"], "11001");
    // Spec 8.12: issuing's examples write birthDt as YYYY-MM-DD.
    assert_eq!(body["personInfo"]["birthDt"], "1990-12-30");
    assert_eq!(body["beneficiary"][0]["personInfo"]["relationshipType"], "3");
    // A card: pmtType "2" and ccAcctRec.code, as #10's productIdent 1 example.
    app.payment = Some(Payment {
        method: PaymentMethod::Card,
        bank: Some("32".into()),
        account: Some("4704371043791074".into()),
    });
    let (_, body) = issuing_body(&app, "101", None).unwrap();
    assert_eq!(body["pmtReferences"]["pmtType"], "2");
    assert_eq!(
        body["personInfo"]["ccAcctRec"],
        serde_json::json!([{ "code": "32", "acctId": "4704371043791074" }])
    );
}

#[test]
fn issuing_names_what_it_would_otherwise_invent() {
    let mut app = application(AcceptanceMode::Issue, "31300", life());
    app.parties.push(beneficiary(None));
    app.extensions = Some(r#"{"office":"6005"}"#.into());
    app.payment.as_mut().unwrap().bank = Some("999".into());
    if let PartyDetail::Person(p) = &mut app.parties[0].detail {
        p.addresses.clear();
    }
    assert_eq!(
        paths(issuing_body(&app, "101", None)),
        [
            "payment.bank",
            "extensions.account_type",
            "parties[0].detail.person.addresses",
            "parties[1].relationship"
        ]
    );
}

/// The seed's home (#8-#10): a building on AVENIDA BRASIL insured for 195,000,000 COP.
fn seed_home() -> InsuredInterest {
    InsuredInterest::Property(Building {
        address: Some(address(AddressKind::Residence, "AVENIDA BRASIL", "52835")),
        construction: None,
        occupancy: None,
        building_value: Some(Money {
            amount: "195000000".into(),
            currency: "COP".into(),
        }),
        contents_value: None,
    })
}

#[test]
fn a_home_simulation_needs_no_person_as_the_seeds_example_sends_none() {
    let home = seed_home();
    let mut request = quote("67307", home, false);
    request.parties.clear();
    let (path, body) = quote_body(&request, "101", None).unwrap();
    assert!(path.ends_with("general/simulation"), "{path}");
    assert!(body["insuranceInfo"].get("personName").is_none(), "{body}");
    assert_eq!(body["insuranceInfo"]["capitalization"][0]["amt"], 195000000.0);
    // A person given is sent.
    request.parties = vec![insured()];
    let (_, body) = quote_body(&request, "101", None).unwrap();
    assert!(
        body["insuranceInfo"]["personName"]["birthDt"].is_string(),
        "{body}"
    );
}

#[test]
fn home_issuing_keeps_the_capital_and_the_risk_address() {
    let home = seed_home();
    let (path, body) = issuing_body(&application(AcceptanceMode::Issue, "67307", home), "101", None).unwrap();
    assert_eq!(path, "policy-management/v1/general/issuing");
    assert_eq!(body["productIdent"], "3");
    assert_eq!(body["insuranceInfo"]["capitalization"][0]["amt"], 195000000.0);
    assert_eq!(
        body["insuranceInfo"]["riskInfo"]["postAddr"][0]["addr1"],
        "AVENIDA BRASIL"
    );
    assert_eq!(
        body["insuranceInfo"]["riskInfo"]["postAddr"][0]["cityId"],
        "52835"
    );
}

fn report(status: CaseStatus, code: &str) -> ApplicationStatusReport {
    ApplicationStatusReport {
        application_number: "550100000000001".into(),
        update: false,
        status,
        status_code: Some(code.into()),
        applicant: Identity {
            kind: IdentityKind::NationalId,
            number: "1234567890".into(),
            issuing_country: None,
        },
        applicant_type: Some("1".into()),
        product: Some("0".into()),
        plan: Some("1".into()),
        insurability_date: Some("2023-08-01".into()),
        observation: Some("Autorizacion de examenes medicos".into()),
        extra_premium_percent: None,
        coverages: vec![],
        case_number: Some("23032220".into()),
    }
}

#[test]
fn a_status_carries_the_application_status_and_the_client_status_apart() {
    let (_, _, body) = status_body(&report(CaseStatus::PendingUnderwriting, "AE"), "1").unwrap();
    assert_eq!(body["request"]["statusCode"], "AE");
    assert_eq!(body["personInfo"]["policy"]["status"], "SE");
    for (status, code, client) in [
        (CaseStatus::ApplicationApproved, "AP", "AP"),
        (CaseStatus::ApplicationRejected, "NE", "NE"),
        (CaseStatus::ApplicationRejected, "NR", "NR"),
        (CaseStatus::Withdrawn, "DE", "DE"),
    ] {
        assert_eq!(client_status(status, code), Some(client), "{status:?} {code}");
    }
    let Err(AdapterError::InvalidRequest(issues)) = status_body(&report(CaseStatus::ClaimPaid, "PS"), "1")
    else {
        panic!("a claim status has no client status")
    };
    assert_eq!(issues[0].path, "application_status.status");
}

fn answer(question: &str, answer: &str) -> Answer {
    Answer {
        question: question.into(),
        text: None,
        answer: answer.into(),
        details: None,
    }
}

#[test]
fn a_case_answer_with_an_error_inside_insurance_info_is_the_partners_rejection() {
    let app = application(AcceptanceMode::Underwrite, "3703", debtor());
    // Seed #3's response table: "insuranceInfo.responseType.value | Devuelve el estado de la
    // transaccion", "insuranceInfo.responseDetail.errorCode | Devuelve codigo de error encontrado".
    let refused = serde_json::json!({ "insuranceInfo": { "policyId": 0, "trnSrcInfo": { "code": "1" },
        "requestNumber": "1216827820", "productType": "3703",
        "responseType": { "value": "ER" },
        "responseDetail": { "errorCode": "00001", "errorDesc": "Error en la creacion del caso", "errorType": "TPS" } } });
    assert!(!is_error(&refused), "nothing at the top level");
    match case_opened(&refused, &app) {
        Err(AdapterError::Rejected(r)) => {
            assert_eq!(r.code, "00001");
            assert_eq!(r.message, "Error en la creacion del caso");
        }
        other => panic!("expected BCS's rejection, got {other:?}"),
    }
    // An error type without a code still refuses, under the type.
    let mut bare = refused.clone();
    bare["insuranceInfo"]["responseDetail"]["errorCode"] = serde_json::json!("");
    assert!(matches!(case_opened(&bare, &app), Err(AdapterError::Rejected(r)) if r.code == "ER"));
    // The seed's success example: "OK" with empty error fields.
    let mut opened = refused;
    opened["insuranceInfo"]["policyId"] = serde_json::json!(23032220);
    opened["insuranceInfo"]["responseType"]["value"] = serde_json::json!("OK");
    opened["insuranceInfo"]["responseDetail"] =
        serde_json::json!({ "errorCode": "", "errorDesc": "", "errorType": "" });
    let acceptance = case_opened(&opened, &app).unwrap();
    assert_eq!(acceptance.references[0].value, "23032220");
}

#[test]
fn a_status_names_the_optional_fields_bcs_would_refuse() {
    let mut r = report(CaseStatus::ApplicationApproved, "AP");
    r.coverages = vec![CoverageDecision {
        code: "2".into(),
        excluded: true,
        premium_percent: Some("S".into()),
    }];
    r.extra_premium_percent = Some("10".into());
    let (_, _, body) = status_body(&r, "1").unwrap();
    // The seed's #2 example shapes: "exclude": "true", "percentage": "10",
    // coverageInfo [{ "exclude": true, "percentage": "S", "coverageId": "2" }].
    assert_eq!(body["personInfo"]["policy"]["exclude"], "true");
    assert_eq!(body["personInfo"]["policy"]["percentage"], "10");
    assert_eq!(
        body["coverageInfo"],
        serde_json::json!([{ "coverageId": "2", "exclude": true, "percentage": "S" }])
    );
    r.applicant_type = Some("1234567890123456".into());
    r.plan = Some("0001".into());
    r.extra_premium_percent = Some("1a".into());
    r.coverages = vec![CoverageDecision {
        code: "12345678901".into(),
        excluded: false,
        premium_percent: Some("1000".into()),
    }];
    let Err(AdapterError::InvalidRequest(issues)) = status_body(&r, "1") else {
        panic!("expected invalid")
    };
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "application_status.plan",
            "application_status.applicant_type",
            "application_status.coverages[0].code",
            "application_status.coverages[0].premium_percent",
            "application_status.extra_premium_percent",
        ]
    );
}

#[test]
fn a_case_request_number_is_at_most_15_digits() {
    let mut app = application(AcceptanceMode::Underwrite, "3703", debtor());
    if let InsuredInterest::CreditLife(loan) = &mut app.interest {
        loan.account = Some("123456789012345".into());
    }
    let (_, body) = case_body(&app, &settings()).unwrap();
    assert_eq!(
        body["insuranceInfo"][0]["refInfo"][0]["requestNumber"],
        123456789012345u64
    );
    for account in ["1234567890123456", "+1216827820"] {
        if let InsuredInterest::CreditLife(loan) = &mut app.interest {
            loan.account = Some(account.into());
        }
        assert_eq!(
            paths(case_body(&app, &settings())),
            ["interest.credit_life.account"],
            "{account}"
        );
    }
}

#[test]
fn the_bank_system_setting_is_one_digit() {
    let settings = CaseSettings::new("domain".into(), "admon".into(), "6").unwrap();
    assert_eq!(settings.bank_system, 6);
    for bad in ["12", "", "x", "-1"] {
        match CaseSettings::new("domain".into(), "admon".into(), bad) {
            Err(AdapterError::PartnerProtocol(m)) => assert!(m.contains("`bank-system`"), "{m}"),
            Err(other) => panic!("{bad}: {other:?}"),
            Ok(s) => panic!("{bad}: taken as {}", s.bank_system),
        }
    }
    assert!(CaseSettings::new("a-domain-of-16ch".into(), "admon".into(), "6").is_err());
    assert!(CaseSettings::new("domain".into(), "a-user-11ch".into(), "6").is_err());
}
