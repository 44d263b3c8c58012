//! AAGI motor web service wire types, spelled as the spec's examples spell them.

use serde::{Deserialize, Serialize};
use serde_json::Number;

#[derive(Debug, Serialize, Deserialize, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    pub birth_date: Option<String>,
    pub address: Option<OwnerAddress>,
}

#[derive(Debug, Serialize, Deserialize, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OwnerAddress {
    pub postal_code: String,
}

#[derive(Debug, Serialize, Deserialize, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Vehicle {
    pub make: String,
    pub model: Option<String>,
    pub usage: String,
    pub garage_type: Option<String>,
    pub vehicle_identification_number: Option<String>,
    pub color: Option<String>,
    pub registration_number: Option<String>,
    pub registration_state: Option<String>,
    /// AAGI 7.3: the tables spell it `registerationType`; the examples `registrationType`.
    pub registration_type: Option<String>,
    pub registration_country: Option<String>,
    pub year_of_manufacture: Option<String>,
    pub engine_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_seats: Option<u32>,
    /// AAGI 4: an unused owner is `null`, never `""` (error 999).
    pub owner: Option<Owner>,
}

#[derive(Debug, Serialize, Deserialize, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CoverageItem {
    pub name: Option<String>,
    pub code: String,
    pub sum_insured: Option<Number>,
}

#[derive(Debug, Serialize, Deserialize, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Coverage {
    pub name: Option<String>,
    pub code: String,
    pub sum_insured: Option<Number>,
    pub coverage_items: Option<Vec<CoverageItem>>,
}

#[derive(Debug, Serialize, Deserialize, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AdditionalCost {
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub amount: Number,
}

#[derive(Debug, Serialize, Deserialize, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Premium {
    #[serde(default)]
    pub discounts: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub additional_costs: Option<Vec<AdditionalCost>>,
    pub net_premium: Option<Number>,
    pub gross_premium: Number,
}

#[derive(Debug, Serialize, Deserialize, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Package {
    pub name: Option<String>,
    /// The plan's coverage (`VMI1`, `VMI2+`, `VMI3+`, `VMI3`: the seed's whole enum). `null` for
    /// CMI, which has no plan: the seed's answers are full of nulls, and a package answered
    /// with `"coverages": null` means no plan, its premium standing for the product.
    #[serde(default)]
    pub coverages: Option<Vec<Coverage>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub premium: Option<Premium>,
}

/// #1 `quickquotes` request; the response echoes it with premiums added.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct QuickQuote {
    pub policy_start_date: String,
    pub policy_expiry_date: Option<String>,
    pub channel: String,
    pub product_code: String,
    pub vehicle: Vehicle,
    /// VMI only; CMI omits it entirely.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_packages: Option<Vec<Package>>,
    /// AAGI 7.10: where a CMI premium comes back is undocumented; read here when present.
    #[serde(default, skip_serializing)]
    pub premium: Option<Premium>,
}

#[derive(Debug, Serialize, Deserialize, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IdentityDocument {
    pub identity_type: String,
    pub identity_number: String,
}

#[derive(Debug, Serialize, Deserialize, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    #[serde(rename = "type")]
    pub kind: String,
    pub address_line1: String,
    pub address_line2: Option<String>,
    pub address_line3: Option<String>,
    pub address_line4: Option<String>,
    pub district: String,
    pub sub_district: String,
    pub state: String,
    pub postal_code: String,
}

/// `insuredPerson`, `beneficiary` or `payer`.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Party {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub gender: Option<String>,
    pub identification_documents: Option<Vec<IdentityDocument>>,
    pub nationality: Option<String>,
    pub birth_date: Option<String>,
    pub occupation: Option<String>,
    pub register_id: Option<String>,
    pub company_prefix: Option<String>,
    pub company_name: Option<String>,
    pub company_suffix: Option<String>,
    pub customer_name: Option<String>,
    pub email_address: Option<String>,
    pub mobile_phone: Option<String>,
    pub addresses: Vec<Address>,
}

#[derive(Debug, Serialize, Deserialize, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Consent {
    pub consent_group: Option<String>,
    pub consent_type: String,
    pub has_accepted: bool,
    pub acceptance_date: Option<String>,
}

/// #2 `contracts` request.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Contract {
    pub policy_start_date: String,
    pub policy_expiry_date: Option<String>,
    pub proposal_date: Option<String>,
    pub channel: String,
    pub product_code: String,
    pub contract_process_state: String,
    pub is_digital_policy: bool,
    pub vehicle: Vehicle,
    pub product_packages: Vec<Package>,
    pub insured_person: Party,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beneficiary: Option<Party>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer: Option<Party>,
    pub consents: Vec<Consent>,
}

/// #2 and #3 response.
#[derive(Debug, Deserialize, Serialize, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ContractInfo {
    /// `null` where nothing was created (a VERIFY) or where the path already names it (#3).
    #[serde(default)]
    pub contract_id: Option<String>,
    pub policy_number: Option<String>,
    pub policy_start_date: Option<String>,
    pub policy_expiry_date: Option<String>,
    pub document_url: Option<String>,
    pub policy_status: String,
}

/// #4 `amendments` request.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq)]
pub struct Amendment {
    #[serde(rename = "type")]
    pub kind: String,
    pub reason: String,
}

/// #4 response.
#[derive(Debug, Deserialize, Serialize, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AmendmentResult {
    pub effective_date: Option<String>,
    pub policy_number: Option<String>,
    pub status: String,
}

/// The error body (AAGI FAQ): a 3-digit code and a Thai message.
#[derive(Debug, Deserialize, Serialize, Clone, PartialEq)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}
