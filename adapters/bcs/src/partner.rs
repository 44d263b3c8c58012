//! BCS policy-management 1.5.x wire shapes, spelled as the spec's examples spell them. Bodies are
//! built here and nowhere else; their nesting follows the examples (the RAML is not provided).

use serde::Deserialize;
use serde_json::{Value, json};

pub const ROOT: &str = "policy-management/v1";

/// Life products of the life endpoints (#4–#7); any other life product goes to the general ones.
pub const LIFE_PRODUCTS: [&str; 3] = ["24297", "27298", "31300"];

/// `productIdent` of the general endpoints (#8–#10) per product (spec 6.4b).
pub const GENERAL_PRODUCTS: [(&str, u8); 6] = [
    ("24297", 1),
    ("24298", 1),
    ("31300", 1),
    ("34299", 1),
    ("69308", 2),
    ("67307", 3),
];

/// A person as BCS's quote and issuing bodies carry it.
pub struct PersonWire {
    pub person_type: &'static str,
    pub id_type: &'static str,
    pub id_number: String,
    pub first_name: String,
    pub middle_name: String,
    pub last_name: String,
    pub second_last_name: String,
    pub full_name: String,
    /// `DD-MM-YYYY` for quotes, `YYYY-MM-DD` for issuing (spec 8.12).
    pub birth: String,
    pub gender: &'static str,
    pub email: Option<String>,
    pub phones: Vec<(&'static str, String, String)>,
}

fn phones(p: &PersonWire) -> Value {
    Value::Array(
        p.phones
            .iter()
            .map(|(t, area, n)| json!({ "phoneType": t, "phoneAreaCode": area, "phone": n }))
            .collect(),
    )
}

pub fn coverage(code: &str, amount: Option<f64>) -> Value {
    json!({ "coverageId": code, "amt": amount })
}

/// #4: an array, one element per product.
pub fn life_simulation(product: &str, channel: &str, birth: &str) -> Value {
    json!([{ "product": { "productIdNumber": product }, "insuranceInfo": { "channel": channel, "personName": { "birthDt": birth } } }])
}

/// #8: one object with its `productIdent`.
pub fn general_simulation(
    ident: u8,
    product: &str,
    freq: &str,
    channel: &str,
    birth: &str,
    risk: Option<Value>,
) -> Value {
    let mut body = json!({ "productIdent": ident.to_string(), "product": { "productIdNumber": product, "freq": freq },
        "insuranceInfo": { "channel": channel, "personName": { "birthDt": birth } } });
    if let (Some(risk), Some(info)) = (risk, body["insuranceInfo"].as_object_mut()) {
        info.extend(risk.as_object().cloned().unwrap_or_default());
    }
    body
}

/// Home/fire risk (productIdent 3): the insured capital and the building's address.
pub fn home_risk(amount: f64, addr: &str, state: &str, city: &str, postal: &str) -> Value {
    json!({ "capitalization": [{ "capitalizationAcctId": "2", "capitalizationAcctAm": "2", "rate": 100, "amt": amount }],
            "riskInfo": { "postAddr": [{ "addr1": addr, "stateProv": state, "cityId": city, "postalCode": postal }] } })
}

/// #5 (no `productIdent`) and #9 (with it): a quote BCS holds under `pmtAuthId`.
#[allow(clippy::too_many_arguments)]
pub fn quote(
    ident: Option<u8>,
    product: &str,
    freq: &str,
    office: &str,
    plan: &str,
    channel: &str,
    p: &PersonWire,
    coverages: Vec<Value>,
) -> Value {
    let mut body = json!({
        "product": { "productIdNumber": product, "freq": freq }, "entprAgreement": { "cityId": office },
        "coverageInfo": { "coverageId": plan },
        "insuranceInfo": { "personType": p.person_type, "channel": channel,
            "govIssueIdent": { "govIssueIdentType": p.id_type, "identSerialNum": p.id_number },
            "personName": { "lastName": p.last_name, "secondLastName": p.second_last_name, "firstName": p.first_name,
                "middleName": p.middle_name, "fullName": p.full_name, "birthDt": p.birth, "gender": p.gender },
            "contactInfo": [{ "emailAddr": p.email, "phoneNum": phones(p) }],
            "coverageInfo": coverages } });
    if let Some(ident) = ident {
        body["productIdent"] = json!(ident.to_string());
    }
    body
}

/// #6 and #10: issue a policy from a quote's `pmtAuthId`.
#[allow(clippy::too_many_arguments)]
pub fn issuing(
    ident: Option<u8>,
    product: &str,
    freq: &str,
    office: &str,
    quote: &str,
    pay_type: &str,
    plan: &str,
    channel: &str,
    p: &PersonWire,
    beneficiaries: Vec<Value>,
) -> Value {
    let mut body = json!({
        "product": { "productIdNumber": product, "freq": freq, "channel": channel }, "entprAgreement": { "cityId": office },
        "pmtReferences": { "pmtAuthId": quote, "pmtType": pay_type }, "coverageInfo": { "coverageId": plan },
        "personInfo": { "personType": p.person_type, "govIssueIdentType": p.id_type, "identSerialNum": p.id_number,
            "lastName": p.last_name, "secondLastName": p.second_last_name, "firstName": p.first_name, "middleName": p.middle_name,
            "fullName": p.full_name, "birthDt": p.birth, "gender": p.gender,
            "contactInfo": { "postAddr": [{ "emailAddr": p.email, "phoneNum": phones(p) }] } },
        "beneficiary": beneficiaries });
    if let Some(ident) = ident {
        body["productIdent"] = json!(ident.to_string());
    }
    body
}

pub fn beneficiary(p: &PersonWire, share: &str, relationship: &str) -> Value {
    json!({ "personInfo": { "personType": p.person_type, "govIssueIdentType": p.id_type, "identSerialNum": p.id_number,
        "lastName": p.last_name, "firstName": p.first_name, "fullName": p.full_name, "birthDt": p.birth, "gender": p.gender,
        "rate": share, "relationshipType": relationship } })
}

/// #7.
pub fn certificate(product: &str, policy: &str, effective: Option<&str>, certificate: Option<&str>) -> Value {
    json!({ "product": { "productIdNumber": product }, "insuranceInfo": { "policyId": policy, "effDt": effective, "certCode": certificate } })
}

/// #3: one medical-examination case for a debtor's credit application.
#[allow(clippy::too_many_arguments)]
pub fn insurance_case(
    domain: &str,
    user: &str,
    amount: f64,
    city: &str,
    collective: bool,
    created: &str,
    request: u64,
    branch: &str,
    bank_system: u8,
    product_type: &str,
    applicant: &PersonWire,
) -> Value {
    json!({ "channel": { "sPname": domain, "user": user },
        "insuranceInfo": [{ "desc": "GestionDeExamenesMedicos", "refInfo": [{
            "curAmt": { "amt": amount }, "cityId": city, "relationshipType": if collective { 2 } else { 1 },
            "createdDt": created, "requestNumber": request, "submitOffice": { "branchId": branch },
            "trnSrcInfo": { "code": bank_system }, "productType": product_type, "flagAutom": true,
            "applicantInfo": [{ "govIssueIdent": { "govIssueIdentType": applicant.id_type, "identSerialNum": applicant.id_number },
                "personName": { "firstName": applicant.first_name, "lastName": applicant.last_name, "fullName": applicant.full_name },
                "birthDt": applicant.birth, "emailAddr": applicant.email }] }] }] })
}

/// #1 and #2: an application's status.
#[allow(clippy::too_many_arguments)]
pub fn status(
    source: &str,
    code: &str,
    application: &str,
    product_type: &str,
    id_type: &str,
    id_number: &str,
    applicant_type: Option<&str>,
    insurable_since: &str,
    observation: &str,
    plan: Option<&str>,
    extra_premium: Option<&str>,
    coverages: Vec<Value>,
    case_number: &str,
) -> Value {
    json!({ "request": { "source": source, "statusCode": code },
        "depAcctStmtRec": { "depAcctId": { "acctId": application } },
        "personInfo": { "govIssueIdent": { "identSerialNum": id_number, "govIssueIdentType": id_type }, "personType": applicant_type,
            "policy": { "signature": { "issDt": insurable_since }, "status": code, "descriptionDesc": observation,
                "pmtsPlanProdType": plan, "exclude": extra_premium.map(|_| "true"), "percentage": extra_premium } },
        "product": { "productType": product_type }, "coverageInfo": coverages, "insuranceInfo": { "coveredCode": case_number } })
}

/// #11.
#[allow(clippy::too_many_arguments)]
pub fn payee(
    customer_id_type: &str,
    customer_id: &str,
    p: &PersonWire,
    id_type: &str,
    country: &str,
    country_name: &str,
    address: &str,
    postal: &str,
    relationship: &str,
    branch: &str,
    adviser: &str,
) -> Value {
    json!({ "govIssueIdent": { "govIssueIdentType": customer_id_type, "identSerialNum": customer_id },
        "beneficiary": { "personName": { "firstName": p.first_name, "middleName": p.middle_name, "lastName": p.last_name,
                "secondLastName": p.second_last_name },
            "personInfo": { "country": country, "emailAddr": p.email }, "postAddr": { "country": country },
            "notification": { "address": address, "postalCode": postal },
            "govIssueIdent": { "govIssueIdentType": id_type, "identSerialNum": p.id_number, "countryName": country_name },
            "relationshipType": relationship },
        "submitOffice": { "branchId": branch, "adviserId": adviser } })
}

/// Error envelopes A (`ER`, string code) and B (`ERR400`, numeric code) (spec 4).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub response_type: Option<ResponseType>,
    pub response_detail: Option<ResponseDetail>,
}

#[derive(Debug, Deserialize)]
pub struct ResponseType {
    pub value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseDetail {
    #[serde(default)]
    pub error_code: Value,
    #[serde(default)]
    pub error_desc: Option<String>,
}
