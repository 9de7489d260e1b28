/**
 * The sandbox's options, their defaults, and the subset that can change while it runs (`PATCH /_sandbox/config`).
 */
import { join } from 'node:path';
import { z } from 'zod';

export interface RedeliveryOptions {
	/** Wait before the first redelivery; each further wait doubles. */
	initialDelayMs: number;
	/** Attempts in total, the first delivery included. */
	maxAttempts: number;
	/** The longest wait between two attempts (none by default): Meta's backoff spreads its attempts over 7 days. */
	maxDelayMs?: number;
}

export interface StatusDelays {
	sent: number;
	delivered: number;
	/** null: the user never reads the message. */
	read: number | null;
}

export interface SandboxOptions {
	/** 0 = any free port (default 0); host is always 127.0.0.1. */
	port?: number;
	/** Default 'sandbox-token'; a wrong or missing bearer token is answered with Meta's error 190 (HTTP 401). */
	accessToken?: string;
	/** Default 'sandbox-secret'; signs webhooks. */
	appSecret?: string;
	/** Default '100000000000001'. */
	phoneNumberId?: string;
	/** The business number as Meta shows it, default '+49 30 1234567'. */
	displayPhoneNumber?: string;
	/** Default 'Sandbox Business'. */
	verifiedName?: string;
	/** Default '200000000000001'. */
	wabaId?: string;
	/** The Meta app the token and the app secret belong to, default '300000000000001'. */
	appId?: string;
	/**
	 * The token's permissions (default both). Without whatsapp_business_management the WABA's `subscribed_apps` edge
	 * answers Meta's permission error 200 (HTTP 403).
	 */
	tokenPermissions?: ('whatsapp_business_management' | 'whatsapp_business_messaging')[];
	/** The WABA webhook fields the app is subscribed to (default messages and user_preferences). */
	appFields?: string[];
	/**
	 * The app's callback URL: where signed webhooks go unless the app set an alternate callback for the WABA
	 * (`POST /{waba-id}/subscribed_apps`); without either they are kept in the delivery log only.
	 */
	webhookUrl?: string;
	/** Default: templates.json next to this file. */
	templatesFile?: string;
	/** Added to every Graph API answer (default 0). */
	latencyMs?: number;
	/** Messages per second of the business number (default 80); over it: 130429, HTTP 429 with Retry-After. */
	throughputPerSecond?: number;
	/** One message per this many seconds to the same recipient (default 6; 0 disables); over it: 131056. */
	pairRateSeconds?: number;
	/** Messages to one recipient that may go out back to back before the pair rate applies (default 1). */
	pairBurst?: number;
	/** Extra copies of every webhook (default 0). */
	duplicateDeliveries?: number;
	/** Shuffle webhooks within a short batch (default false). */
	reorderDeliveries?: boolean;
	/** Redelivery while the receiver answers non-2xx or is unreachable (default 500 ms doubling, 8 attempts). */
	redelivery?: RedeliveryOptions;
	/**
	 * Webhook requests in flight at once; the rest wait in the sandbox, in order (default null: no bound). Meta does
	 * not publish its number. Without a bound, a receiver that falls behind gets thousands of connections at once.
	 */
	webhookConcurrency?: number | null;
	/** Delays of the sent → delivered → read status webhooks after an accepted message. */
	statusDelaysMs?: StatusDelays;
	/** Numbers ending like this are not on WhatsApp: the send fails with 131026 (default ['0000']). */
	undeliverableSuffixes?: string[];
	/** Numbers ending like this accept the send, then report a failed status with 131026 (default ['0001']). */
	failingSuffixes?: string[];
	/** Length of the customer service window (default 24). */
	serviceWindowHours?: number;
	/** How long a timeout fault holds the request before it drops the connection (default 30000). */
	timeoutFaultMs?: number;
	/**
	 * Whether the business accepted the Marketing Messages API terms (default false, as for a new account): until
	 * then `POST /{phone-number-id}/marketing_messages` answers 131055 and a client falls back to `/messages`.
	 */
	marketingMessagesOnboarded?: boolean;
}

export type SandboxConfig = Required<Omit<SandboxOptions, 'webhookUrl'>> & { webhookUrl?: string };

export const DEFAULT_TEMPLATES_FILE = join(__dirname, 'templates.json');

export function resolveOptions(options: SandboxOptions = {}): SandboxConfig {
	return {
		port: options.port ?? 0,
		accessToken: options.accessToken ?? 'sandbox-token',
		appSecret: options.appSecret ?? 'sandbox-secret',
		phoneNumberId: options.phoneNumberId ?? '100000000000001',
		displayPhoneNumber: options.displayPhoneNumber ?? '+49 30 1234567',
		verifiedName: options.verifiedName ?? 'Sandbox Business',
		wabaId: options.wabaId ?? '200000000000001',
		appId: options.appId ?? '300000000000001',
		tokenPermissions: options.tokenPermissions ?? ['whatsapp_business_management', 'whatsapp_business_messaging'],
		appFields: options.appFields ?? ['messages', 'user_preferences'],
		webhookUrl: options.webhookUrl,
		templatesFile: options.templatesFile ?? DEFAULT_TEMPLATES_FILE,
		latencyMs: options.latencyMs ?? 0,
		throughputPerSecond: options.throughputPerSecond ?? 80,
		pairRateSeconds: options.pairRateSeconds ?? 6,
		pairBurst: options.pairBurst ?? 1,
		duplicateDeliveries: options.duplicateDeliveries ?? 0,
		reorderDeliveries: options.reorderDeliveries ?? false,
		redelivery: options.redelivery ?? { initialDelayMs: 500, maxAttempts: 8 },
		webhookConcurrency: options.webhookConcurrency ?? null,
		statusDelaysMs: options.statusDelaysMs ?? { sent: 20, delivered: 120, read: 400 },
		undeliverableSuffixes: options.undeliverableSuffixes ?? ['0000'],
		failingSuffixes: options.failingSuffixes ?? ['0001'],
		serviceWindowHours: options.serviceWindowHours ?? 24,
		timeoutFaultMs: options.timeoutFaultMs ?? 30_000,
		marketingMessagesOnboarded: options.marketingMessagesOnboarded ?? false,
	};
}

/** What `PATCH /_sandbox/config` may change; `webhookUrl: null` stops delivery. */
export const configPatchSchema = z
	.object({
		latencyMs: z.number().int().min(0),
		throughputPerSecond: z.number().int().min(1),
		pairRateSeconds: z.number().min(0),
		pairBurst: z.number().int().min(1),
		webhookUrl: z.string().url().nullable(),
		duplicateDeliveries: z.number().int().min(0).max(10),
		reorderDeliveries: z.boolean(),
		redelivery: z.object({ initialDelayMs: z.number().int().min(0), maxAttempts: z.number().int().min(1), maxDelayMs: z.number().int().min(0).optional() }),
		webhookConcurrency: z.number().int().min(1).nullable(),
		statusDelaysMs: z.object({ sent: z.number().min(0), delivered: z.number().min(0), read: z.number().min(0).nullable() }),
		undeliverableSuffixes: z.array(z.string()),
		failingSuffixes: z.array(z.string()),
		tokenPermissions: z.array(z.enum(['whatsapp_business_management', 'whatsapp_business_messaging'])),
		appFields: z.array(z.string()),
		marketingMessagesOnboarded: z.boolean(),
	})
	.partial()
	.strict();

export type ConfigPatch = z.infer<typeof configPatchSchema>;
