/**
 * Webhook bodies in Meta's byte form, and their signature. Meta escapes every non-ASCII code point as `\uXXXX`
 * (characters outside the BMP as two surrogate escapes) and forward slashes as `\/`; the signature covers exactly
 * these bytes, so a receiver that re-serialises the parsed JSON computes a different HMAC.
 */
import { createHmac } from 'node:crypto';

export function serializeLikeMeta(value: unknown): string {
	return JSON.stringify(value)
		.replace(/\//g, '\\/')
		.replace(/[\u0080-\uffff]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The `X-Hub-Signature-256` header value for a body. */
export function signatureOf(body: string, appSecret: string): string {
	return `sha256=${createHmac('sha256', appSecret).update(body, 'utf8').digest('hex')}`;
}
