// AAGI motor web service wire types, spelled as the spec's examples spell them (the Rust twin's
// partner.rs), and the readers that hold an answer to them as serde does there: a field the type
// requires must be there with its type, an optional one may be missing or null, others are
// ignored. Section numbers are shared/partners/aagi-motor.md's, read from the seed.

import { Num } from './json.js';

export interface Owner { birthDate: string | null; address: { postalCode: string } | null }

export interface Vehicle {
  make: string;
  model: string | null;
  usage: string;
  garageType: string | null;
  vehicleIdentificationNumber: string | null;
  color: string | null;
  registrationNumber: string | null;
  registrationState: string | null;
  /** AAGI 7.3: the tables spell it `registerationType`; the examples `registrationType`. */
  registrationType: string | null;
  registrationCountry: string | null;
  yearOfManufacture: string | null;
  engineNumber: string | null;
  numberOfSeats?: number;
  /** AAGI 4: an unused owner is `null`, never `""` (error 999). */
  owner: Owner | null;
}

export interface CoverageItem { name: string | null; code: string; sumInsured: Num | null }
export interface Coverage { name: string | null; code: string; sumInsured: Num | null; coverageItems: CoverageItem[] | null }
export interface AdditionalCost { name: string | null; type: string; amount: Num }
export interface Premium {
  discounts: unknown[] | null;
  additionalCosts: AdditionalCost[] | null;
  netPremium: Num | null;
  grossPremium: Num;
}
export interface Package {
  name: string | null;
  /** `null` for CMI, which has no plan (7.10). */
  coverages: Coverage[] | null;
  premium?: Premium;
}

/** #1 `quickquotes` request; the response echoes it with premiums added. */
export interface QuickQuote {
  policyStartDate: string;
  policyExpiryDate: string | null;
  channel: string;
  productCode: string;
  vehicle: Vehicle;
  /** VMI only; CMI omits it entirely. */
  productPackages?: Package[] | null;
  /** AAGI 7.10: where a CMI premium comes back is undocumented; read here when present. */
  premium?: Premium | null;
}

export interface IdentityDocument { identityType: string; identityNumber: string }
export interface Address {
  type: string;
  addressLine1: string;
  addressLine2: string | null;
  addressLine3: string | null;
  addressLine4: string | null;
  district: string;
  subDistrict: string;
  state: string;
  postalCode: string;
}
/** `insuredPerson`, `beneficiary` or `payer` (5.2.1). */
export interface Party {
  type: string;
  title?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  gender?: string | null;
  identificationDocuments?: IdentityDocument[] | null;
  nationality?: string | null;
  birthDate?: string | null;
  occupation?: string | null;
  registerId?: string | null;
  companyPrefix?: string | null;
  companyName?: string | null;
  companySuffix?: string | null;
  customerName?: string | null;
  emailAddress?: string | null;
  mobilePhone?: string | null;
  addresses: Address[];
}
export interface Consent { consentGroup: string | null; consentType: string; hasAccepted: boolean; acceptanceDate: string | null }

/** #2 `contracts` request. */
export interface Contract {
  policyStartDate: string;
  policyExpiryDate: string | null;
  proposalDate: string | null;
  channel: string;
  productCode: string;
  contractProcessState: string;
  isDigitalPolicy: boolean;
  vehicle: Vehicle;
  productPackages: Package[];
  insuredPerson: Party;
  beneficiary?: Party;
  payer?: Party;
  consents: Consent[];
}

/** #2 and #3 response. */
export interface ContractInfo {
  /** `null` where nothing was created (a VERIFY) or where the path already names it (#3). */
  contractId: string | null;
  policyNumber: string | null;
  policyStartDate: string | null;
  policyExpiryDate: string | null;
  documentUrl: string | null;
  policyStatus: string;
}

/** #4 `amendments` request and response. */
export interface Amendment { type: string; reason: string }
export interface AmendmentResult { effectiveDate: string | null; policyNumber: string | null; status: string }

/** The error body (AAGI FAQ): a 3-digit code and a Thai message. */
export interface ErrorBody { code: string; message: string }

// ---- readers ----

/** Why a value is not the expected shape, with the path to it. */
export class ShapeError extends Error {}

type Json = Record<string, unknown>;

function object(value: unknown, path: string): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Num) {
    throw new ShapeError(`${path}: expected an object`);
  }
  return value as Json;
}

function string(o: Json, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new ShapeError(`${path}.${key}: expected a string`);
  return v;
}

function optString(o: Json, key: string, path: string): string | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new ShapeError(`${path}.${key}: expected a string or null`);
  return v;
}

function num(o: Json, key: string, path: string): Num {
  const v = o[key];
  if (!(v instanceof Num)) throw new ShapeError(`${path}.${key}: expected a number`);
  return v;
}

