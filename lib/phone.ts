/**
 * Phone numbers as WhatsApp needs them: E.164, mobile, validated with libphonenumber-js.
 * `max` metadata because only it tells mobile from fixed-line numbers.
 */
import { parsePhoneNumberWithError, isSupportedCountry, type CountryCode } from 'libphonenumber-js/max';
import { ValidationError } from './errors';

export type { CountryCode };

/**
 * A business-scoped user id as Meta sends it since 2026: a two-letter country code, a period and up to 128
 * alphanumeric characters (`BR.1502576394655843`), or a parent user id shared by linked business portfolios, with
 * `ENT.` after the country code (`US.ENT.11815799212886844830`).
 */
const BUSINESS_SCOPED_USER_ID = /^[A-Z]{2}\.(?:ENT\.)?[0-9A-Za-z]{6,128}$/;

export function isBusinessScopedUserId(value: string): boolean {
	return BUSINESS_SCOPED_USER_ID.test(value.trim());
}

export function assertCountry(country: string | undefined, field = 'defaultCountry'): CountryCode | undefined {
	if (country === undefined || country === '') return undefined;
	const upper = country.trim().toUpperCase();
	if (!isSupportedCountry(upper)) {
		throw new ValidationError(field, `'${country}' is not a country code`, 'Use a two-letter ISO code such as DE, AT or CH');
	}
	return upper as CountryCode;
}

/**
 * Normalises what a person typed into E.164 (`+4915112345678`).
 * A number without a leading + or 00 is read in `defaultCountry`.
 */
export function toE164(input: unknown, defaultCountry?: CountryCode, field = 'phone'): string {
	if (typeof input !== 'string' && typeof input !== 'number') {
		throw new ValidationError(field, `The phone number must be text, got ${input === null ? 'null' : typeof input}`);
	}
	const raw = String(input).trim();
	if (raw === '') throw new ValidationError(field, 'The phone number is empty', 'Enter a mobile number such as +49 151 12345678');
	const prepared = raw.startsWith('00') ? `+${raw.slice(2)}` : raw;
	let parsed;
	try {
		parsed = parsePhoneNumberWithError(prepared, defaultCountry);
		// A number written the way a wa_id writes it (Brazil without the 9, Mexico with the 1) is the same person's.
		const kept = `+${keptDigits(digitsOf(parsed.number))}`;
		if (kept !== parsed.number) parsed = parsePhoneNumberWithError(kept);
	} catch {
		throw new ValidationError(
			field,
			`'${raw}' is not a phone number`,
			defaultCountry
				? `Enter it with country code (+49 …) or as a number of ${defaultCountry}`
				: 'Enter it with country code, e.g. +49 151 12345678, or set a default country',
		);
	}
	if (!parsed.isValid()) {
		throw new ValidationError(field, `'${raw}' is not a valid phone number`, 'Check the digits and the country code');
	}
	const type = parsed.getType();
	if (type !== undefined && type !== 'MOBILE' && type !== 'FIXED_LINE_OR_MOBILE') {
		throw new ValidationError(field, `'${raw}' is not a mobile number`, 'WhatsApp needs a mobile number');
	}
	return parsed.number;
}

const CANONICAL_E164 = /^\+[1-9]\d{6,14}$/;

/**
 * A recipient as a user writes it: a business-scoped user id as is, or a number made E.164. Numbers already in
 * E.164 skip the parser: batch gates ask for 100,000 at a time.
 */
export function normalizeRecipient(input: unknown, defaultCountry?: CountryCode, field = 'recipient'): string {
	if (typeof input === 'string' && isBusinessScopedUserId(input)) return input.trim();
	if (typeof input === 'string' && CANONICAL_E164.test(input)) return `+${keptDigits(input.slice(1))}`;
	return toE164(input, defaultCountry, field);
}

/** Digits only, as WhatsApp writes numbers in `to`, `wa_id` and wa.me links. */
export function digitsOf(e164: string): string {
	return e164.replace(/\D/g, '');
}

/**
 * The digits of a number in the form this ledger keeps, whichever form WhatsApp or a person wrote. Most numbers have
 * one form, but three countries have two: Brazil (a wa_id may lack the mobile 9 after the area code; numbers starting 2 to 5 there are landlines), Mexico (a
 * wa_id may carry the old 1 after 52) and Argentina (a wa_id may lack the mobile 9 after 54). The kept form is the
 * one people dial today and libphonenumber validates: with the 9 in Brazil and Argentina, without the 1 in Mexico.
 */
function keptDigits(digits: string): string {
	if (/^55\d{2}[016-9]\d{7}$/.test(digits)) return `${digits.slice(0, 4)}9${digits.slice(4)}`; // Brazil
	if (/^521\d{10}$/.test(digits)) return `52${digits.slice(3)}`; // Mexico
	if (/^54(?!9)\d{10}$/.test(digits)) return `549${digits.slice(2)}`; // Argentina
	return digits;
}

/** The other form of a number of those three countries (the one a wa_id may have), if it has one. */
function otherDigits(kept: string): string | undefined {
	if (/^55\d{2}9[016-9]\d{7}$/.test(kept)) return kept.slice(0, 4) + kept.slice(5);
	if (/^52\d{10}$/.test(kept)) return `521${kept.slice(2)}`;
	if (/^549\d{10}$/.test(kept)) return `54${kept.slice(3)}`;
	return undefined;
}

/** The E.164 number a wa_id belongs to, in the form the ledger keeps: one person, one key, however Meta writes it. */
export function numberOfWaId(waId: string): string {
	return `+${keptDigits(digitsOf(waId))}`;
}

/** Every form of a kept number, kept form first: what finds a person that an older version may have keyed by the other. */
export function numberForms(e164: string): string[] {
	const kept = keptDigits(digitsOf(e164));
	const other = otherDigits(kept);
	return other ? [`+${kept}`, `+${other}`] : [`+${kept}`];
}

/** Does the `wa_id` WhatsApp reports belong to this E.164 number? */
export function waIdMatches(e164: string, waId: string): boolean {
	const number = digitsOf(e164);
	const id = digitsOf(waId);
	if (id === '' || number === '') return false;
	return keptDigits(number) === keptDigits(id);
}
