import { NodeApiError, NodeOperationError, type IExecuteFunctions, type INodeExecutionData, type JsonObject } from 'n8n-workflow';
import { isReply, type Category } from '../../../lib/consent/types';
import { ValidationError } from '../../../lib/errors';
import { normalizeRecipient } from '../../../lib/phone';
import { redactPersonalData } from '../../../lib/redact';
import { objectionNotice, type ReplyLanguage } from '../../../lib/replies';
import { dryRun, idempotencyKey, sendsInFlight, sendWithConsent, type DryRunOutcome, type ObjectionNotice, type SendOutcome } from '../../../lib/sending';
import { mapWithConcurrency, OutcomeUnknownError, Semaphore, WhatsAppApiError, WhatsAppError, type OutgoingMessage } from '../../../lib/whatsapp';
import { costOf, type RateCard } from '../../../lib/pricing';
import { toNodeError } from '../../shared/errors';
import { ledgerFor } from '../../shared/ledger';
import { rateCardOf } from '../../shared/pricing';
import { clientFor, templatesFor } from '../transport/client';
import { findTemplate, type TemplateDirectory, type TemplateUpdate } from '../../../lib/templates';
import { checkTemplateContent, type TemplateInfo } from '../../../lib/whatsapp/templates';
import * as message from './message/Message.resource';
import { parameterReader, type ParameterReader } from '../../shared/parameters';
import type { BuildContext } from './buildContext';

type Build = (read: ParameterReader, index: number, context: BuildContext) => OutgoingMessage | Promise<OutgoingMessage>;

const builders: Record<string, Build> = {
	requestContactInfo: message.requestContactInfo.build,
	sendButtons: message.sendButtons.build,
	sendCtaUrl: message.sendCtaUrl.build,
	sendList: message.sendList.build,
	sendLocationRequest: message.sendLocationRequest.build,
	sendMedia: message.sendMedia.build,
	sendReaction: message.sendReaction.build,
	sendTemplate: message.sendTemplate.build,
	sendText: message.sendText.build,
};

interface Options {
	campaignKey?: string;
	dryRun?: boolean;
	marketingMessages?: boolean;
	messagesPerSecond?: number;
	pairRateSeconds?: number;
	parallelRequests?: number;
	redactOutput?: boolean;
}

/** The Objection Notice options of an item: undefined when off. */
function noticeOf(read: ParameterReader, index: number): ObjectionNotice | undefined {
	const mode = read('options.objectionNotice', index, 'off') as 'off' | ObjectionNotice['mode'];
	if (mode === 'off') return undefined;
	const own = String(read('options.objectionNoticeText', index, '') ?? '').trim();
	return { mode, text: own || objectionNotice(read('options.objectionNoticeLanguage', index, 'en') as ReplyLanguage) };
}

/**
 * Why a key is not sent again. A key left `reserved` or `unknown` may never have reached anybody (a run stopped, or
 * the ledger's database went away, before WhatsApp's answer was recorded): the operator has to look, not assume.
 */
function alreadySentMessage(previous: string): string {
	const again = 'set a new Campaign Key to send it again';
	if (previous === 'unknown') return `Tried before under the same key without a usable answer from WhatsApp: it may or may not have been sent, so it is not sent again. Check the chat; if it did not arrive, ${again}`;
	if (previous === 'reserved') {
		return `Reserved under the same key by a run that is still sending it, or that stopped before it recorded WhatsApp's answer (e.g. the ledger's database went away): it may or may not have been sent, so it is not sent again. Check the chat; if it did not arrive, ${again}`;
	}
	return `Sent before under the same key (${previous}); ${again}`;
}

