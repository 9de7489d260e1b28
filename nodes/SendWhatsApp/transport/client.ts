/**
 * The only place the node talks HTTP. One client per business number and settings per process, so every
 * execution sending from that number shares one throughput and pair-rate budget, as Meta counts it.
 */
import type { ICredentialDataDecryptedObject } from 'n8n-workflow';
import { createHash } from 'node:crypto';
import { DEFAULT_GRAPH_VERSION, WhatsAppClient } from '../../../lib/whatsapp';
import { templateDirectoryFor, type TemplateDirectory } from '../../../lib/templates';

export interface Pace {
	messagesPerSecond: number;
	pairRateSeconds: number;
}

const clients = new Map<string, WhatsAppClient>();

/** `phoneNumberId`: another business number of the same account than the credential's (the Send From option). */
export function clientFor(credentials: ICredentialDataDecryptedObject, pace: Pace, phoneNumberId?: string): WhatsAppClient {
	const settings = {
		accessToken: String(credentials.accessToken ?? ''),
		phoneNumberId: (phoneNumberId || String(credentials.phoneNumberId ?? '')).trim(),
		baseUrl: String(credentials.baseUrl || 'https://graph.facebook.com'),
		graphVersion: String(credentials.graphApiVersion || DEFAULT_GRAPH_VERSION),
		...pace,
	};
	const key = createHash('sha256').update(JSON.stringify(settings)).digest('hex');
	let client = clients.get(key);
	if (!client) clients.set(key, (client = new WhatsAppClient(settings)));
	return client;
}

/** The credential's business account templates, or undefined when the credential names no Business Account ID. */
export function templatesFor(credentials: ICredentialDataDecryptedObject): TemplateDirectory | undefined {
	const wabaId = String(credentials.businessAccountId ?? '').trim();
	if (wabaId === '') return undefined;
	// Listing templates takes no throughput slot: the client's pace is only that of its sends.
	const client = clientFor(credentials, { messagesPerSecond: 80, pairRateSeconds: 6 });
	const key = createHash('sha256').update(JSON.stringify([client.baseUrl, client.graphVersion, String(credentials.accessToken ?? ''), wabaId])).digest('hex');
	return templateDirectoryFor(key, client, wabaId);
}
