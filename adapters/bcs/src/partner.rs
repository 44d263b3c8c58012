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
    /// The home address: `addr1`, `stateProv`, `cityId`, `postalCode` (#6's `postAddr`).
    pub address: Option<[String; 4]>,
}

/// The instrument of #6/#10's payment: a card (`ccAcctRec`) or a bank account (`depAcctId`).
pub enum PaymentWire {
    Card {
        bank: String,
        number: String,
    },
    Account {
        bank: String,
        kind: String,
        number: String,
    },
}

impl PaymentWire {
    /// `pmtType` has no code list (spec 5.6); the only example with a card alone (#10,
    /// productIdent 1) says "2", and every example carrying a `depAcctId` says "1".
    pub fn pay_type(&self) -> &'static str {
        match self {
            PaymentWire::Card { .. } => "2",
            PaymentWire::Account { .. } => "1",
        }
    }
}

/// One insurability question of #3's `question[]`.
pub struct QuestionWire {
    pub ident: u8,
    pub answer: bool,
    pub comment: String,
}

/// The #3 applicant fields a quote's person lacks (the seed's table, "Requerido YES").
#[derive(Default)]
pub struct CaseApplicantWire {
    pub id_type: &'static str,
    pub id_number: u64,
    pub plan: String,
    pub work_address: String,
    pub work_city: String,
    pub work_phone: u64,
    pub cell_phone: u64,
    pub home_city: String,
    pub home_address: String,
    pub home_phone: u64,
    pub occupation: String,
    pub questions: Vec<QuestionWire>,
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
    birth: Option<&str>,
    risk: Option<Value>,
) -> Value {
    let mut body = json!({ "productIdent": ident.to_string(), "product": { "productIdNumber": product, "freq": freq },
        "insuranceInfo": { "channel": channel } });
    if let Some(birth) = birth {
        body["insuranceInfo"]["personName"] = json!({ "birthDt": birth });
    }
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
    plan: &str,
    channel: &str,
    p: &PersonWire,
    payment: &PaymentWire,
    beneficiaries: Vec<Value>,
    risk: Option<Value>,
) -> Value {
    let [addr1, state, city, postal] = p.address.clone().unwrap_or_default();
    let mut body = json!({
        "product": { "productIdNumber": product, "freq": freq, "channel": channel }, "entprAgreement": { "cityId": office },
        "pmtReferences": { "pmtAuthId": quote, "pmtType": payment.pay_type() }, "coverageInfo": { "coverageId": plan },
        "personInfo": { "personType": p.person_type, "govIssueIdentType": p.id_type, "identSerialNum": p.id_number,
            "lastName": p.last_name, "secondLastName": p.second_last_name, "firstName": p.first_name, "middleName": p.middle_name,
            "fullName": p.full_name, "birthDt": p.birth, "gender": p.gender,
            "contactInfo": { "postAddr": [{ "addr1": addr1, "stateProv": state, "cityId": city, "postalCode": postal,
                "emailAddr": p.email, "phoneNum": phones(p) }] } },
        "beneficiary": beneficiaries });
    // Spec 5.6: "ccAcctRec: Credit card information in case the payment method is through it";
    // "depAcctId: bankId … acctType … acctId" for an account. Both sit in `personInfo` (#6, #10).
    body["personInfo"][match payment {
        PaymentWire::Card { .. } => "ccAcctRec",
        PaymentWire::Account { .. } => "depAcctId",
    }] = match payment {
        PaymentWire::Card { bank, number } => json!([{ "code": bank, "acctId": number }]),
        PaymentWire::Account { bank, kind, number } => {
            json!([{ "bankId": bank, "acctType": kind, "acctId": number }])
        }
    };
    // #10 productIdent 3: the insured capital and the building's address, as the quote had them.
    if let Some(risk) = risk {
        body["insuranceInfo"] = risk;
    }
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
    p: &PersonWire,
    a: &CaseApplicantWire,
) -> Value {
    let questions: Vec<Value> = a
        .questions
        .iter()
        .map(|q| json!({ "questionIdent": q.ident, "answer": q.answer, "desc": q.comment }))
        .collect();
    json!({ "channel": { "sPname": domain, "user": user },
        "insuranceInfo": [{ "desc": "GestionDeExamenesMedicos", "refInfo": [{
            "curAmt": { "amt": amount }, "cityId": city, "relationshipType": if collective { 2 } else { 1 },
            "createdDt": created, "requestNumber": request, "submitOffice": { "branchId": branch },
            "trnSrcInfo": { "code": bank_system }, "productType": product_type, "flagAutom": true,
            "applicantInfo": [{
                "personName": { "firstName": p.first_name, "middleName": p.middle_name, "lastName": p.last_name,
                    "secondLastName": p.second_last_name },
                "personInfo": { "birthDt": p.birth, "gender": p.gender },
                "govIssueIdent": { "identSerialNum": a.id_number, "govIssueIdentType": a.id_type },
                // "Si se trata de un caso individual, se guardará como 1-Titular principal."
                "applicantType": 1, "planRequested": a.plan,
                "orgInfo": { "addr1": a.work_address, "cityId": a.work_city,
                    "additionalPhoneNum": { "cellPhone": a.work_phone } },
                "contactInfo": { "cellPhone": a.cell_phone, "cityId": a.home_city, "emailAddr": p.email,
                    "additionalPhoneNum": { "cellPhone": a.home_phone }, "addr1": a.home_address },
                // "InsurabilityDate … Por defecto, se envía la misma fecha de nacimiento."
                "birthDt": p.birth,
                "businessOcucupation": { "certcode": a.occupation },
                "question": questions }] }] }] })
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
    client_status: &str,
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
            "policy": { "signature": { "issDt": insurable_since }, "status": client_status, "descriptionDesc": observation,
                "pmtsPlanProdType": plan, "exclude": extra_premium.map(|_| "true"), "percentage": extra_premium } },
        "product": { "productType": product_type }, "coverageInfo": coverages, "insuranceInfo": { "coveredCode": case_number } })
}

/// One `coverageInfo[]` of #2: "coverageId … String", "exclude | Excluido | Boolean",
/// "percentage | Porcentaje Prima | String"; an absent percentage goes out as null.
pub fn status_coverage(code: &str, excluded: bool, percent: Option<&str>) -> Value {
    json!({ "coverageId": code, "exclude": excluded, "percentage": percent })
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
