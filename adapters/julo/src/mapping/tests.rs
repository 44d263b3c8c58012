//! The mapping against the spec's rules.

use super::*;

fn person(role: PartyRole, name: &str) -> Party {
    Party {
        role,
        detail: PartyDetail::Person(Person {
            full_name: name.into(),
            title: None,
            given_name: None,
            middle_name: None,
            family_name: None,
            second_family_name: None,
            birth_date: Some("1992-01-01".into()),
            birth_place: Some("Jakarta".into()),
            gender: Some(Gender::Male),
            nationality: None,
            marital_status: Some("Menikah".into()),
            occupation: None,
            education: Some("Diploma".into()),
            mother_maiden_name: Some("Nani".into()),
            identities: vec![Identity {
                kind: IdentityKind::NationalId,
                number: "3203020101930001".into(),
                issuing_country: None,
            }],
            addresses: vec![Address {
                kind: AddressKind::Residence,
                lines: vec!["Batcave, Gotham City".into()],
                sub_district: Some("Cengkareng Barat".into()),
                district: Some("Cengkareng".into()),
                city: Some("Jakarta Barat".into()),
                province: Some("DKI Jakarta".into()),
                postal_code: Some("11730".into()),
                country: None,
            }],
            email: Some("budi@example.com".into()),
            phones: vec![Phone {
                kind: PhoneKind::Mobile,
                number: "085330838909".into(),
                country_code: None,
                area_code: None,
            }],
        }),
        relationship: Some("Saudara kandung".into()),
        share_percent: None,
    }
}

fn idr(amount: &str) -> Option<Money> {
    Some(Money {
        amount: amount.into(),
        currency: CURRENCY.into(),
    })
}

fn details() -> ApplicationDetails {
    ApplicationDetails {
        parties: vec![
            person(PartyRole::Applicant, "budi ismail"),
            person(PartyRole::Spouse, "Jeane Melany"),
            person(PartyRole::NextOfKin, "Lawage Nugroho"),
        ],
        application: CreditLimitApplication {
            purpose: Some("Membeli kendaraan".into()),
            purpose_detail: Some("new gadget".into()),
            employment: Some(Employment {
                kind: "Pegawai swasta".into(),
                industry: Some("Kesehatan".into()),
                description: Some("Apoteker".into()),
                employer: Some("DBS Bank".into()),
                employer_phone: Some("02153653232".into()),
                start_date: Some("2010-07-01".into()),
                payday: Some(24),
            }),
            finances: Some(Finances {
                monthly_income: idr("10000000"),
                monthly_expenses: idr("500000"),
                monthly_housing_cost: idr("0"),
                current_debt: idr("0"),
            }),
            bank_account: Some(BankAccount {
                bank: "BANK NEGARA INDONESIA (PERSERO), Tbk (BNI)".into(),
                number: "0672272764".into(),
                holder: None,
            }),
            home_status: Some("Milik sendiri, lunas".into()),
            resident_since: Some("1999-07-13".into()),
            dependents: Some(2),
            location: None,
            pin: None,
        },
        consents: vec![
            Consent {
                kind: ConsentKind::DataVerification,
                accepted: true,
                date: None,
            },
            Consent {
                kind: ConsentKind::Terms,
                accepted: true,
                date: None,
            },
        ],
    }
}

#[test]
fn the_spec_example_application_maps_field_for_field() {
    let data = customer_data(&details()).unwrap();
    let json = serde_json::to_value(&data).unwrap();
    assert_eq!(json["gender"], "Pria");
    assert_eq!(json["address_kodepos"], "11730");
    assert_eq!(json["spouse_name"], "Jeane Melany");
    assert_eq!(json["kin_relationship"], "Saudara kandung");
    assert_eq!(json["payday"], 24);
    assert_eq!(json["monthly_income"], 10000000);
    assert_eq!(json["is_term_accepted"], true);
}