function optNum(o: Json, key: string, path: string): Num | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (!(v instanceof Num)) throw new ShapeError(`${path}.${key}: expected a number or null`);
  return v;
}

function optList<T>(o: Json, key: string, path: string, item: (v: unknown, path: string) => T): T[] | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v)) throw new ShapeError(`${path}.${key}: expected an array or null`);
  return v.map((x, i) => item(x, `${path}.${key}[${i}]`));
}

function optObject<T>(o: Json, key: string, path: string, read: (v: unknown, path: string) => T): T | null {
  const v = o[key];
  return v === undefined || v === null ? null : read(v, `${path}.${key}`);
}

function owner(value: unknown, path: string): Owner {
  const o = object(value, path);
  return {
    birthDate: optString(o, 'birthDate', path),
    address: optObject(o, 'address', path, (a, p) => ({ postalCode: string(object(a, p), 'postalCode', p) })),
  };
}

function vehicle(value: unknown, path: string): Vehicle {
  const o = object(value, path);
  const seats = o.numberOfSeats;
  if (seats !== undefined && seats !== null
      && !(seats instanceof Num && !seats.float && seats.value >= 0 && seats.value <= 0xffffffff)) {
    throw new ShapeError(`${path}.numberOfSeats: expected a u32 or null`);
  }
  return {
    make: string(o, 'make', path),
    model: optString(o, 'model', path),
    usage: string(o, 'usage', path),
    garageType: optString(o, 'garageType', path),
    vehicleIdentificationNumber: optString(o, 'vehicleIdentificationNumber', path),
    color: optString(o, 'color', path),
    registrationNumber: optString(o, 'registrationNumber', path),
    registrationState: optString(o, 'registrationState', path),
    registrationType: optString(o, 'registrationType', path),
    registrationCountry: optString(o, 'registrationCountry', path),
    yearOfManufacture: optString(o, 'yearOfManufacture', path),
    engineNumber: optString(o, 'engineNumber', path),
    numberOfSeats: seats instanceof Num ? seats.value : undefined,
    owner: optObject(o, 'owner', path, owner),
  };
}

function premium(value: unknown, path: string): Premium {
  const o = object(value, path);
  return {
    discounts: optList(o, 'discounts', path, (v) => v),
    additionalCosts: optList(o, 'additionalCosts', path, (v, p) => {
      const c = object(v, p);
      return { name: optString(c, 'name', p), type: string(c, 'type', p), amount: num(c, 'amount', p) };
    }),
    netPremium: optNum(o, 'netPremium', path),
    grossPremium: num(o, 'grossPremium', path),
  };
}

function coverage(value: unknown, path: string): Coverage {
  const o = object(value, path);
  return {
    name: optString(o, 'name', path),
    code: string(o, 'code', path),
    sumInsured: optNum(o, 'sumInsured', path),
    coverageItems: optList(o, 'coverageItems', path, (v, p) => {
      const i = object(v, p);
      return { name: optString(i, 'name', p), code: string(i, 'code', p), sumInsured: optNum(i, 'sumInsured', p) };
    }),
  };
}

function packageOf(value: unknown, path: string): Package {
  const o = object(value, path);
  const read: Package = { name: optString(o, 'name', path), coverages: optList(o, 'coverages', path, coverage) };
  const p = optObject(o, 'premium', path, premium);
  if (p) read.premium = p;
  return read;
}

export function readQuickQuote(value: unknown): QuickQuote {
  const o = object(value, '$');
  return {
    policyStartDate: string(o, 'policyStartDate', '$'),
    policyExpiryDate: optString(o, 'policyExpiryDate', '$'),
    channel: string(o, 'channel', '$'),
    productCode: string(o, 'productCode', '$'),
    vehicle: vehicle(o.vehicle, '$.vehicle'),
    productPackages: optList(o, 'productPackages', '$', packageOf),
    premium: optObject(o, 'premium', '$', premium),
  };
}

export function readContractInfo(value: unknown): ContractInfo {
  const o = object(value, '$');
  return {
    contractId: optString(o, 'contractId', '$'),
    policyNumber: optString(o, 'policyNumber', '$'),
    policyStartDate: optString(o, 'policyStartDate', '$'),
    policyExpiryDate: optString(o, 'policyExpiryDate', '$'),
    documentUrl: optString(o, 'documentUrl', '$'),
    policyStatus: string(o, 'policyStatus', '$'),
  };
}

export function readAmendmentResult(value: unknown): AmendmentResult {
  const o = object(value, '$');
  return {
    effectiveDate: optString(o, 'effectiveDate', '$'),
    policyNumber: optString(o, 'policyNumber', '$'),
    status: string(o, 'status', '$'),
  };
}

export function readErrorBody(value: unknown): ErrorBody {
  const o = object(value, '$');
  return { code: string(o, 'code', '$'), message: string(o, 'message', '$') };
}