function outcomeJson(outcome: SendOutcome, recipient: string, card: RateCard | undefined): JsonObject {
	switch (outcome.status) {
		case 'sent': {
			// Meta's statuses say the final pricing (status.updated events, the campaign report); this is the estimate.
			const cost = card && costOf(outcome.pricing, card);
			const pricing = { ...outcome.pricing, estimate: true, ...(card && cost !== undefined ? { cost, currency: card.currency } : {}) };
			return {
				status: 'sent',
				recipient,
				wamid: outcome.wamid,
				waId: outcome.waId ?? null,
				attempts: outcome.attempts,
				endpoint: outcome.endpoint,
				key: outcome.key,
				pricing,
				...(outcome.objectionNotice ? { objectionNotice: true } : {}),
			};
		}
		case 'refused':
			return { status: 'not_sent', recipient, reason: outcome.reason, message: outcome.message, key: outcome.key };
		case 'already_sent':
			return {
				status: 'not_sent',
				recipient,
				reason: 'already_sent',
				message: alreadySentMessage(outcome.previous.status),
				wamid: outcome.previous.wamid,
				key: outcome.key,
			};
		case 'failed': {
			const error = outcome.error;
			if (error instanceof OutcomeUnknownError) {
				// Meta may have taken it: not sent again under this key; the reason says why nobody can tell.
				return { status: 'unknown', recipient, reason: error.reason, code: error.metaCode ?? null, httpStatus: error.httpStatus ?? null, message: error.message, fix: error.hint ?? null, key: outcome.key };
			}
			const api = error instanceof WhatsAppApiError ? error : undefined;
			return {
				status: 'failed',
				recipient,
				reason: error.code,
				code: api?.metaCode ?? null,
				message: error.message,
				// Meta's own words on this message (error_data.details), and whether and when it may be sent again.
				details: api?.details ?? null,
				retry: error instanceof WhatsAppError ? error.retry : null,
				fix: error.hint ?? null,
				key: outcome.key,
			};
		}
	}
}

/** A dry run's item: on Sent what Meta would have got, on Not Sent why not; `dryRun: true` on both. */
function dryRunJson(outcome: DryRunOutcome, recipient: string): JsonObject {
	switch (outcome.status) {
		case 'would_send':
			return {
				status: 'would_send',
				dryRun: true,
				recipient,
				request: outcome.request as unknown as JsonObject,
				pricing: { ...outcome.pricing, estimate: true },
				key: outcome.key,
				...(outcome.objectionNotice ? { objectionNotice: true } : {}),
			};
		case 'needs_objection_notice':
			return { status: 'not_sent', dryRun: true, recipient, reason: 'objection_notice', message: outcome.error.message, fix: outcome.error.hint ?? null, key: outcome.key };
		case 'refused':
			return { status: 'not_sent', dryRun: true, recipient, reason: outcome.reason, message: outcome.message, key: outcome.key };
		case 'already_sent':
			return { status: 'not_sent', dryRun: true, recipient, reason: 'already_sent', message: 'Sent before under the same key; set a new Campaign Key to send it again', key: outcome.key };
	}
}

/**
 * The templates of the credential's business account for one run: each template looked up once, with what Meta's
 * webhooks said about them since the list was fetched (read from the ledger once).
 */