#[test]
fn a_married_applicant_without_a_spouse_and_a_worker_without_an_employer_are_named() {
    let mut d = details();
    d.parties.retain(|p| p.role != PartyRole::Spouse);
    if let Some(job) = d.application.employment.as_mut() {
        job.employer = None;
        job.payday = Some(32);
    }
    let Err(AdapterError::InvalidRequest(issues)) = customer_data(&d) else {
        panic!("expected invalid")
    };
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert!(paths.contains(&"step.complete_application.parties"), "{paths:?}");
    assert!(
        paths.contains(&"step.complete_application.application.employment.employer"),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"step.complete_application.application.employment.payday"),
        "{paths:?}"
    );
}

#[test]
fn someone_not_working_needs_no_employer() {
    let mut d = details();
    d.application.employment = Some(Employment {
        kind: "Mahasiswa".into(),
        industry: None,
        description: None,
        employer: None,
        employer_phone: None,
        start_date: None,
        payday: None,
    });
    assert!(customer_data(&d).is_ok());
}

#[test]
fn lookups_name_their_missing_parent() {
    let request = |kind: &str, filters: Vec<(&str, &str)>| LookupRequest {
        kind: kind.into(),
        filters: filters
            .into_iter()
            .map(|(n, v)| Pair {
                name: n.into(),
                value: v.into(),
            })
            .collect(),
    };
    assert_eq!(
        lookup_query(&request("banks", vec![])).unwrap(),
        "api/partnership/v1/dropdown-data?data_selected=banks"
    );
    assert_eq!(
        lookup_query(&request("cities", vec![("province", "Jawa Barat")])).unwrap(),
        "api/partnership/v1/address?get_address=city&province=Jawa%20Barat"
    );
    assert!(matches!(
        lookup_query(&request("districts", vec![("province", "X")])),
        Err(AdapterError::InvalidRequest(_))
    ));
    assert!(matches!(
        lookup_query(&request("jobs", vec![])),
        Err(AdapterError::InvalidRequest(_))
    ));
    assert!(matches!(
        lookup_query(&request("planets", vec![])),
        Err(AdapterError::InvalidRequest(_))
    ));
}

#[test]
fn julo_failures_carry_its_error_strings() {
    let body = br#"{"success": false, "data": null, "errors": ["NIK sudah terdaftar"]}"#;
    assert!(matches!(failure(200, body), AdapterError::Rejected(r) if r.message == "NIK sudah terdaftar"));
    assert!(matches!(failure(401, body), AdapterError::Unauthorized(_)));
}

#[test]
fn julo_envelope_on_http_400_is_a_rejection_with_its_message() {
    let body = br#"{"success": false, "data": null, "errors": ["OTP salah atau kadaluarsa"]}"#;
    assert!(
        matches!(failure(400, body), AdapterError::Rejected(r) if r.message == "OTP salah atau kadaluarsa")
    );
    // A 400 that is not JULO's envelope stays a malformed request.
    assert!(matches!(
        failure(400, b"<html>Bad Request</html>"),
        AdapterError::PartnerBadRequest(_)
    ));
    assert!(matches!(failure(503, body), AdapterError::PartnerUnavailable(_)));
}

#[test]
fn a_pin_julo_does_not_call_strong_never_registers() {
    let weak = br#"{"success": false, "data": null, "errors": ["PIN is weak"]}"#;
    let Err(AdapterError::InvalidRequest(issues)) = pin_verdict(Err(failure(400, weak))) else {
        panic!("a weak PIN is named")
    };
    assert_eq!(issues[0].path, "interest.credit_limit.pin");
    assert!(issues[0].message.contains("PIN is weak"));
    assert!(matches!(
        pin_verdict(Err(failure(401, b""))),
        Err(AdapterError::Unauthorized(_))
    ));
    assert!(matches!(
        pin_verdict(Err(failure(502, b""))),
        Err(AdapterError::PartnerUnavailable(_))
    ));
    assert!(pin_verdict(Ok(serde_json::json!("Strong password"))).is_ok());
}

