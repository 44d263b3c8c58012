// Canonical ⇄ AAGI motor, as pure functions: the Rust twin's mapping.rs, rule for rule and in
// the same order, so that both name the same broken fields in the same order. The spec's
// conditional rules are checked here, before any call, and every broken one is reported with
// its path. Section numbers are shared/partners/aagi-motor.md's, read from the seed.

import type * as c from './contract.js';
import { Num, parseNumber, rustF64, rustTrim } from './json.js';
import type * as wire from './partner.js';

export const CURRENCY = 'THB';
/** The case reference: AAGI's contract id, used by policy information and cancel. */
export const CONTRACT_ID = 'contract-id';
const CHANNEL = 'WS';
const PLANS = ['VMI1', 'VMI2+', 'VMI3+', 'VMI3'];

/** An adapter-error, thrown as componentize-js expects an export's `result` error. */
export function fail(error: c.AdapterError): never {
  throw error;
}

export function protocol(detail: string): never {
  return fail({ tag: 'partner-protocol', val: detail });
}

/** Collects field issues so that one reply names every broken field, not just the first. */
export class Issues {
  readonly list: c.FieldIssue[] = [];

  add(path: string, message: string): void {
    this.list.push({ path, message });
  }

  /** The value, or an issue at `path` saying it is required. */
  require<T>(value: T | undefined, path: string): T | undefined {
    if (value === undefined) this.add(path, 'is required by this partner');
    return value;
  }

  /** Throws `invalid-request` with every issue, if there is one. */
  finish(): void {
    if (this.list.length) fail({ tag: 'invalid-request', val: this.list });
  }
}

