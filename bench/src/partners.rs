//! The partners' side of the direct path: the requests the adapters' mappings take, made
//! natively, and the examples the portal sends.

use anyhow::{Context, Result};
use panelgate_adapter_sdk as sdk;
use serde_json::Value;

use crate::common::{Path, path};

pub(crate) fn aap_person() -> sdk::Party {
    sdk::Party {
        role: sdk::PartyRole::Insured,
        detail: sdk::PartyDetail::Person(sdk::Person {
            full_name: "BUDI SANTOSO".into(),
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
            identities: vec![sdk::Identity {
                kind: sdk::IdentityKind::NationalId,
                number: "3578010101760001".into(),
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

pub(crate) fn aap_loan(account: &str) -> sdk::Loan {
    sdk::Loan {
        account: Some(account.into()),
        principal: Some(sdk::Money {
            amount: "15000000".into(),
            currency: "IDR".into(),
        }),
        outstanding: None,
        tenor_months: Some(60),
        branch: Some("015".into()),
        application_date: Some("2024-08-16".into()),
        contract_date: Some("2024-08-16".into()),
        end_date: None,
        transaction: Some(sdk::LoanTransaction::NewLoan),
    }
}

pub(crate) fn examples(panel: &str, name: &str) -> Result<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(panel)
        .join(format!("{name}.json"));
    Ok(serde_json::from_str(
        &std::fs::read_to_string(&path).with_context(|| path.display().to_string())?,
    )?)
}

/// The direct path's AAP quote: the adapter's mapping, natively, and one partner exchange.
/// The canonical AAP quote the direct paths send: a credit-life cover for a loan.
pub(crate) fn aap_quote_request() -> sdk::QuoteRequest {
    sdk::QuoteRequest {
        product: Some("01".into()),
        plan: None,
        binding: false,
        start_date: None,
        end_date: None,
        frequency: None,
        sum_insured: Some(sdk::Money {
            amount: "15000000".into(),
            currency: "IDR".into(),
        }),
        parties: vec![aap_person()],
        interest: sdk::InsuredInterest::CreditLife(aap_loan("Q")),
        coverages: vec![],
        channel: None,
        extensions: None,
        start_time: None,
        questionnaire: Vec::new(),
        renewal_of: None,
    }
}

pub(crate) fn direct_aap_quote(client: &reqwest::Client, aap_url: &str) -> Path {
    let request = aap_quote_request();
    let (client, url) = (client.clone(), aap_url.to_string());
    path(move |_: u64| {
        let (client, url, request) = (client.clone(), url.clone(), request.clone());
        async move {
            let wire = aap_h2h::mapping::premium_request(&request).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let body = aap_post(&client, &url, "get-rate-premi-panel", &wire).await?;
            let parsed: aap_h2h::partner::PremiumResponse = serde_json::from_slice(body.as_ref())?;
            let _ = aap_h2h::mapping::quotation(parsed, request.product.clone());
            anyhow::Ok(())
        }
    })
}

/// The direct path's exchange with the AAP simulator: `wire` POSTed to `endpoint` with the
/// panel's credentials, the answer checked as the adapter checks it; its body.
pub(crate) async fn aap_post(
    client: &reqwest::Client,
    url: &str,
    endpoint: &str,
    wire: &impl serde::Serialize,
) -> Result<impl AsRef<[u8]>> {
    let response = client
        .post(format!("{url}/{endpoint}"))
        .basic_auth("bench", Some("bench-secret"))
        .json(wire)
        .send()
        .await?;
    let status = response.status().as_u16();
    let body = response.bytes().await?;
    aap_h2h::mapping::check_response(status, &body).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(body)
}

pub(crate) fn aagi_quote_sdk() -> sdk::QuoteRequest {
    sdk::QuoteRequest {
        product: Some("VMI".into()),
        plan: Some("VMI1".into()),
        binding: false,
        start_date: Some("2022-07-23".into()),
        end_date: Some("2023-07-23".into()),
        frequency: None,
        sum_insured: None,
        parties: vec![],
        interest: sdk::InsuredInterest::Motor(sdk::Vehicle {
            make: "39".into(),
            model: Some("1597".into()),
            year: Some(2022),
            usage: "110".into(),
            vin: Some("KNDJA723515687177".into()),
            engine_number: Some("52WVC10337".into()),
            colour: Some("7".into()),
            seats: None,
            registration: Some(sdk::VehicleRegistration {
                number: Some("กข1234".into()),
                region: Some("0".into()),
                kind: Some(sdk::RegistrationKind::General),
                country: Some("THA".into()),
            }),
            garage: Some(sdk::GarageKind::Company),
            market_value: None,
            accessories: Vec::new(),
            new_vehicle: None,
            mileage_km: None,
        }),
        coverages: vec![],
        channel: None,
        extensions: None,
        start_time: None,
        questionnaire: Vec::new(),
        renewal_of: None,
    }
}

pub(crate) fn aagi_application_sdk(quote: sdk::QuoteRequest) -> sdk::Application {
    let address = |kind, line: &str| sdk::Address {
        kind,
        lines: vec![line.into()],
        sub_district: Some("3210".into()),
        district: Some("1".into()),
        city: None,
        province: Some("24".into()),
        postal_code: Some("96000".into()),
        country: None,
    };
    let person = sdk::Party {
        role: sdk::PartyRole::Insured,
        detail: sdk::PartyDetail::Person(sdk::Person {
            full_name: "พอเพียง ไชโย".into(),
            title: Some("ร.ต.อ.".into()),
            given_name: Some("พอเพียง".into()),
            middle_name: None,
            family_name: Some("ไชโย".into()),
            second_family_name: None,
            birth_date: Some("1988-12-25".into()),
            birth_place: None,
            gender: Some(sdk::Gender::Male),
            nationality: Some("TH".into()),
            marital_status: None,
            occupation: Some("99".into()),
            education: None,
            mother_maiden_name: None,
            identities: vec![sdk::Identity {
                kind: sdk::IdentityKind::NationalId,
                number: "4254580668830".into(),
                issuing_country: None,
            }],
            addresses: vec![
                address(sdk::AddressKind::Registered, "No. 9 G Tower Rama 9, 10th Floor"),
                address(sdk::AddressKind::Residence, "No. 10 G Tower Rama 9, 10th Floor"),
            ],
            email: Some("customer@example.co.th".into()),
            phones: vec![sdk::Phone {
                kind: sdk::PhoneKind::Mobile,
                number: "0820509431".into(),
                country_code: None,
                area_code: None,
            }],
        }),
        relationship: None,
        share_percent: None,
    };
    let consent = |kind, accepted| sdk::Consent {
        kind,
        accepted,
        date: Some("2022-06-17".into()),
    };
    sdk::Application {
        case_id: "bench".into(),
        mode: sdk::AcceptanceMode::Issue,
        product: quote.product,
        plan: quote.plan,
        quote_reference: None,
        start_date: Some("2022-06-17".into()),
        end_date: Some("2023-06-17".into()),
        proposal_date: None,
        frequency: None,
        sum_insured: None,
        premium: Some(sdk::Money {
            amount: "20000.44".into(),
            currency: "THB".into(),
        }),
        payment: None,
        parties: vec![person],
        interest: quote.interest,
        coverages: vec![],
        consents: vec![
            consent(sdk::ConsentKind::Information, true),
            consent(sdk::ConsentKind::SanctionScreening, true),
            consent(sdk::ConsentKind::Marketing, false),
        ],
        digital_policy: Some(true),
        channel: None,
        extensions: None,
        option_ids: Vec::new(),
        start_time: None,
        questionnaire: Vec::new(),
        renewal_of: None,
    }
}