#[test]
fn only_jpeg_and_png_images_go_to_julo() {
    assert_eq!(image_format(b"\xff\xd8\xff\xe0JFIF"), Some("jpeg"));
    assert_eq!(image_format(b"\x89PNG\r\n\x1a\n...."), Some("png"));
    assert_eq!(image_format(b"%PDF-1.4\n"), None);
    assert_eq!(image_format(b"hello"), None);
    let Err(AdapterError::InvalidRequest(issues)) = check_image(b"%PDF-1.4\n") else {
        panic!("a PDF is refused")
    };
    assert_eq!(issues[0].path, "file");
}

fn case_with(references: Vec<Reference>) -> CaseRef {
    CaseRef {
        id: "c-1".into(),
        kind: CaseKind::CreditApplication,
        status: CaseStatus::PendingDocuments,
        product: None,
        references,
        policy: None,
        parent: None,
    }
}

#[test]
fn the_complete_application_waits_for_the_validated_otp() {
    let xid = Reference {
        kind: APPLICATION_XID.into(),
        value: "12".into(),
    };
    let Err(AdapterError::Conflict(message)) = otp_verified(&case_with(vec![xid.clone()])) else {
        panic!("refused before the OTP")
    };
    assert!(message.contains("verify_otp"), "{message}");
    let verified = Reference {
        kind: OTP_VERIFIED.into(),
        value: "12".into(),
    };
    assert!(otp_verified(&case_with(vec![xid, verified])).is_ok());
}

#[test]
fn lookup_values_are_percent_encoded_in_full() {
    assert_eq!(encode("Jawa Barat"), "Jawa%20Barat");
    assert_eq!(encode("Sales / Marketing"), "Sales%20%2F%20Marketing");
    assert_eq!(encode("a#b?c=d&e+f%g"), "a%23b%3Fc%3Dd%26e%2Bf%25g");
    assert_eq!(encode("Ciledug"), "Ciledug");
    assert_eq!(encode("Kebon Jeruk (Timur)"), "Kebon%20Jeruk%20%28Timur%29");
}

#[test]
fn sub_districts_given_as_objects_keep_name_and_postal_code() {
    let data = serde_json::json!([
        { "subdistrict": "Cigondewah Kaler", "zipcode": "40214" },
        { "subdistrict": "Ciroyom", "zipcode": 40182 },
        "Kebon Jeruk"
    ]);
    let items = lookup_items(&data, Some("Andir".into())).unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0].code, "Cigondewah Kaler");
    assert_eq!(items[0].label, "Cigondewah Kaler (40214)");
    assert_eq!(items[1].label, "Ciroyom (40182)");
    assert_eq!(items[2].code, "Kebon Jeruk");
    assert!(lookup_items(&serde_json::json!([{ "id": 1 }]), None).is_err());
}

fn blank_fields(marital_status: &str) -> ApplicationDetails {
    let mut d = details();
    for party in d.parties.iter_mut() {
        if let PartyDetail::Person(p) = &mut party.detail {
            p.full_name = match party.role {
                PartyRole::Applicant => String::new(),
                _ => "   ".into(),
            };
            p.marital_status = Some(marital_status.into());
            p.mother_maiden_name = Some(" ".into());
        }
    }
    d.parties.push(person(PartyRole::EmergencyContact, ""));
    if let Some(job) = d.application.employment.as_mut() {
        job.kind = " ".into();
    }
    d.application.bank_account = Some(BankAccount {
        bank: String::new(),
        number: "\t".into(),
        holder: None,
    });
    d
}

fn issue_paths(result: Result<CustomerData, AdapterError>) -> Vec<String> {
    match result {
        Err(AdapterError::InvalidRequest(issues)) => issues.into_iter().map(|i| i.path).collect(),
        other => panic!("expected invalid-request, got {other:?}"),
    }
}

