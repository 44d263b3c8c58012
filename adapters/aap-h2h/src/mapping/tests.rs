//! The mapping against the spec's own examples.

use super::*;

fn money_idr(amount: &str) -> Money {
    Money {
        amount: amount.into(),
        currency: CURRENCY.into(),
    }
}

fn insured() -> Party {
    Party {
        role: PartyRole::Insured,
        detail: PartyDetail::Person(Person {
            full_name: "TEST".into(),
            title: None,
            given_name: None,
            middle_name: None,
            family_name: None,
            second_family_name: None,
            birth_date: Some("1976-01-01".into()),
            birth_place: None,
            gender: None,
            nationality: None,
            marital_status: None,
            occupation: Some("DINAS KESEHATAN".into()),
            education: None,
            mother_maiden_name: None,
            identities: vec![Identity {
                kind: IdentityKind::NationalId,
                number: "123123123".into(),
                issuing_country: None,
            }],
            addresses: vec![],
            email: None,
            phones: vec![],
        }),
        relationship: None,
        share_percent: None,
    }
}

fn loan() -> Loan {
    Loan {
        account: Some("1MG289887".into()),
        principal: Some(money_idr("15000000")),
        outstanding: None,
        tenor_months: Some(60),
        branch: Some("015".into()),
        application_date: Some("2024-08-16".into()),
        contract_date: Some("2024-08-16".into()),
        end_date: None,
        transaction: Some(LoanTransaction::TopUp("1MG289826".into())),
    }
}