function templateContext(version: number, directory: TemplateDirectory | undefined, readUpdates: (wabaId: string) => Promise<TemplateUpdate[]>): Omit<BuildContext, 'binary'> {
	const found = new Map<string, Promise<TemplateInfo>>();
	let updates: Promise<TemplateUpdate[]> | undefined;
	return {
		version,
		template(name, language) {
			if (!directory) {
				throw new ValidationError(
					'businessAccountId',
					'The WhatsApp credential has no Business Account ID',
					"Enter the WhatsApp Business Account ID in the credential: Send WhatsApp reads the templates, their variables and the category Meta approved from it",
				);
			}
			const key = `${name}|${language ?? ''}`;
			let template = found.get(key);
			if (!template) found.set(key, (template = findTemplate(directory, () => (updates ??= readUpdates(directory.wabaId)), name, language)));
			return template;
		},
	};
}

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const operation = this.getNodeParameter('operation', 0) as string;
	if (operation === 'markAsRead') return message.markAsRead.execute.call(this);
	const build = builders[operation];
	if (!build) throw new NodeOperationError(this.getNode(), `The operation "${operation}" is not supported`);
	const options = this.getNodeParameter('options', 0, {}) as Options;
	const ledger = await ledgerFor(await this.getCredentials('consentLedgerApi'));
	const whatsAppCredentials = await this.getCredentials('whatsAppCloudApi');
	const card = rateCardOf(whatsAppCredentials);
	const pace = { messagesPerSecond: options.messagesPerSecond ?? 80, pairRateSeconds: options.pairRateSeconds ?? 6 };
	const workflowId = String(this.getWorkflow().id ?? 'workflow');
	const node = this.getNode().name;
	const signal = this.getExecutionCancelSignal();
	const read = parameterReader(this);
	const directory = templatesFor(whatsAppCredentials);
	const context: BuildContext = {
		...templateContext(this.getNode().typeVersion, directory, (wabaId) => ledger.templateUpdates(wabaId)),
		binary: async (index, property) => {
			const binary = this.helpers.assertBinaryData(index, property);
			return { data: await this.helpers.getBinaryDataBuffer(index, property), mimeType: binary.mimeType, fileName: binary.fileName };
		},
	};

	const sent: INodeExecutionData[] = [];
	const notSent: INodeExecutionData[] = [];
	const parallelRequests = options.parallelRequests ?? 100;
	// Parallel Requests bounds the requests waiting for Meta; more items may be in the ledger meanwhile (reserved,
	// checked, recorded in slices), but never more than half a second of the pace ahead (see sendsInFlight).
	const requests = new Semaphore(parallelRequests);
	const results = await mapWithConcurrency(
		items,
		sendsInFlight(parallelRequests, pace.messagesPerSecond),
		async (_item, index): Promise<{ json: JsonObject; ok: boolean } | Error> => {
			let recipient = '';
			try {
				const category = read('category', index) as Category;
				const purpose = isReply(category) ? '' : (read('purpose', index) as string);
				const raw = read('recipient', index);
				try {
					recipient = normalizeRecipient(raw, ledger.defaultCountry);
				} catch (error) {
					if (!(error instanceof ValidationError)) throw toNodeError(this.getNode(), error, index);
					return { json: { status: 'not_sent', recipient: String(raw ?? ''), reason: 'invalid_recipient', message: `${error.message}. ${error.hint ?? ''}`.trim() }, ok: false };
				}
				const outgoing = await build(read, index, context);
				// With the credential's business account the gate asks about the template as Meta approved it.
				let template: TemplateInfo | undefined;
				if (outgoing.type === 'template' && directory) {
					template = await context.template(outgoing.name, outgoing.language);
					checkTemplateContent(template, outgoing);
				}
				const client = clientFor(whatsAppCredentials, pace, String(read('options.phoneNumberId', index, '') ?? ''));
				const campaign = (read('options.campaignKey', index, '') as string) || '';
				const key = idempotencyKey({ workflowId, node, recipient, campaign, message: outgoing });
				if (options.dryRun) {
					const checked = await dryRun(ledger, { key, recipient, purpose, category, message: outgoing, campaign: campaign || undefined, template, objectionNotice: noticeOf(read, index) });
					return { json: dryRunJson(checked, recipient), ok: checked.status === 'would_send' };
				}
				const outcome = await sendWithConsent(
					ledger,
					client,
					{
						key,
						recipient,
						purpose,
						category,
						message: outgoing,
						campaign: campaign || undefined,
						objectionNotice: noticeOf(read, index),
						template,
						marketingMessages: options.marketingMessages === true,
					},
					signal,
					requests,
				);
				if (outcome.status === 'failed' && !this.continueOnFail()) {
					const error = outcome.error;
					return error instanceof WhatsAppApiError
						? new NodeApiError(this.getNode(), { code: error.metaCode, message: error.message } as JsonObject, {
								message: error.message,
								description: error.hint,
								httpCode: String(error.httpStatus),
								itemIndex: index,
							})
						: toNodeError(this.getNode(), error, index);
				}
				return { json: outcomeJson(outcome, recipient, card), ok: outcome.status === 'sent' };
			} catch (error) {
				if (this.continueOnFail()) return { json: { status: 'failed', recipient, message: (error as Error).message }, ok: false };
				return toNodeError(this.getNode(), error, index);
			}
		},
		signal,
	);
	const redact = options.redactOutput === true;
	results.forEach((result, index) => {
		if (result instanceof Error) throw result;
		const json = { ...items[index].json, whatsapp: result.json };
		(result.ok ? sent : notSent).push({ json: redact ? redactPersonalData(json) : json, pairedItem: { item: index } });
	});
	return [sent, notSent];
}