/// Spec 5.2's table marks `fullname`, `kin_name`, `job_type`, `bank_name`,
/// `bank_account_number` (and the spouse's or parent's name by marital status) "Mandatory |
/// YES": an empty or spaces-only value is as missing as an absent one, and is named.
#[test]
fn a_blank_mandatory_field_is_named_before_julo_sees_it() {
    let married = issue_paths(customer_data(&blank_fields("Menikah")));
    for path in [
        "step.complete_application.parties[0].detail.person.full_name",
        "step.complete_application.parties[0].detail.person.mother_maiden_name",
        "step.complete_application.parties[next_of_kin].detail.person.full_name",
        "step.complete_application.parties[spouse].detail.person.full_name",
        "step.complete_application.application.employment.kind",
        "step.complete_application.application.bank_account.bank",
        "step.complete_application.application.bank_account.number",
    ] {
        assert!(married.iter().any(|p| p == path), "{path} not in {married:?}");
    }
    let single = issue_paths(customer_data(&blank_fields("Lajang")));
    let parent = "step.complete_application.parties[emergency_contact].detail.person.full_name";
    assert!(single.iter().any(|p| p == parent), "{single:?}");
}

fn application(email: &str) -> Application {
    let mut applicant = person(PartyRole::Applicant, "Budi Susanto");
    if let PartyDetail::Person(p) = &mut applicant.detail {
        p.email = Some(email.into());
    }
    Application {
        case_id: "case-1".into(),
        mode: AcceptanceMode::Underwrite,
        product: Some("credit-limit".into()),
        plan: None,
        quote_reference: None,
        start_date: None,
        end_date: None,
        proposal_date: None,
        frequency: None,
        sum_insured: None,
        premium: None,
        payment: None,
        parties: vec![applicant],
        interest: InsuredInterest::CreditLimit(CreditLimitApplication {
            pin: Some("159357".into()),
            location: Some(GeoPoint {
                latitude: -6.1815657,
                longitude: 106.7229445,
            }),
            ..details().application
        }),
        coverages: vec![],
        consents: vec![],
        digital_policy: None,
        channel: None,
        extensions: None,
        option_ids: Vec::new(),
        start_time: None,
        questionnaire: Vec::new(),
        renewal_of: None,
    }
}

/// Spec 5.1: `email` is a "valid email", one `@` before a domain with a dot, as JULO (and the
/// simulator's pre-register check) reads it.
#[test]
fn registration_takes_only_a_valid_email() {
    for good in ["example@test.com", "budi.s@gmail.com", "a+b@mail.co.id"] {
        assert!(registrant(&application(good)).is_ok(), "{good}");
    }
    for bad in [
        "budi.s@gmail",
        "budi@",
        "@gmail.com",
        "budi@gmail.",
        "budi@.com",
        "budi@@gmail.com",
        "budi s@gmail.com",
        "budi.gmail.com",
    ] {
        let Err(AdapterError::InvalidRequest(issues)) = registrant(&application(bad)) else {
            panic!("`{bad}` is no e-mail address")
        };
        assert_eq!(issues[0].path, "parties[0].detail.person.email", "{bad}");
    }
}

/// The spec gives no HTTP status for any failure. A 404 with JULO's envelope is JULO not
/// knowing the application; 408, 429 and 5xx are JULO unable to answer now, retryable, never a
/// final refusal; a 400 with the envelope stays JULO's business refusal.
#[test]
fn julo_failures_are_read_by_their_status_not_only_their_envelope() {
    let body = |m: &str| {
        serde_json::to_vec(&serde_json::json!({ "success": false, "data": null, "errors": [m] })).unwrap()
    };
    assert!(
        matches!(failure(404, &body("application not found")), AdapterError::NotFound(m) if m.contains("application not found"))
    );
    for status in [408, 429, 500, 502, 503, 504] {
        assert!(
            matches!(failure(status, &body("coba lagi nanti")), AdapterError::PartnerUnavailable(m) if m.contains(&format!("HTTP {status}"))),
            "HTTP {status}"
        );
    }
    assert!(matches!(failure(429, b""), AdapterError::PartnerUnavailable(_)));
    assert!(matches!(
        failure(400, &body("NIK sudah terdaftar")),
        AdapterError::Rejected(_)
    ));
    // A 404 that is not JULO's envelope is no answer about the application (a wrong base URL).
    assert!(matches!(
        failure(404, b"<html>Not Found</html>"),
        AdapterError::PartnerProtocol(_)
    ));
}
