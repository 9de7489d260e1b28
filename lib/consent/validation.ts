/** Input checks for the ledger's operations: zod schemas whose first issue becomes a ValidationError naming the field. */
import { z } from 'zod';
import { ValidationError } from '../errors';

export const PURPOSE_ID = z
	.string({ invalid_type_error: 'must be text' })
	.regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be lower-case letters, digits, - or _ (at most 64), e.g. "offers"');

export const MAX_CONSENT_TEXT = 10_000;

export const consentTextSchema = z.object({
	version: z.string({ required_error: 'is required', invalid_type_error: 'must be text' }).trim().min(1, 'is empty').max(64, 'is longer than 64 characters'),
	language: z
		.string({ required_error: 'is required', invalid_type_error: 'must be text' })
		.regex(/^[a-z]{2}(-[A-Z]{2})?$/, 'must be a language code such as "de" or "en"'),
	text: z
		.string({ required_error: 'is required', invalid_type_error: 'must be text' })
		.min(1, 'is empty')
		.max(MAX_CONSENT_TEXT, `is longer than ${MAX_CONSENT_TEXT} characters`)
		.refine((text) => text.trim().length > 0, 'is empty'),
});

const optionalText = (max: number) => z.string({ invalid_type_error: 'must be text' }).max(max, `is longer than ${max} characters`).optional();

export const optInRequestSchema = z.object({
	phone: z.unknown(),
	purposes: z.array(PURPOSE_ID, { required_error: 'is required', invalid_type_error: 'must be a list of purpose ids' }).min(1, 'needs at least one purpose'),
	consentText: consentTextSchema,
	source: z
		.object({
			pageUrl: z.string({ invalid_type_error: 'must be text' }).url('must be a full URL').max(2048).optional(),
			widgetVersion: optionalText(64),
			ip: optionalText(64),
			ipMode: z.enum(['off', 'truncated', 'hashed']).optional(),
			userAgent: optionalText(512),
		})
		.default({}),
	at: z.date({ invalid_type_error: 'must be a date' }).optional(),
});

export const purposeSchema = z.object({
	id: PURPOSE_ID,
	label: z.string({ required_error: 'is required' }).trim().min(1, 'is empty').max(200),
	description: optionalText(1000),
	minTextVersion: optionalText(64),
});

/** Parses with a schema; the first problem becomes a ValidationError naming the field, as `consentText.version`. */
export function parse<T extends z.ZodTypeAny>(schema: T, input: unknown, prefix = ''): z.output<T> {
	const result = schema.safeParse(input);
	if (result.success) return result.data;
	const issue = result.error.issues[0];
	const field = [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || 'input';
	throw new ValidationError(field, `${field} ${issue.message}`);
}

/** An earlier verification's checkpoint, as the Verify operation printed it (its time is not checked). */
export const checkpointSchema = z.object({
	seq: z.number({ required_error: 'is required', invalid_type_error: 'must be a number' }).int('must be a whole number').positive('must be above 0'),
	hash: z.string({ required_error: 'is required', invalid_type_error: 'must be text' }).regex(/^[0-9a-f]{64}$/, 'must be 64 hex characters, as Verify printed it'),
});
