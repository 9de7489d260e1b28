/**
 * Typed errors of the core. Every error names what went wrong and how to fix it, so a node can show it to a
 * no-code user as is. `field` names the input at fault where there is one.
 */
export class ConsentError extends Error {
	readonly code: string;
	readonly field?: string;
	readonly hint?: string;

	constructor(code: string, message: string, options: { field?: string; hint?: string; cause?: unknown } = {}) {
		super(message, options.cause === undefined ? undefined : { cause: options.cause });
		this.name = new.target.name;
		this.code = code;
		this.field = options.field;
		this.hint = options.hint;
	}
}

/** The caller gave something the core cannot accept; nothing was written. */
export class ValidationError extends ConsentError {
	constructor(field: string, message: string, hint?: string) {
		super('invalid_input', message, { field, hint });
	}
}

/** The store is not reachable or not usable; the operation did not happen. */
export class StoreError extends ConsentError {
	constructor(message: string, hint?: string, cause?: unknown) {
		super('store_unavailable', message, { hint, cause });
	}
}

/** The secret key does not fit this ledger, or is one that must not be used here; nothing was read or written. */
export class SecretKeyError extends ConsentError {
	constructor(code: 'wrong_secret' | 'demo_secret' | 'weak_secret', message: string, hint: string) {
		super(code, message, { field: 'secretKey', hint });
	}
}

/** What the ledger holds does not verify: a stored value or the audit chain was changed outside the ledger. */
export class TamperingError extends ConsentError {
	constructor(message: string, hint: string) {
		super('tampered', message, { hint });
	}
}
