/** The visitor's side of the trigger: the widget page and script, and sign-ups from them. */
import type { IDataObject, IWebhookFunctions, IWebhookResponseData } from 'n8n-workflow';
import {
	ADDRESS_HEADERS,
	corsHeaders,
	handleSignup,
	parseSubmission,
	pickLanguage,
	publicSubmitUrl,
	renderHostedPage,
	renderResultPage,
	signupErrorAnswer,
	SignupRateLimiter,
	widgetScript,
	type WidgetConfig,
} from '../../lib/widget';
import { redactPersonalData } from '../../lib/redact';
import { ledgerFor } from '../shared/ledger';
import { triggerOptions, widgetConfigOf } from './widgetConfig';

/** One limiter per trigger node, for the life of the process: the first line against floods. */
const limiters = new Map<string, SignupRateLimiter>();

function limiterFor(nodeId: string): SignupRateLimiter {
	let limiter = limiters.get(nodeId);
	if (!limiter) limiters.set(nodeId, (limiter = new SignupRateLimiter()));
	return limiter;
}

function languageOf(context: IWebhookFunctions, config: WidgetConfig) {
	const request = context.getRequestObject();
	const asked = (request.query as IDataObject).lang;
	return pickLanguage(typeof asked === 'string' ? asked : request.headers['accept-language'], config);
}

/** Where sign-ups go: see publicSubmitUrl for why a request's Host headers are not simply believed. */
function submitUrlOf(context: IWebhookFunctions, config: WidgetConfig): string {
	const request = context.getRequestObject();
	const header = (name: string) => {
		const value = request.headers[name];
		return Array.isArray(value) ? value[0] : value;
	};
	return publicSubmitUrl({
		n8nUrl: context.getNodeWebhookUrl('default')!,
		config,
		host: header('host'),
		forwardedHost: header('x-forwarded-host'),
		forwardedProto: header('x-forwarded-proto'),
		protocol: request.protocol,
		path: request.path,
	});
}

export async function serveWidget(this: IWebhookFunctions): Promise<IWebhookResponseData> {
	const request = this.getRequestObject();
	const response = this.getResponseObject();
	const config = widgetConfigOf(this);
	const url = submitUrlOf(this, config);
	response.vary(ADDRESS_HEADERS);
	if ((request.query as IDataObject).asset === 'widget.js') {
		response.status(200).type('application/javascript').set('Cache-Control', 'public, max-age=300').send(widgetScript(config, { submitUrl: url }));
	} else {
		const lang = languageOf(this, config);
		response.status(200).type('text/html').send(renderHostedPage(config, { lang, submitUrl: url, scriptUrl: `${url}?asset=widget.js` }));
	}
	return { noWebhookResponse: true };
}

export async function receiveSignup(this: IWebhookFunctions): Promise<IWebhookResponseData> {
	const request = this.getRequestObject();
	const response = this.getResponseObject();
	const config = widgetConfigOf(this);
	const origin = request.headers.origin;
	const cors = corsHeaders(config, origin);
	const asJson = (request.headers['content-type'] ?? '').includes('application/json');
	const lang = languageOf(this, config);
	const url = submitUrlOf(this, config);
	// A post from a site that is not allowed to embed the widget is refused, whatever the browser was told.
	if (origin && Object.keys(cors).length === 0 && new URL(url).origin !== origin) {
		response.status(403).json({ status: 'error', message: `Sign-ups from ${origin} are not allowed: add it to the trigger's Allowed Websites` });
		return { noWebhookResponse: true };
	}
	response.set(cors);
	response.vary(ADDRESS_HEADERS);
	const ipMode = triggerOptions(this).ipMode ?? 'off';
	try {
		const ledger = await ledgerFor(await this.getCredentials('consentLedgerApi'));
		await ledger.definePurposes(config.purposes);
		const submission = parseSubmission(request.body, asJson ? 'json' : 'form', config);
		let requested: IDataObject | undefined;
		const result = await handleSignup(
			{
				requestOptIn: async (optIn) => {
					const done = await ledger.requestOptIn({ ...optIn, source: { ...optIn.source, ipMode } });
					requested = { requestId: done.requestId, subjectId: done.subjectId, phone: done.phone, purposes: done.purposes, expiresAt: done.expiresAt.toISOString() };
					return done;
				},
				rateLimiter: limiterFor(this.getNode().id),
			},
			config,
			submission,
			{ ip: request.ip, userAgent: request.headers['user-agent'], pageUrl: submission.pageUrl ?? request.headers.referer },
		);
		if (asJson) response.status(200).json(result);
		else response.status(200).type('text/html').send(renderResultPage(config, { lang: submission.language, result }));
		const wanted = (this.getNodeParameter('events', []) as string[]).includes('optin.requested');
		if (!requested || !wanted) return { noWebhookResponse: true };
		const json: IDataObject = { event: 'optin.requested', at: new Date().toISOString(), language: submission.language, ...requested };
		return { noWebhookResponse: true, workflowData: [[{ json: triggerOptions(this).redactOutput === true ? redactPersonalData(json) : json }]] };
	} catch (error) {
		const answer = signupErrorAnswer(error, lang);
		if (answer.retryAfterSeconds !== undefined) response.set('Retry-After', String(answer.retryAfterSeconds));
		if (answer.httpStatus >= 500) this.logger.error(`Sign-up not recorded: ${(error as Error).message}`);
		if (asJson) {
			response.status(answer.httpStatus).json(answer.body);
		} else {
			// The form comes back with what the visitor entered and the error next to its field: nothing is lost.
			const body = (request.body ?? {}) as IDataObject;
			const values = {
				phone: typeof body.phone === 'string' ? body.phone : undefined,
				purposes: ([] as unknown[]).concat(body.purposes ?? []).map(String),
				ageConfirmed: Boolean(body.ageConfirmed),
			};
			const error = { field: answer.body.field, message: answer.body.message };
			response.status(answer.httpStatus).type('text/html').send(renderHostedPage(config, { lang, submitUrl: url, scriptUrl: `${url}?asset=widget.js`, error, values }));
		}
		return { noWebhookResponse: true };
	}
}
