/**
 * Phone numbers as WhatsApp needs them: E.164, mobile, validated with libphonenumber-js.
 * `max` metadata because only it tells mobile from fixed-line numbers.
 */
import { parsePhoneNumberWithError, isSupportedCountry, type CountryCode } from 'libphonenumber-js/max';
import { ValidationError } from './errors';

export type { CountryCode };

/** A business-scoped user id as Meta sends it since 2026, e.g. `BR.1502576394655843`. */
const BUSINESS_SCOPED_USER_ID = /^[A-Z]{2}\.[0-9A-Za-z]{6,64}$/;

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
	if (typeof input === 'string' && CANONICAL_E164.test(input)) return input;
	return toE164(input, defaultCountry, field);
}

/** Digits only, as WhatsApp writes numbers in `to`, `wa_id` and wa.me links. */
export function digitsOf(e164: string): string {
	return e164.replace(/\D/g, '');
}

/**
 * Does the `wa_id` WhatsApp reports belong to this E.164 number? Mostly both are the same digits, but some
 * countries differ: Brazil (wa_id may lack the mobile 9 after the area code), Mexico (wa_id may carry the old
 * 1 after 52), Argentina (the mobile 9 after 54 may be missing).
 */
export function waIdMatches(e164: string, waId: string): boolean {
	const number = digitsOf(e164);
	const id = digitsOf(waId);
	if (id === '' || number === '') return false;
	if (number === id) return true;
	return canonicalWaDigits(number) === canonicalWaDigits(id);
}

function canonicalWaDigits(digits: string): string {
	if (digits.startsWith('55') && digits.length === 13 && digits[4] === '9') {
		return digits.slice(0, 4) + digits.slice(5); // Brazil: 55 AA 9XXXXXXXX → 55 AA XXXXXXXX
	}
	if (digits.startsWith('521') && digits.length === 13) return '52' + digits.slice(3); // Mexico
	if (digits.startsWith('549') && digits.length === 13) return '54' + digits.slice(3); // Argentina
	return digits;
}
