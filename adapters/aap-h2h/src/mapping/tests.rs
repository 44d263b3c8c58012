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
fn status_01_is_a_typed_rejection_with_keterangan() {
    let body = br#"{"Status":"01","Keterangan":"Terjadi kesalahan host to host"}"#;
    match check_response(200, body) {
        Err(AdapterError::Rejected(r)) => {
            assert_eq!(r.code, "01");
            assert_eq!(r.message, "Terjadi kesalahan host to host");
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
    assert_eq!(q.underwriting, UnderwritingIndication::Refer);
    assert_eq!(q.requirements[0].code, "A-BJTM-0003");
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
    };
    let (path, parts) = upload_form(&doc).unwrap();
    assert_eq!(path, "akseptasi/dokumen");
    assert!(parts.iter().any(|p| p.name == "Files"));
    doc.data = b"GIF89a".to_vec();
    assert!(matches!(upload_form(&doc), Err(AdapterError::InvalidRequest(_))));
}
