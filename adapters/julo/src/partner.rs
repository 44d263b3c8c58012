//! JULO partnership API wire types, spelled as the spec spells them.

use serde::{Deserialize, Serialize};

pub const BASE: &str = "api/partnership/v1";

/// The envelope of every answer but the bank scrape's.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    pub success: bool,
    #[serde(default)]
    pub data: serde_json::Value,
    #[serde(default)]
    pub errors: Vec<serde_json::Value>,
}

/// #1 initial registration.
#[derive(Debug, Serialize, PartialEq)]
pub struct Registration {
    /// The customer's NIK (not the partner `username` header).
    pub username: String,
    pub pin: String,
    pub email: String,
    pub latitude: f64,
    pub longitude: f64,
}

/// #2 complete customer data.
#[derive(Debug, Serialize, PartialEq, Default)]
pub struct CustomerData {
    pub fullname: String,
    pub birth_place: String,
    pub dob: String,
    pub gender: String,
    pub mother_maiden_name: String,
    pub address_street_num: String,
    pub address_provinsi: String,
    pub address_kabupaten: String,
    pub address_kecamatan: String,
    pub address_kelurahan: String,
    /// The table says `Kodepos`; the example and the response say `address_kodepos`.
    pub address_kodepos: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occupied_since: Option<String>,
    pub home_status: String,
    pub marital_status: String,
    pub dependent: u32,
    pub mobile_phone_1: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile_phone_2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_kin_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_kin_mobile_phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spouse_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spouse_mobile_phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spouse_dob: Option<String>,
    pub kin_relationship: String,
    pub kin_name: String,
    pub kin_mobile_phone: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kin_dob: Option<String>,
    pub job_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_industry: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payday: Option<u8>,
    pub last_education: String,
    pub monthly_income: u64,
    pub monthly_expenses: u64,
    pub monthly_housing_cost: u64,
    pub total_current_debt: u64,
    pub bank_name: String,
    pub bank_account_number: String,
    pub loan_purpose: String,
    pub loan_purpose_desc: String,
    pub is_verification_agreed: bool,
    pub is_term_accepted: bool,
}

/// #11's answer, which has no envelope.
#[derive(Debug, Deserialize)]
pub struct ImportStarted {
    pub status: String,
    #[serde(default)]
    pub id: Option<serde_json::Value>,
}

/// `image_type` values (#3), complete per the spec.
pub const IMAGE_TYPES: [&str; 13] = [
    "ktp_self",
    "crop_selfie",
    "selfie",
    "bank_statement",
    "paystub",
    "ktp_privy",
    "drivers_license_privy",
    "just_selfie_privy",
    "foto_kartu_keluraga_privy",
    "e_ktp_privy",
    "selfie_privy",
    "passport_privy",
    "passport_selfie_privy",
];

/// `data_selected` values (#9).
pub const DROPDOWNS: [&str; 12] = [
    "banks",
    "jobs",
    "job_industries",
    "vehicle_types",
    "vehicle_ownerships",
    "loan_purposes",
    "home_statuses",
    "job_types",
    "kin_relationships",
    "last_educations",
    "marital_statuses",
    "birth_places",
];

/// Canonical address lookup kinds and JULO's `get_address` levels (#10), with the parents each needs.
pub const ADDRESS_LEVELS: [(&str, &str, &[&str]); 4] = [
    ("provinces", "province", &[]),
    ("cities", "city", &["province"]),
    ("districts", "district", &["province", "city"]),
    ("sub-districts", "sub_district", &["province", "city", "district"]),
];

/// Job types that need no employer details (spec 6.4).
pub const NOT_WORKING: [&str; 4] = [
    "Tidak bekerja",
    "Staf rumah tangga",
    "Ibu rumah tangga",
    "Mahasiswa",
];

pub const BANK_SCRAPES: [&str; 4] = ["bri", "bca", "mandiri", "bni"];
