// The part of the contract `panelgate:adapter@2.0.0` (../wit, the WIT the Rust twin builds
// against through adapters/sdk/wit) this adapter touches, as componentize-js lifts and lowers it:
// records are objects with camelCase fields, enums kebab-case strings, variants `{ tag, val }`,
// an absent option `undefined`, a `result` export returns its value or throws its error. A list
// field must always be given (`[]`): componentize-js cannot lower an absent one.
//
// 2.0's open code sets (a known value, or `other(string)` for any other code; one string in
// the host's JSON) are variants here too: `{ tag: 'company' }` or `{ tag: 'other', val: 'x' }`.
//
// Written by hand: `jco guest-types` (1.35.0) could not read the WIT folder here (its WASI
// file access found no such path, given relative, absolute or copied), and the adapter needs a
// small slice of the contract.

export type Option<T> = T | undefined;

/** An open code set: one of the values panelgate knows, or the partner's own code. */
export type Open<K extends string> = { tag: K; val?: undefined } | { tag: 'other'; val: string };

export interface Money { amount: string; currency: string }
export interface Pair { name: string; value: string }

export type IdentityKind = Open<
  | 'national-id' | 'passport' | 'tax-id' | 'driving-licence' | 'residence-permit'
  | 'company-registration' | 'civil-registry' | 'family-card'>;
export interface Identity { kind: IdentityKind; number: string; issuingCountry?: string }
export type Gender = 'male' | 'female' | 'unspecified';
export type AddressKind = Open<'residence' | 'registered' | 'mailing' | 'work' | 'notification'>;
export interface Address {
  kind: AddressKind; lines: string[]; subDistrict?: string; district?: string; city?: string;
  province?: string; postalCode?: string; country?: string;
}
export type PhoneKind = Open<'mobile' | 'home' | 'work'>;
export interface Phone { kind: PhoneKind; number: string; countryCode?: string; areaCode?: string }
export interface Person {
  fullName: string; title?: string; givenName?: string; middleName?: string; familyName?: string;
  secondFamilyName?: string; birthDate?: string; birthPlace?: string; gender?: Gender;
  nationality?: string; maritalStatus?: string; occupation?: string; education?: string;
  motherMaidenName?: string; identities: Identity[]; addresses: Address[]; email?: string;
  phones: Phone[];
}
export interface Organisation {
  name: string; prefix?: string; suffix?: string; identities: Identity[]; addresses: Address[];
  email?: string; phones: Phone[];
}
export type PartyDetail = { tag: 'person'; val: Person } | { tag: 'organisation'; val: Organisation };
export type PartyRole = Open<
  | 'applicant' | 'insured' | 'policyholder' | 'beneficiary' | 'loss-payee' | 'claimant' | 'payee'
  | 'payer' | 'vehicle-owner' | 'spouse' | 'next-of-kin' | 'emergency-contact' | 'driver'
  | 'third-party' | 'witness'>;
export interface Party { role: PartyRole; detail: PartyDetail; relationship?: string; sharePercent?: string }

export type RegistrationKind = Open<'general' | 'red-plate' | 'government' | 'international'>;
export interface VehicleRegistration { number?: string; region?: string; kind?: RegistrationKind; country?: string }
export type GarageKind = Open<'dealer' | 'company' | 'unspecified'>;
export interface Vehicle {
  make: string; model?: string; year?: number; usage: string; vin?: string; engineNumber?: string;
  colour?: string; seats?: number; registration?: VehicleRegistration; garage?: GarageKind;
  marketValue?: Money; accessories: { description: string; value?: Money }[]; newVehicle?: boolean;
  mileageKm?: number;
}
/** Only `motor` is AAGI's; the other lines are told apart by their tag alone. */
export type InsuredInterest = { tag: 'motor'; val: Vehicle } | { tag: Exclude<string, 'motor'>; val: unknown };

export interface Coverage {
  code: string; name?: string; sumInsured?: Money; premium?: Money; deductible?: Money;
  rate?: string; excluded: boolean;
}
export type Frequency = 'single' | 'monthly' | 'quarterly' | 'semi-annual' | 'annual';
export type ConsentKind = Open<
  | 'terms' | 'data-verification' | 'marketing' | 'information' | 'sanction-screening'>;
export interface Consent { kind: ConsentKind; accepted: boolean; date?: string }
export type RequirementKind = Open<'document' | 'medical-examination' | 'information' | 'verification'>;
export type RequirementStatus = Open<'requested' | 'received' | 'waived'>;
export interface Requirement { code: string; name: string; kind: RequirementKind; status: RequirementStatus; due?: string }
export interface Reference { kind: string; value: string }
export type CaseKind = 'policy' | 'claim' | 'credit-application' | 'collection-task';
export type CaseStatus =
  | 'submitted' | 'pending-documents' | 'pending-underwriting' | 'referred' | 'offered' | 'in-force'
  | 'declined' | 'withdrawn' | 'cancellation-requested' | 'cancelled' | 'lapsed' | 'expired'
  | 'claim-submitted' | 'claim-under-review' | 'claim-information-requested' | 'claim-approved'
  | 'claim-partly-approved' | 'claim-rejected' | 'claim-paid' | 'claim-closed'
  | 'application-approved' | 'application-rejected' | 'awaiting-payment' | 'change-pending' | 'unknown';