/** Rust's `str::len`: UTF-8 bytes. */
function bytes(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** Rust's `chars().count()`: Unicode scalar values. */
function chars(s: string): number {
  return Array.from(s).length;
}

/** AAGI 6.2's remarks: the coverage items a plan does not cover, whose sum must be "0" or null. */
function notCovered(plan: string): string[] {
  switch (plan) {
    case 'VMI1':
      return ['FL'];
    case 'VMI3':
      return ['OD', 'DD', 'FL'];
    default:
      return [];
  }
}

/** AAGI 6.2: coverage items each plan must carry when coverages are given. */
function mandatoryItems(plan: string): string[] {
  const thirdParty = ['TPBI_PERSON', 'TPBI_ACCIDENT', 'TPPD', 'PA', 'ME', 'BB'];
  switch (plan) {
    case 'VMI1':
      return ['OD', 'DD', ...thirdParty];
    case 'VMI2+':
    case 'VMI3+':
      return ['OD', 'DD', 'FL', ...thirdParty];
    default:
      return thirdParty;
  }
}

export function number(money: c.Money, path: string, issues: Issues): Num | undefined {
  if (money.currency !== CURRENCY) {
    issues.add(`${path}.currency`, `AAGI deals in THB, not \`${money.currency}\``);
    return undefined;
  }
  const amount = rustTrim(money.amount);
  const n = parseNumber(amount);
  if (n && !amount.startsWith('-')) return n;
  issues.add(`${path}.amount`, 'must be a non-negative decimal');
  return undefined;
}

export function money(n: Num): c.Money {
  return { amount: n.toString(), currency: CURRENCY };
}

/** `VMI` or `CMI`, and for VMI the plan (`VMI1`, `VMI2+`, `VMI3+`, `VMI3`). */
function productAndPlan(product: string | undefined, plan: string | undefined, issues: Issues): [string, string | undefined] {
  let p = '';
  if (product === 'VMI' || product === 'CMI') p = product;
  else if (product !== undefined) issues.add('product', 'must be `VMI` (voluntary) or `CMI` (compulsory)');
  else issues.add('product', 'is required: `VMI` or `CMI`');
  let chosen: string | undefined;
  if (p === 'VMI' && plan !== undefined && PLANS.includes(plan)) chosen = plan;
  else if (p === 'VMI' && plan !== undefined) issues.add('plan', 'must be one of VMI1, VMI2+, VMI3+, VMI3');
  else if (p === 'VMI') issues.add('plan', 'is required for VMI: VMI1, VMI2+, VMI3+ or VMI3');
  else if (p === 'CMI' && plan !== undefined) issues.add('plan', 'CMI has no plans; leave it out');
  return [p, chosen];
}

function motor(interest: c.InsuredInterest, issues: Issues): c.Vehicle | undefined {
  if (interest.tag === 'motor') return interest.val as c.Vehicle;
  issues.add('interest', 'AAGI insures vehicles: use `motor`');
  return undefined;
}

// The Rust twin prints these two values with `{:?}`, the bindings' Debug: `Some(GarageKind::Company)`,
// `Some(GarageKind::Other("x"))`.
function debugName(type: string, value: c.Open<string>): string {
  if (value.tag === 'other') return `${type}::Other(${JSON.stringify(value.val)})`;
  const name = value.tag.split('-').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
  return `${type}::${name}`;
}

/** AAGI 6.4: which of plate province and number each country/type pair requires. */
function checkRegistration(registration: c.VehicleRegistration | undefined, issues: Issues): void {
  const base = 'interest.motor.registration';
  const country = registration?.country;
  const kind = registration?.kind;
  const tag = kind?.tag;
  const thai = country === undefined || country === 'THA';
  let rule: [boolean, boolean] | undefined;
  if (thai && tag === 'general') rule = [true, true];
  else if (thai && tag === 'red-plate') rule = [true, false];
  else if (thai && tag === 'government') rule = [false, true];
  else if (thai && tag === undefined) rule = [true, false];
  else if (!thai && (tag === 'international' || tag === undefined)) rule = [false, true];
  if (!rule) {
    const shown = kind === undefined ? 'None' : `Some(${debugName('RegistrationKind', kind)})`;
    issues.add(base, `country ${country ?? 'unset'} with kind ${shown} is not a combination AAGI defines (6.4)`);
    return;
  }
  const [state, plate] = rule;
  if (state && registration?.region === undefined) {
    issues.add(`${base}.region`, "the plate's province code is required for this registration");
  }
  const n = registration?.number;
  if (plate && (n === undefined || n.trim() === '')) {
    issues.add(`${base}.number`, 'the plate number is required for this registration');
  }
}

function shownGarage(g: c.GarageKind | undefined): string {
  return g === undefined ? 'None' : `Some(${debugName('GarageKind', g)})`;
}

type KnownGarage = 'dealer' | 'company' | 'unspecified';

/** AAGI 6.3: the garage types each plan allows. */
function checkGarage(plan: string | undefined, product: string, garage: c.GarageKind | undefined, issues: Issues): string | null {
  let allowed: (KnownGarage | undefined)[];
  if (product === 'VMI' && plan === 'VMI1') allowed = ['dealer', 'company'];
  else if (product === 'VMI' && (plan === 'VMI2+' || plan === 'VMI3+')) allowed = ['company'];
  else allowed = [undefined, 'unspecified'];
  // `other(..)` is in no plan's list: AAGI names only these three.
  const known = garage === undefined || garage.tag !== 'other';
  if (!known || !allowed.includes(garage?.tag as KnownGarage | undefined)) {
    const shown = allowed.map((g) => shownGarage(g === undefined ? undefined : { tag: g }));
    issues.add('interest.motor.garage',
      `${plan ?? product} allows [${shown.join(', ')}], not ${shownGarage(garage)}`);
  }
  // Refused above when it is not AAGI's; the partner's own code goes through as given.
  if (garage === undefined) return null;
  return garage.tag === 'other' ? garage.val : garage.tag.toUpperCase();
}

function vehicleOwner(parties: c.Party[], issues: Issues): wire.Owner | null {
  const i = parties.findIndex((p) => p.detail.tag === 'person' && p.role.tag === 'vehicle-owner');
  if (i < 0) return null;
  const person = parties[i].detail.val as c.Person;
  const postal = person.addresses.find((a) => a.postalCode !== undefined)?.postalCode;
  if (postal !== undefined && bytes(postal) !== 5) {
    issues.add(`parties[${i}].detail.person.addresses`, 'the postal code has 5 digits');
  }
  return {
    birthDate: person.birthDate ?? null,
    address: postal === undefined ? null : { postalCode: postal },
  };
}

const REGISTRATION_KINDS: Record<string, string> = {
  general: 'GEN', 'red-plate': 'REDPLATE', government: 'GOV', international: 'INTER',
};

/** AAGI 6.4's registrationType; `other(..)` is refused by `checkRegistration` and goes as given. */
function registrationType(kind: c.RegistrationKind): string {
  return kind.tag === 'other' ? kind.val : REGISTRATION_KINDS[kind.tag];
}

function vehicle(v: c.Vehicle, parties: c.Party[], product: string, plan: string | undefined,
  contract: boolean, issues: Issues): wire.Vehicle {
  checkRegistration(v.registration, issues);
  const garageType = checkGarage(plan, product, v.garage, issues);
  if (product === 'VMI' && v.model === undefined) issues.add('interest.motor.model', 'is required for VMI');
  const year = v.year === undefined ? undefined : String(v.year);
  if (product === 'VMI' && (year === undefined || year.length !== 4)) {
    issues.add('interest.motor.year', 'a four-digit year of manufacture is required for VMI');
  }
  if (contract && (v.vin === undefined || v.vin.trim() === '')) {
    issues.add('interest.motor.vin', 'is required to issue (AAGI 6.5)');
  }
  const r = v.registration;
  const out: wire.Vehicle = {
    make: v.make,
    model: v.model ?? null,
    usage: v.usage,
    garageType,
    vehicleIdentificationNumber: v.vin ?? null,
    color: v.colour ?? null,
    registrationNumber: r?.number ?? null,
    registrationState: r?.region ?? null,
    registrationType: r?.kind === undefined ? null : registrationType(r.kind),
    registrationCountry: r?.country ?? null,
    yearOfManufacture: year ?? null,
    engineNumber: v.engineNumber ?? null,
    owner: null,
  };
  if (v.seats !== undefined) out.numberOfSeats = v.seats;
  out.owner = vehicleOwner(parties, issues);
  return out;
}

function packageFor(plan: string, sumInsured: c.Money | undefined, coverages: c.Coverage[],
  premium: wire.Premium | undefined, issues: Issues): wire.Package {
  const sum = sumInsured === undefined ? undefined : number(sumInsured, 'sum_insured', issues);
  let items: wire.CoverageItem[] | null = null;
  if (coverages.length) {
    const codes = coverages.map((x) => x.code);
    for (const missing of mandatoryItems(plan).filter((m) => !codes.includes(m))) {
      issues.add('coverages', `${plan} needs coverage item \`${missing}\` (AAGI 6.2)`);
    }
    items = coverages.map((x, i) => {
      const path = `coverages[${i}].sum_insured`;
      // As the Rust twin's `parse::<f64>() != Ok(0.0)`: "" and "0x0" are not 0 there.
      if (x.sumInsured && notCovered(plan).includes(x.code) && rustF64(rustTrim(x.sumInsured.amount)) !== 0) {
        issues.add(path, `must be 0 or absent: ${plan} does not cover \`${x.code}\` (AAGI 6.2)`);
      }
      return {
        name: x.name ?? null,
        code: x.code,
        sumInsured: (x.sumInsured && number(x.sumInsured, path, issues)) ?? null,
      };
    });
  }
  const out: wire.Package = {
    name: 'GRANU',
    coverages: [{ name: plan, code: plan, sumInsured: sum ?? null, coverageItems: items }],
  };
  if (premium) out.premium = premium;
  return out;
}

function validDate(value: string | undefined, path: string, required: boolean, issues: Issues): string | null {
  if (value !== undefined && isDate(value)) return value;
  if (value !== undefined) issues.add(path, 'must be a date as YYYY-MM-DD');
  else if (required) issues.add(path, 'is required by this partner');
  return null;
}

/** A calendar date written `YYYY-MM-DD`, year 0001 to 9999 (the SDK's `date::parse`). */
export function isDate(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (y < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return mo >= 1 && mo <= 12 && d >= 1 && d <= days[mo - 1];
}

export function quickQuote(request: c.QuoteRequest): wire.QuickQuote {
  const issues = new Issues();
  const [product, plan] = productAndPlan(request.product, request.plan, issues);
  const start = validDate(request.startDate, 'start_date', true, issues);
  const end = validDate(request.endDate, 'end_date', false, issues);
  const v = motor(request.interest, issues);
  const wireVehicle = v && vehicle(v, request.parties, product, plan, false, issues);
  const packages = plan === undefined
    ? undefined
    : [packageFor(plan, request.sumInsured, request.coverages, undefined, issues)];
  issues.finish();
  const out: wire.QuickQuote = {
    policyStartDate: start ?? '',
    policyExpiryDate: end,
    channel: CHANNEL,
    productCode: product,
    vehicle: wireVehicle as wire.Vehicle,
  };
  if (packages) out.productPackages = packages;
  return out;
}

function premiumOption(product: string, plan: string | undefined, premium: wire.Premium,
  coverages: c.Coverage[]): c.QuoteOption {
  const taxes = premium.additionalCosts?.reduce((sum, cost) => sum + cost.amount.value, 0);
  return {
    product,
    plan,
    description: premium.netPremium ? `net premium ${premium.netPremium} THB before VAT and stamp duty` : undefined,
    premium: money(premium.grossPremium),
    frequency: 'annual',
    coverages,
    taxes: taxes === undefined ? undefined : { amount: taxes.toFixed(2), currency: CURRENCY },
    fees: undefined,
    id: undefined,
    breakdown: [],
    extensions: undefined,
  };
}

export function quotation(response: wire.QuickQuote): c.Quotation {
  const options: c.QuoteOption[] = [];
  for (const pkg of response.productPackages ?? []) {
    if (!pkg.premium) continue;
    const coverages = pkg.coverages ?? [];
    if (!coverages.length) {
      // `"coverages": null`: no plan (CMI); the package's premium is the product's.
      options.push(premiumOption(response.productCode, undefined, pkg.premium, []));
    }
    for (const coverage of coverages) {
      const items: c.Coverage[] = (coverage.coverageItems ?? []).map((i) => ({
        code: i.code,
        name: i.name ?? undefined,
        sumInsured: i.sumInsured ? money(i.sumInsured) : undefined,
        premium: undefined,
        deductible: undefined,
        rate: undefined,
        excluded: false,
      }));
      options.push(premiumOption(response.productCode, coverage.code, pkg.premium, items));
    }
  }
  if (response.premium) options.push(premiumOption(response.productCode, undefined, response.premium, []));
  if (!options.length) protocol('the quick quote came back without a premium');
  return {
    reference: undefined,
    options,
    underwriting: 'automatic',
    acceptanceClass: undefined,
    accumulation: undefined,
    requirements: [],
    validUntil: undefined,
    message: undefined,
    extensions: undefined,
  };
}

function identityType(kind: c.IdentityKind): string | undefined {
  return kind.tag === 'national-id' ? 'NRIC' : kind.tag === 'passport' ? 'PASS' : undefined;
}

function address(a: c.Address, path: string, issues: Issues): wire.Address | undefined {
  const kind = a.kind.tag === 'registered' ? 'REGISTER' : a.kind.tag === 'residence' ? 'CURRENT' : undefined;
  if (!kind) return undefined;
  const line = (i: number): string | null => a.lines[i] ?? null;
  const first = line(0);
  const line1 = issues.require(first !== null && first.trim() !== '' ? first : undefined, `${path}.lines`);
  if (line1 !== undefined && chars(line1) > 250) issues.add(`${path}.lines[0]`, 'is at most 250 characters');
  const district = issues.require(a.district, `${path}.district`);
  const subDistrict = issues.require(a.subDistrict, `${path}.sub_district`);
  const state = issues.require(a.province, `${path}.province`);
  const postal = issues.require(a.postalCode, `${path}.postal_code`);
  if (postal !== undefined && bytes(postal) !== 5) issues.add(`${path}.postal_code`, 'has 5 digits');
  return {
    type: kind,
    addressLine1: line1 ?? '',
    addressLine2: line(1),
    addressLine3: line(2),
    addressLine4: line(3),
    district: district ?? '',
    subDistrict: subDistrict ?? '',
    state: state ?? '',
    postalCode: postal ?? '',
  };
}

function addresses(list: c.Address[], path: string, issues: Issues): wire.Address[] {
  const out = list
    .map((a, i) => address(a, `${path}.addresses[${i}]`, issues))
    .filter((a): a is wire.Address => a !== undefined);
  // AAGI FAQ: both a REGISTER and a CURRENT address, always.
  for (const [kind, canonical] of [['REGISTER', 'registered'], ['CURRENT', 'residence']]) {
    if (!out.some((a) => a.type === kind)) {
      issues.add(`${path}.addresses`, `needs a \`${canonical}\` address (AAGI's ${kind})`);
    }
  }
  return out;
}

function mobile(phones: c.Phone[], path: string, required: boolean, issues: Issues): string | null {
  const n = phones.find((p) => p.kind.tag === 'mobile')?.number;
  if (n !== undefined && (bytes(n) !== 10 || !/^[0-9]*$/.test(n))) {
    issues.add(`${path}.phones`, 'the mobile number has 10 digits');
  } else if (n === undefined && required) {
    issues.add(`${path}.phones`, 'a mobile phone is required');
  }
  return n ?? null;
}

/** A canonical party as AAGI's `insuredPerson`, `beneficiary` or `payer` (5.2.1). */
function party(p: c.Party, at: string, insured: boolean, digital: boolean,
  customerName: string | undefined, issues: Issues): wire.Party {
  if (p.detail.tag === 'person') {
    const person = p.detail.val;
    const path = `${at}.detail.person`;
    const title = issues.require(person.title, `${path}.title`);
    const first = issues.require(person.givenName, `${path}.given_name`);
    const last = issues.require(person.familyName, `${path}.family_name`);
    let gender: string | undefined;
    if (person.gender === 'male') gender = 'MALE';
    else if (person.gender === 'female') gender = 'FEMALE';
    else issues.add(`${path}.gender`, 'is required: male or female');
    const ids: wire.IdentityDocument[] = [];
    for (const i of person.identities) {
      const type = identityType(i.kind);
      if (type) ids.push({ identityType: type, identityNumber: i.number });
    }
    if (!ids.length) issues.add(`${path}.identities`, 'needs a national_id or passport');
    // AAGI requires it of every person it is sent: the insured, a beneficiary, a payer.
    if (person.nationality === undefined) issues.add(`${path}.nationality`, 'is required for a person AAGI is sent');
    const birth = validDate(person.birthDate, `${path}.birth_date`, true, issues);
    if (insured && digital && person.email === undefined) {
      issues.add(`${path}.email`, 'is required for an e-policy (digital_policy)');
    }
    return {
      type: 'PERSON',
      title: title ?? null,
      firstName: first ?? null,
      lastName: last ?? null,
      gender: gender ?? null,
      identificationDocuments: ids,
      nationality: person.nationality ?? null,
      birthDate: birth,
      occupation: person.occupation ?? '99',
      emailAddress: person.email ?? null,
      mobilePhone: mobile(person.phones, path, true, issues),
      addresses: addresses(person.addresses, path, issues),
    };
  }
  const org = p.detail.val;
  const path = `${at}.detail.organisation`;
  const register = org.identities.find((i) => i.kind.tag === 'company-registration')?.number;
  if (register === undefined) issues.add(`${path}.identities`, "needs a company_registration (AAGI's registerId)");
  if (insured && digital) issues.add('digital_policy', 'AAGI cannot issue an e-policy to a company; set it false');
  return {
    type: 'COMPANY',
    registerId: register ?? null,
    companyPrefix: org.prefix ?? null,
    companyName: org.name,
    companySuffix: org.suffix ?? null,
    customerName: customerName ?? null,
    emailAddress: org.email ?? null,
    mobilePhone: mobile(org.phones, path, false, issues),
    addresses: addresses(org.addresses, path, issues),
  };
}

type KnownConsent = 'information' | 'sanction-screening' | 'marketing';

const CONSENT_NAMES: Record<KnownConsent, string> = {
  information: 'information', 'sanction-screening': 'sanction_screening', marketing: 'marketing',
};

function consents(list: c.Consent[], issues: Issues): wire.Consent[] {
  const out: wire.Consent[] = [];
  // AAGI 5.2.2: all three, INFORMATION and SANCTION_COUNTRY accepted.
  const wanted: [KnownConsent, string, boolean][] = [
    ['information', 'INFORMATION', true],
    ['sanction-screening', 'SANCTION_COUNTRY', true],
    ['marketing', 'MARKETING', false],
  ];
  for (const [kind, wireKind, mustAccept] of wanted) {
    const given = list.find((x) => x.kind.tag === kind);
    if (!given) issues.add('consents', `needs the \`${CONSENT_NAMES[kind]}\` consent (AAGI's ${wireKind})`);
    else if (mustAccept && !given.accepted) issues.add('consents', `\`${CONSENT_NAMES[kind]}\` must be accepted to issue`);
    else out.push({ consentGroup: null, consentType: wireKind, hasAccepted: given.accepted, acceptanceDate: given.date ?? null });
  }
  return out;
}

type KnownRole = Exclude<c.PartyRole['tag'], 'other'>;

function role(parties: c.Party[], wanted: KnownRole): [number, c.Party] | undefined {
  const i = parties.findIndex((p) => p.role.tag === wanted);
  return i < 0 ? undefined : [i, parties[i]];
}

/**
 * The main driver's name (the first party with role `driver` that is a person), which AAGI
 * prints for a company insuring a private car (AAGI 5.2.1 `customerName`).
 */
function mainDriver(parties: c.Party[]): string | undefined {
  for (const p of parties) {
    if (p.role.tag === 'driver' && p.detail.tag === 'person') return p.detail.val.fullName;
  }
  return undefined;
}

function displayName(p: c.Party): string {
  return p.detail.tag === 'person' ? p.detail.val.fullName : p.detail.val.name;
}

export function contract(application: c.Application): wire.Contract {
  const issues = new Issues();
  const [product, plan] = productAndPlan(application.product, application.plan, issues);
  let state = '';
  if (application.mode === 'issue') state = 'ISSUE';
  else if (application.mode === 'verify') state = 'VERIFY';
  else issues.add('mode', 'AAGI issues or verifies; there is no underwriting submission');
  const start = validDate(application.startDate, 'start_date', true, issues);
  const end = validDate(application.endDate, 'end_date', false, issues);
  const proposal = validDate(application.proposalDate, 'proposal_date', false, issues);
  const digital = application.digitalPolicy ?? false;
  const v = motor(application.interest, issues);
  const wireVehicle = v && vehicle(v, application.parties, product, plan, true, issues);
  const gross = application.premium !== undefined
    ? number(application.premium, 'premium', issues)
    : issues.require(undefined, 'premium');
  const premium: wire.Premium | undefined = gross && {
    discounts: null, additionalCosts: null, netPremium: null, grossPremium: gross,
  };
  // AAGI 7.10: the contracts model requires a package for CMI too ("productPackages | Yes |
  // Yes"); it carries CMI's premium. Its coverage `code` is "Enum | Yes | Yes | ... | VMI1,
  // VMI2+, VMI3+, VMI3 | Fixed Value": no value is CMI's, so a CMI package names no coverage.
  const packages: wire.Package[] = plan !== undefined
    ? [packageFor(plan, application.sumInsured, application.coverages, premium, issues)]
    : [premium ? { name: null, coverages: null, premium } : { name: null, coverages: null }];
  const customer = mainDriver(application.parties);
  const insuredAt = role(application.parties, 'insured');
  let insured: wire.Party | undefined;
  if (insuredAt) {
    const [i, p] = insuredAt;
    const companyIndividualUse = p.detail.tag === 'organisation'
      && wireVehicle !== undefined && (wireVehicle.usage === '110' || wireVehicle.usage === '210');
    if (companyIndividualUse && customer === undefined) {
      issues.add('parties',
        'a company insuring a private car names its main driver: a person with role `driver` (AAGI 5.2.1)');
    }
    insured = party(p, `parties[${i}]`, true, digital, customer, issues);
  } else {
    issues.add('parties', 'needs an `insured` party');
  }
  const other = (wanted: KnownRole): wire.Party | undefined => {
    const at = role(application.parties, wanted);
    return at && party(at[1], `parties[${at[0]}]`, false, false, displayName(at[1]), issues);
  };
  const beneficiary = other('beneficiary');
  const payer = other('payer');
  const consentList = consents(application.consents, issues);
  issues.finish();
  const out: wire.Contract = {
    policyStartDate: start ?? '',
    policyExpiryDate: end,
    proposalDate: proposal,
    channel: CHANNEL,
    productCode: product,
    contractProcessState: state,
    isDigitalPolicy: digital,
    vehicle: wireVehicle as wire.Vehicle,
    productPackages: packages,
    insuredPerson: insured as wire.Party,
    consents: consentList,
  };
  if (beneficiary) out.beneficiary = beneficiary;
  if (payer) out.payer = payer;
  return out;
}

function caseStatus(policyStatus: string): c.CaseStatus {
  switch (policyStatus) {
    case 'SUCCESS': return 'in-force';
    case 'PROCESS_CAR_INSPECTION': return 'pending-underwriting';
    case 'REJECTED': return 'declined';
    case 'CANCELLED': return 'cancelled';
    default: return protocol(`unknown policyStatus \`${policyStatus}\``);
  }
}

function policy(info: wire.ContractInfo): c.Policy | undefined {
  if (!info.policyNumber) return undefined;
  return {
    number: info.policyNumber,
    certificate: undefined,
    startDate: info.policyStartDate ?? undefined,
    endDate: info.policyExpiryDate ?? undefined,
    premium: undefined,
    documentLink: info.documentUrl ?? undefined,
    startTime: undefined,
    optionId: undefined,
    breakdown: [],
    renewalOf: undefined,
    extensions: undefined,
  };
}

export function acceptance(info: wire.ContractInfo, mode: c.AcceptanceMode): c.Acceptance {
  const status = caseStatus(info.policyStatus);
  // `contractId: null`: clear on a VERIFY (nothing was created) or an issue that names its
  // policy; a car inspection can only be followed by its contract, so it needs the id.
  const references: c.Reference[] = info.contractId ? [{ kind: CONTRACT_ID, value: info.contractId }] : [];
  if (!references.length && mode !== 'verify' && status === 'pending-underwriting') {
    protocol('AAGI asks for a car inspection but gave no contractId to follow it by');
  }
  let outcome: c.Acceptance['outcome'];
  let caseState: c.CaseStatus = status;
  let requirements: c.Requirement[] = [];
  let message: string;
  // A VERIFY issues nothing, so a passed one is a submitted case; its status still counts
  // (#3: "Sample Status: PROCESS_CAR_INSPECTION, SUCCESS, REJECTED, CANCELLED"): a REJECTED
  // verification is declined below, not "verified".
  if (mode === 'verify' && (status === 'in-force' || status === 'pending-underwriting')) {
    [outcome, caseState, message] = ['pending', 'submitted', 'verified; not issued'];
  } else if (status === 'in-force') {
    [outcome, message] = ['issued', 'issued'];
  } else if (status === 'pending-underwriting') {
    outcome = 'pending';
    requirements = [{
      code: 'car-inspection', name: 'Car inspection before cover starts', kind: { tag: 'verification' },
      status: { tag: 'requested' }, due: undefined,
    }];
    message = "the car must be inspected; follow the case's status";
  } else if (status === 'declined') {
    [outcome, message] = ['rejected', 'rejected'];
  } else {
    return protocol(`a new contract cannot be ${status}`);
  }
  return {
    outcome, status: caseState, references, policy: policy(info), requirements, message,
    morePolicies: [], paymentDue: undefined, extensions: undefined,
  };
}

/**
 * #3's answer for the contract `asked` (the id in the path, which stands when the answer's
 * `contractId` is null).
 */
export function statusReport(info: wire.ContractInfo, asked: string): c.StatusReport {
  return {
    status: caseStatus(info.policyStatus),
    policy: policy(info),
    references: [{ kind: CONTRACT_ID, value: info.contractId || asked }],
    message: `policyStatus ${info.policyStatus}`,
    paymentDue: undefined,
    partnerStatus: undefined,
    extensions: undefined,
  };
}

export function amendment(cancellation: c.Cancellation): wire.Amendment {
  const reason = cancellation.reason ?? 'Cancelled by the broker';
  // AAGI 5.4: the reason is at most 50 characters.
  if (chars(reason) > 50) {
    fail({ tag: 'invalid-request', val: [{ path: 'reason', message: 'AAGI takes at most 50 characters' }] });
  }
  return { type: 'CANCEL', reason };
}

/** The first 200 characters of a body, for the operator (the SDK's `http::snippet`). */
export function snippet(body: Uint8Array): string {
  const text = Array.from(new TextDecoder().decode(body));
  return text.slice(0, 200).join('') + (text.length > 200 ? '…' : '');
}

/** An AAGI failure as the typed error it means (codes from the FAQ; HTTP statuses undocumented). */
export function failure(status: number, body: Uint8Array, parsed: wire.ErrorBody | undefined): c.AdapterError {
  if (status === 401 || status === 403) return { tag: 'unauthorized', val: snippet(body) };
  if (status === 404) return { tag: 'not-found', val: snippet(body) };
  // A 5xx (or 408/429) is no final answer whatever its body: a contract AAGI (or the gateway
  // before it) failed on may still have been issued, so the host must hold it in doubt, not
  // close it as refused. The FAQ's 999 "เกิดข้อผิดพลาดในระบบ" is a system error.
  if (status === 408 || status === 429 || (status >= 500 && status <= 599)) {
    return { tag: 'partner-unavailable', val: parsed ? `HTTP ${status}: ${parsed.code} ${parsed.message}` : `HTTP ${status}` };
  }
  // 999 below 500: in practice a malformed request (AAGI FAQ).
  if (parsed && parsed.code === '999') return { tag: 'partner-bad-request', val: `999 ${parsed.message}` };
  // 003 is the rule `packageFor` checks before calling (6.2's mandatory coverage items), so it
  // is reported as that check reports it: an invalid request at `coverages`.
  if (parsed && parsed.code === '003') {
    return { tag: 'invalid-request', val: [{ path: 'coverages', message: `AAGI 003: ${parsed.message} (AAGI 6.2)` }] };
  }
  if (parsed) return { tag: 'rejected', val: { code: parsed.code, message: parsed.message } };
  return { tag: 'partner-protocol', val: `HTTP ${status}: ${snippet(body)}` };
}
