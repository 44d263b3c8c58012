//! AAP H2H v2.0 wire types, spelled exactly as the spec spells them.

use serde::{Deserialize, Serialize};
use serde_json::Number;

/// #1 `get-rate-premi-panel` request.
#[derive(Debug, Serialize, PartialEq)]
pub struct PremiumRequest {
    #[serde(rename = "Tanggal_Lahir")]
    pub tanggal_lahir: String,
    #[serde(rename = "Tanggal_Akad")]
    pub tanggal_akad: String,
    #[serde(rename = "Tenor")]
    pub tenor: u32,
    #[serde(rename = "Nilai_Pertanggungan")]
    pub nilai_pertanggungan: u64,
    #[serde(rename = "Produk")]
    pub produk: String,
    #[serde(rename = "NIK")]
    pub nik: String,
}

/// The envelope every AAP response carries.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "Keterangan", default)]
    pub keterangan: String,
}

/// A document in `List_Dokumen_UnderWriting` or `Dokumen_Klaim`.
#[derive(Debug, Deserialize, Serialize, Clone, PartialEq)]
pub struct Dokumen {
    #[serde(rename = "Kode_Dokumen")]
    pub kode_dokumen: String,
    #[serde(rename = "Nama_Dokumen")]
    pub nama_dokumen: String,
}

/// #1 response (success).
#[derive(Debug, Deserialize)]
pub struct PremiumResponse {
    #[serde(rename = "Keterangan", default)]
    pub keterangan: String,
    #[serde(rename = "Premi")]
    pub premi: Number,
    #[serde(rename = "Status_Akseptasi")]
    pub status_akseptasi: String,
    #[serde(rename = "Akumulasi")]
    pub akumulasi: Number,
    #[serde(rename = "Nilai_Akumulasi")]
    pub nilai_akumulasi: Number,
    /// AAP 5.1: the table lists the document fields flat; the example nests them here.
    #[serde(rename = "List_Dokumen_UnderWriting", default)]
    pub dokumen: Vec<Dokumen>,
}

/// #2 `akseptasi/registrasi` and #3 `akseptasi/pengajuan-cbc` request (same fields).
#[derive(Debug, Serialize, PartialEq)]
pub struct AcceptanceRequest {
    #[serde(rename = "Kode_Cabang_Bank")]
    pub kode_cabang_bank: String,
    #[serde(rename = "ID_Loan")]
    pub id_loan: String,
    #[serde(rename = "Tenor")]
    pub tenor: u32,
    #[serde(rename = "Nama_Nasabah")]
    pub nama_nasabah: String,
    #[serde(rename = "NIK")]
    pub nik: String,
    #[serde(rename = "Tanggal_Lahir")]
    pub tanggal_lahir: String,
    #[serde(rename = "Nilai_Pertanggungan")]
    pub nilai_pertanggungan: u64,
    #[serde(rename = "Tanggal_Pengajuan")]
    pub tanggal_pengajuan: String,
    #[serde(rename = "Tanggal_Akad")]
    pub tanggal_akad: String,
    #[serde(rename = "Usia")]
    pub usia: i32,
    #[serde(rename = "Tanggal_Akhir_Asuransi")]
    pub tanggal_akhir_asuransi: String,
    /// AAP 5.2: mandatory in the table, absent from the example; we always send it.
    #[serde(rename = "Premi")]
    pub premi: u64,
    #[serde(rename = "Produk")]
    pub produk: String,
    #[serde(rename = "Jenis_Transaksi")]
    pub jenis_transaksi: String,
    #[serde(rename = "Ref_ID_Loan", skip_serializing_if = "Option::is_none")]
    pub ref_id_loan: Option<String>,
    /// Only in the spec's examples, not its tables; sent when known.
    #[serde(rename = "Pekerjaan", skip_serializing_if = "Option::is_none")]
    pub pekerjaan: Option<String>,
}

/// #2 and #6 response (success).
#[derive(Debug, Deserialize)]
pub struct PolicyResponse {
    #[serde(rename = "Keterangan", default)]
    pub keterangan: String,
    #[serde(rename = "EPolicy", default)]
    pub epolicy: String,
    #[serde(rename = "Policy_No", default)]
    pub policy_no: String,
}