export type PremiumComponentKind = Open<
  | 'base' | 'discount' | 'loading' | 'policy-fee' | 'stamp-duty' | 'tax' | 'administration-fee'
  | 'commission'>;
export interface PremiumComponent { kind: PremiumComponentKind; amount: Money; description?: string }
export interface Policy {
  number: string; certificate?: string; startDate?: string; endDate?: string; premium?: Money;
  documentLink?: string; startTime?: string; optionId?: string; breakdown: PremiumComponent[];
  renewalOf?: string; extensions?: string;
}
export interface CaseRef {
  id: string; kind: CaseKind; status: CaseStatus; product?: string; references: Reference[];
  policy?: Policy; parent?: string;
}
export interface FieldIssue { path: string; message: string }
export type AdapterError =
  | { tag: 'invalid-request'; val: FieldIssue[] }
  | { tag: 'rejected'; val: { code: string; message: string } }
  | { tag: 'partner-bad-request' | 'unauthorized' | 'partner-unavailable' | 'partner-timeout'
        | 'partner-protocol' | 'not-found' | 'conflict' | 'unsupported'; val: string };

export type Operation =
  | 'quote' | 'accept' | 'upload-document' | 'confirm' | 'cancel' | 'claim' | 'status'
  | 'policy-document' | 'handle-callback' | 'lookup' | 'poll' | 'notify' | 'validate'
  | 'decline-quote' | 'quote-change' | 'change' | 'quote-cancellation';
export interface ConfigKey { name: string; description: string; required: boolean }
export type CredentialKind = Open<
  | 'basic' | 'api-key' | 'bearer' | 'oauth2-client' | 'hash-key' | 'http-signature'
  | 'client-certificate'>;
export interface CredentialNeed { name: string; kind: CredentialKind; description: string }
/** The JSON Schemas of one operation's `extensions` (in, out); none declared: it takes none. */
export interface ExtensionSchema { operation: Operation; input?: string; output?: string }
export interface Description {
  name: string; version: string; spec: string; operations: Operation[]; configKeys: ConfigKey[];
  credentials: CredentialNeed[]; callbacks: { path: string; description: string }[]; lookups: string[];
  extensions: ExtensionSchema[];
}
export interface Answer { question: string; text?: string; answer: string; details?: string }

export interface QuoteRequest {
  product?: string; plan?: string; binding: boolean; startDate?: string; endDate?: string;
  frequency?: Frequency; sumInsured?: Money; parties: Party[]; interest: InsuredInterest;
  coverages: Coverage[]; channel?: string; extensions?: string; startTime?: string;
  questionnaire: Answer[]; renewalOf?: string;
}
export interface QuoteOption {
  id?: string; product?: string; plan?: string; description?: string; premium: Money;
  frequency?: Frequency; coverages: Coverage[]; taxes?: Money; fees?: Money;
  breakdown: PremiumComponent[]; extensions?: string;
}
export interface Quotation {
  reference?: string; options: QuoteOption[]; underwriting: 'automatic' | 'refer' | 'decline' | 'unknown';
  acceptanceClass?: string; accumulation?: Money; requirements: Requirement[]; validUntil?: string;
  message?: string; extensions?: string;
}
export type AcceptanceMode = 'issue' | 'underwrite' | 'verify';
export interface Application {
  caseId: string; mode: AcceptanceMode; product?: string; plan?: string; quoteReference?: string;
  startDate?: string; endDate?: string; proposalDate?: string; frequency?: Frequency;
  sumInsured?: Money; premium?: Money; payment?: unknown; parties: Party[];
  interest: InsuredInterest; coverages: Coverage[]; consents: Consent[]; digitalPolicy?: boolean;
  channel?: string; extensions?: string; optionIds: string[]; startTime?: string;
  questionnaire: Answer[]; renewalOf?: string;
}
/** 2.0's payment instruction; AAGI asks for none (the adapter always answers `undefined`). */
export type PaymentInstruction = unknown;
export interface Acceptance {
  outcome: 'issued' | 'pending' | 'referred' | 'rejected'; status: CaseStatus;
  references: Reference[]; policy?: Policy; requirements: Requirement[]; message?: string;
  morePolicies: Policy[]; paymentDue?: PaymentInstruction; extensions?: string;
}
export interface Cancellation {
  case: CaseRef; kind: 'in-force' | 'withdrawal'; reason?: string; effectiveDate?: string;
  extensions?: string;
}
export interface CancelResult {
  status: CaseStatus; refund?: Money; awaitingApproval: boolean; message?: string; extensions?: string;
}
export interface StatusReport {
  status: CaseStatus; policy?: Policy; references: Reference[]; message?: string;
  paymentDue?: PaymentInstruction; partnerStatus?: string; extensions?: string;
}

// The host's imports, as componentize-js binds them.

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
export type RequestBody = { tag: 'empty' } | { tag: 'json'; val: string };
export interface HttpRequest { method: Method; url: string; headers: Pair[]; body: RequestBody; credential?: string }
export interface HttpResponse { status: number; headers: Pair[]; body: Uint8Array }
export type HttpError =
  | { tag: 'denied' | 'unknown-credential' | 'timeout' | 'connect' | 'protocol'; val: string }
  | { tag: 'too-large'; val: bigint };