fn application() -> Application {
    Application {
        case_id: "case-1".into(),
        mode: AcceptanceMode::Issue,
        product: Some("01".into()),
        plan: None,
        quote_reference: None,
        start_date: None,
        end_date: None,
        proposal_date: None,
        frequency: None,
        sum_insured: None,
        premium: Some(money_idr("11250000")),
        payment: None,
        parties: vec![insured()],
        interest: InsuredInterest::CreditLife(loan()),
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

#[test]
fn acceptance_matches_the_spec_example_with_premium_and_computed_age() {
    let wire = acceptance_request(&application()).unwrap();
    let json = serde_json::to_value(&wire).unwrap();
    assert_eq!(json["ID_Loan"], "1MG289887");
    assert_eq!(json["Kode_Cabang_Bank"], "015");
    assert_eq!(json["Tenor"], 60);
    assert_eq!(json["Nilai_Pertanggungan"], 15000000);
    assert_eq!(json["Jenis_Transaksi"], "TOPUP");
    assert_eq!(json["Ref_ID_Loan"], "1MG289826");
    assert_eq!(json["Premi"], 11250000);
    assert_eq!(json["Pekerjaan"], "DINAS KESEHATAN");
    // Age at last birthday on the akad date, not the spec example's inconsistent 26.
    assert_eq!(json["Usia"], 48);
    // Akad + 60 months.
    assert_eq!(json["Tanggal_Akhir_Asuransi"], "2029-08-16");
}

#[test]
fn acceptance_names_every_missing_field() {
    let mut app = application();
    app.premium = None;
    app.product = Some("02".into());
    app.parties[0] = Party {
        role: PartyRole::Insured,
        ..insured()
    };
    if let PartyDetail::Person(p) = &mut app.parties[0].detail {
        p.identities.clear();
        p.birth_date = Some("01-01-1976".into());
    }
    let Err(AdapterError::InvalidRequest(issues)) = acceptance_request(&app) else {
        panic!("expected invalid")
    };
    let paths: Vec<_> = issues.iter().map(|i| i.path.as_str()).collect();
    assert!(paths.contains(&"premium"), "{paths:?}");
    assert!(paths.contains(&"product"), "{paths:?}");
    assert!(
        paths.contains(&"parties[0].detail.person.identities"),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"parties[0].detail.person.birth_date"),
        "{paths:?}"
    );
}

#[test]
fn amounts_must_be_whole_rupiah() {
    let mut issues = Issues::new();
    assert_eq!(
        rupiah(&money_idr("15000000.00"), "x", &mut issues),
        Some(15_000_000)
    );
    assert_eq!(rupiah(&money_idr("1.5"), "x", &mut issues), None);
    assert_eq!(
        rupiah(
            &Money {
                amount: "10".into(),
                currency: "USD".into()
            },
            "y",
            &mut issues
        ),
        None
    );
    assert!(!issues.is_empty());
}

#[test]
fn status_01_is_the_seeds_internal_error_so_the_partner_is_unavailable() {
    let body = br#"{"Status":"01","Keterangan":"Terjadi kesalahan host to host"}"#;
    match check_response(200, body) {
        Err(AdapterError::PartnerUnavailable(detail)) => {
            assert!(detail.contains("Terjadi kesalahan host to host"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        check_response(400, b"Format data tidak sesuai"),
        Err(AdapterError::PartnerBadRequest(_))
    ));
    assert!(matches!(
        check_response(401, b"Invalid Username or Password"),
        Err(AdapterError::Unauthorized(_))
    ));
    assert!(matches!(
        check_response(502, b""),
        Err(AdapterError::PartnerUnavailable(_))
    ));
    assert!(matches!(
        check_response(200, b"<html>"),
        Err(AdapterError::PartnerProtocol(_))
    ));
    assert!(check_response(200, br#"{"Status":"00","Keterangan":"ok"}"#).is_ok());
}

#[test]
fn quotation_reads_the_nested_document_list() {
    let response: PremiumResponse = serde_json::from_str(
        r#"{"Status":"00","Keterangan":"ok","Premi":11250000,"Status_Akseptasi":"A","Akumulasi":1,
            "Nilai_Akumulasi":5000000,"List_Dokumen_UnderWriting":[{"Kode_Dokumen":"A-BJTM-0003","Nama_Dokumen":"Elektrokardiogram"}]}"#,
    )
    .unwrap();
    let q = quotation(response, Some("01".into()));
    assert_eq!(q.options[0].premium, money_idr("11250000"));
    assert_eq!(q.acceptance_class.as_deref(), Some("A"));
    assert_eq!(q.accumulation, Some(money_idr("5000000")));
    // "CAC => Automatic Cover A, B, C, D": the seed's "A" answer lists documents yet is automatic.
    assert_eq!(q.underwriting, UnderwritingIndication::Automatic);
    assert_eq!(q.requirements[0].code, "A-BJTM-0003");
}

#[test]
fn acceptance_classes_a_to_d_and_cac_are_automatic_cover_others_refer() {
    let docs = [Dokumen {
        kode_dokumen: "A-BJTM-0001".into(),
        nama_dokumen: "Surat Pernyataan Kesehatan".into(),
    }];
    for class in ["A", "B", "C", "D", "CAC"] {
        assert_eq!(
            underwriting(class, &docs),
            UnderwritingIndication::Automatic,
            "{class}"
        );
    }
    assert_eq!(underwriting("CBC", &docs), UnderwritingIndication::Refer);
    assert_eq!(underwriting("CBC", &[]), UnderwritingIndication::Refer);
    assert_eq!(underwriting("", &[]), UnderwritingIndication::Automatic);
    assert_eq!(underwriting("", &docs), UnderwritingIndication::Refer);
}

fn policy_case(status: CaseStatus, policy: Option<&str>) -> CaseRef {
    CaseRef {
        id: "c".into(),
        kind: CaseKind::Policy,
        status,
        product: None,
        references: vec![Reference {
            kind: LOAN_ID.into(),
            value: "1MG289887".into(),
        }],
        policy: policy.map(|number| Policy {
            number: number.into(),
            certificate: None,
            start_date: None,
            end_date: None,
            premium: None,
            document_link: None,
            start_time: None,
            option_id: None,
            breakdown: Vec::new(),
            renewal_of: None,
            extensions: None,
        }),
        parent: None,
    }
}

#[test]
fn only_a_pending_application_may_be_withdrawn() {
    assert!(withdrawable(&policy_case(CaseStatus::PendingDocuments, None)).is_ok());
    assert!(withdrawable(&policy_case(CaseStatus::Offered, None)).is_ok());
    match withdrawable(&policy_case(CaseStatus::InForce, Some("1032311000649"))) {
        Err(AdapterError::Conflict(why)) => assert!(why.contains("1032311000649"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        withdrawable(&policy_case(CaseStatus::Declined, None)),
        Err(AdapterError::Conflict(_))
    ));
}

fn claim() -> ClaimRequest {
    ClaimRequest {
        case_id: "claim-1".into(),
        policy: policy_case(CaseStatus::InForce, Some("1032311000648")),
        claim_type: "Kredit_Macet".into(),
        loss_date: "2024-11-26".into(),
        notified_date: Some("2024-11-28".into()),
        cause: Some("PHK".into()),
        estimated_amount: Some(money_idr("600000000")),
        description: Some("kolek 5".into()),
        claimant: None,
        loss: None,
        payee_account: None,
        extensions: None,
    }
}

#[test]
fn claim_matches_the_spec_example() {
    let wire = claim_registration(&claim(), "2024-11-28").unwrap();
    assert_eq!(wire.deskripsi, "kolek 5");
    assert_eq!(wire.no_polis, "1032311000648");
    assert_eq!(wire.estimasi_nilai_klaim, 600000000);
}

#[test]
fn a_claim_without_description_is_refused_naming_description() {
    for description in [None, Some("  ".to_string())] {
        let mut request = claim();
        request.description = description;
        match claim_registration(&request, "2024-11-28") {
            Err(AdapterError::InvalidRequest(issues)) => {
                assert_eq!(issues.len(), 1, "{issues:?}");
                assert_eq!(issues[0].path, "description");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn documents_must_be_pdf_and_use_each_endpoints_casing() {
    let case = CaseRef {
        id: "c".into(),
        kind: CaseKind::Policy,
        status: CaseStatus::PendingDocuments,
        product: None,
        references: vec![Reference {
            kind: LOAN_ID.into(),
            value: "24DW70026".into(),
        }],
        policy: None,
        parent: None,
    };
    let mut doc = Document {
        case,
        code: "B-BJTM-0005".into(),
        name: None,
        filename: "treadmill.pdf".into(),
        content_type: "application/pdf".into(),
        data: b"%PDF-1.4 test".to_vec(),
        extensions: None,
    };
    let (path, parts) = upload_form(&doc).unwrap();
    assert_eq!(path, "akseptasi/dokumen");
    assert!(parts.iter().any(|p| p.name == "Files"));
    doc.data = b"GIF89a".to_vec();
    assert!(matches!(upload_form(&doc), Err(AdapterError::InvalidRequest(_))));
}

fn invalid_paths(result: Result<impl std::fmt::Debug, AdapterError>) -> Vec<String> {
    match result {
        Err(AdapterError::InvalidRequest(issues)) => issues.into_iter().map(|i| i.path).collect(),
        other => panic!("expected invalid-request, got {other:?}"),
    }
}

fn person(app: &mut Application) -> &mut Person {
    match &mut app.parties[0].detail {
        PartyDetail::Person(p) => p,
        other => panic!("{other:?}"),
    }
}

fn credit_life(app: &mut Application) -> &mut Loan {
    match &mut app.interest {
        InsuredInterest::CreditLife(loan) => loan,
        other => panic!("{other:?}"),
    }
}

#[test]
fn dates_are_plain_yyyy_mm_dd_and_sent_as_parsed() {
    // Every date of the seed's examples is a plain YYYY-MM-DD: no sign, no year 0.
    for birth in ["+1976-01-01", "-0001-01-01", "0000-01-01"] {
        let mut app = application();
        person(&mut app).birth_date = Some(birth.into());
        assert_eq!(
            invalid_paths(acceptance_request(&app)),
            ["parties[0].detail.person.birth_date"],
            "{birth}"
        );
    }
    let mut app = application();
    credit_life(&mut app).contract_date = Some("+2024-08-16".into());
    assert_eq!(
        invalid_paths(acceptance_request(&app)),
        ["interest.credit_life.contract_date"]
    );
    let wire = acceptance_request(&application()).unwrap();
    assert_eq!(
        (wire.tanggal_lahir.as_str(), wire.tanggal_akad.as_str()),
        ("1976-01-01", "2024-08-16")
    );
}

#[test]
fn a_tenor_of_zero_or_one_ending_past_any_date_is_refused_naming_tenor_months() {
    // u32::MAX once wrapped to an end one month before the akad; 2^31 - 1 overflowed; 0 passed.
    for tenor in [0, u32::MAX, i32::MAX as u32, 100_000] {
        let mut app = application();
        credit_life(&mut app).tenor_months = Some(tenor);
        assert_eq!(
            invalid_paths(acceptance_request(&app)),
            ["interest.credit_life.tenor_months"],
            "{tenor}"
        );
        let mut quote = quote_request();
        if let InsuredInterest::CreditLife(loan) = &mut quote.interest {
            loan.tenor_months = Some(tenor);
        }
        assert_eq!(
            invalid_paths(premium_request(&quote)),
            ["interest.credit_life.tenor_months"],
            "{tenor}"
        );
    }
}

#[test]
fn a_birth_date_after_the_akad_date_is_refused_at_the_birth_date() {
    // AAP #2/#3 "Usia Numeric ✓ Usia nasabah": a negative age is no age.
    let mut app = application();
    person(&mut app).birth_date = Some("2024-08-17".into());
    assert_eq!(
        invalid_paths(acceptance_request(&app)),
        ["parties[0].detail.person.birth_date"]
    );
    // Born on the akad date is age 0, which is sent.
    person(&mut app).birth_date = Some("2024-08-16".into());
    assert_eq!(acceptance_request(&app).unwrap().usia, 0);
}

#[test]
fn blank_mandatory_texts_are_refused_naming_each_field() {
    for blank in ["", "  \t"] {
        let mut app = application();
        person(&mut app).full_name = blank.into();
        person(&mut app).identities[0].number = blank.into();
        credit_life(&mut app).account = Some(blank.into());
        credit_life(&mut app).branch = Some(blank.into());
        let mut paths = invalid_paths(acceptance_request(&app));
        paths.sort();
        assert_eq!(
            paths,
            [
                "interest.credit_life.account",
                "interest.credit_life.branch",
                "parties[0].detail.person.full_name",
                "parties[0].detail.person.identities[0].number",
            ],
            "{blank:?}"
        );
        let mut request = claim();
        request.cause = Some(blank.into());
        assert_eq!(
            invalid_paths(claim_registration(&request, "2024-11-28")),
            ["cause"]
        );
        let mut doc = claim_document();
        doc.code = blank.into();
        assert_eq!(invalid_paths(upload_form(&doc)), ["code"]);
    }
}

fn quote_request() -> QuoteRequest {
    let app = application();
    QuoteRequest {
        product: app.product,
        plan: None,
        binding: false,
        start_date: None,
        end_date: None,
        frequency: None,
        sum_insured: None,
        parties: app.parties,
        interest: app.interest,
        coverages: Vec::new(),
        channel: None,
        extensions: None,
        start_time: None,
        questionnaire: Vec::new(),
        renewal_of: None,
    }
}

fn claim_document() -> Document {
    let mut case = policy_case(CaseStatus::ClaimSubmitted, None);
    case.kind = CaseKind::Claim;
    case.references = vec![Reference {
        kind: CLAIM.into(),
        value: claim_key("PL002848", "1032311000648"),
    }];
    Document {
        case,
        code: "21".into(),
        name: None,
        filename: "rekening.pdf".into(),
        content_type: "application/pdf".into(),
        data: b"%PDF-1.4 test".to_vec(),
        extensions: None,
    }
}