/// #3 response (success).
#[derive(Debug, Deserialize)]
pub struct CbcResponse {
    #[serde(rename = "Keterangan", default)]
    pub keterangan: String,
    #[serde(rename = "List_Dokumen_UnderWriting", default)]
    pub dokumen: Vec<Dokumen>,
}

/// #6 `akseptasi/konfirmasi-cbc` request.
#[derive(Debug, Serialize, PartialEq)]
pub struct CbcConfirmation {
    #[serde(rename = "ID_Loan")]
    pub id_loan: String,
    #[serde(rename = "Status")]
    pub status: String,
}

/// #7 `pembatalan/inforce` request.
#[derive(Debug, Serialize, PartialEq)]
pub struct InforceCancellation {
    #[serde(rename = "ID_Loan")]
    pub id_loan: String,
    #[serde(rename = "No_Polis")]
    pub no_polis: String,
}

/// #7 response (success).
#[derive(Debug, Deserialize)]
pub struct RefundResponse {
    #[serde(rename = "Keterangan", default)]
    pub keterangan: String,
    #[serde(rename = "Nilai_Refund")]
    pub nilai_refund: Number,
}

/// #8 `pembatalan/pengajuan-akseptasi` request.
#[derive(Debug, Serialize, PartialEq)]
pub struct Withdrawal {
    #[serde(rename = "ID_Loan")]
    pub id_loan: String,
}

/// #10 `klaim/registrasi` request.
#[derive(Debug, Serialize, PartialEq)]
pub struct ClaimRegistration {
    #[serde(rename = "ID_Loan")]
    pub id_loan: String,
    #[serde(rename = "Tanggal_Pengajuan")]
    pub tanggal_pengajuan: String,
    #[serde(rename = "Tanggal_Kejadian")]
    pub tanggal_kejadian: String,
    #[serde(rename = "Jenis_Klaim")]
    pub jenis_klaim: String,
    #[serde(rename = "Sebab_Klaim")]
    pub sebab_klaim: String,
    #[serde(rename = "Estimasi_Nilai_Klaim")]
    pub estimasi_nilai_klaim: u64,
    #[serde(rename = "Deskripsi")]
    pub deskripsi: String,
    #[serde(rename = "No_Polis")]
    pub no_polis: String,
}

/// #10 response (success).
#[derive(Debug, Deserialize)]
pub struct ClaimResponse {
    #[serde(rename = "Keterangan", default)]
    pub keterangan: String,
    #[serde(rename = "Tenggat_Waktu_Klaim")]
    pub tenggat_waktu_klaim: String,
    /// AAP 5.10: nested under a different name than the underwriting list.
    #[serde(rename = "Dokumen_Klaim", default)]
    pub dokumen: Vec<Dokumen>,
}

/// #5 `post-status-pertanggung-cbc` callback.
#[derive(Debug, Deserialize)]
pub struct CbcDecision {
    #[serde(rename = "ID_Loan")]
    pub id_loan: String,
    #[serde(rename = "Extra_Premi")]
    pub extra_premi: Number,
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "Link_E_Polis", default)]
    pub link_e_polis: Option<String>,
    #[serde(rename = "Nomor_Polis", default)]
    pub nomor_polis: Option<String>,
    #[serde(rename = "Keterangan", default)]
    pub keterangan: Option<String>,
    #[serde(rename = "Asuransi", default)]
    pub asuransi: Option<String>,
}

/// #9 `post-status-pembatalan` callback.
#[derive(Debug, Deserialize)]
pub struct CancellationDecision {
    #[serde(rename = "ID_Loan")]
    pub id_loan: String,
    #[serde(rename = "No_Polis")]
    pub no_polis: String,
    #[serde(rename = "Status")]
    pub status: String,
}

/// #12 `post-status` callback.
#[derive(Debug, Deserialize)]
pub struct ClaimStatus {
    #[serde(rename = "ID_Loan")]
    pub id_loan: String,
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "Keterangan")]
    pub keterangan: String,
    #[serde(rename = "No_Polis")]
    pub no_polis: String,
}

/// The answer AAP gives a panel's callback.
#[derive(Debug, Serialize)]
pub struct Reply<'a> {
    #[serde(rename = "Status")]
    pub status: &'a str,
    #[serde(rename = "Keterangan")]
    pub keterangan: &'a str,
}

/// AAP's 400 text (spec §4).
pub const BAD_REQUEST_TEXT: &str = "Format data tidak sesuai dengan persyaratan permintaan";
