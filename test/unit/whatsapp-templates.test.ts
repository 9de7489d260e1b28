/**
 * Templates of the business account (issue 13): the variables each one has, the message built from one value per
 * variable and checked against the template, the gate's category for a template, and Meta's template webhooks.
 */
import fc from 'fast-check';
import { templateQuestion } from '../../lib/consent/gate';
import { CATEGORIES, isReply } from '../../lib/consent/types';
import { ValidationError } from '../../lib/errors';
import { currentTemplate, findTemplate, TemplateDirectory, type TemplateSource } from '../../lib/templates';
import { buildMessage } from '../../lib/whatsapp/messages';
import { checkTemplateContent, parseTemplate, parseTemplatePage, templateContentOf, templateVariables, type TemplateInfo } from '../../lib/whatsapp/templates';
import { parseWebhook } from '../../lib/whatsapp/webhook';

const SPRING_SALE = parseTemplate({
	id: '1',
	name: 'spring_sale',
	language: 'de',
	status: 'APPROVED',
	category: 'MARKETING',
	parameter_format: 'POSITIONAL',
	components: [
		{ type: 'HEADER', format: 'IMAGE' },
		{ type: 'BODY', text: 'Hallo {{1}}, nur bis {{2}}: 20 % auf alles.' },
		{ type: 'BUTTONS', buttons: [{ type: 'COPY_CODE', example: 'SPRING20' }, { type: 'URL', text: 'Zum Shop', url: 'https://shop.example/sale/{{1}}' }, { type: 'QUICK_REPLY', text: 'Stop promotions' }] },
	],
})!;

const DELIVERY_SLOT = parseTemplate({
	name: 'delivery_slot',
	language: 'en',
	status: 'APPROVED',
	category: 'UTILITY',
	parameter_format: 'NAMED',
	components: [
		{ type: 'HEADER', format: 'TEXT', text: 'Order {{order_id}}' },
		{ type: 'BODY', text: 'Hi {{first_name}}, your delivery comes on {{day}}.' },
		{ type: 'BUTTONS', buttons: [{ type: 'URL', text: 'Change slot', url: 'https://shop.example/slots/{{1}}' }, { type: 'QUICK_REPLY', text: 'Call me' }] },
	],
})!;

const WELCOME = parseTemplate({ name: 'welcome', language: 'de', status: 'APPROVED', category: 'UTILITY', components: [{ type: 'BODY', text: 'Hallo {{1}}, {{2}}!' }] })!;

describe('template variables', () => {
	test('a positional template: a media header, numbered body fields, and the buttons that take a value', () => {
		expect(templateVariables(SPRING_SALE).map((variable) => [variable.id, variable.displayName, variable.required])).toEqual([
			['header_image', 'Header Image (Link or Media ID)', true],
			['body_1', 'Body {{1}}', true],
			['body_2', 'Body {{2}}', true],
			['button_0_copy_code', 'Button 1: Code to Copy', true],
			['button_1_url', 'Button 2 "Zum Shop": URL Suffix', true],
			['button_2_payload', 'Button 3 "Stop promotions": Payload', false],
		]);
	});

	test('a named template: fields named after its variables, in header and body', () => {
		expect(templateVariables(DELIVERY_SLOT).map((variable) => variable.id)).toEqual(['header_order_id', 'body_first_name', 'body_day', 'button_0_url', 'button_1_payload']);
	});

	test('the fields become the message Meta expects: named parameters, a media header, a coupon code', () => {
		const content = templateContentOf(SPRING_SALE, { header_image: 'https://shop.example/spring.jpg', body_1: 'Anna', body_2: 'Sonntag', button_0_copy_code: 'SPRING20', button_1_url: 'anna' });
		expect(buildMessage('+4915112345678', { type: 'template', ...content })).toMatchObject({
			template: {
				name: 'spring_sale',
				language: { code: 'de' },
				components: [
					{ type: 'header', parameters: [{ type: 'image', image: { link: 'https://shop.example/spring.jpg' } }] },
					{ type: 'body', parameters: [{ type: 'text', text: 'Anna' }, { type: 'text', text: 'Sonntag' }] },
					{ type: 'button', sub_type: 'copy_code', index: '0', parameters: [{ type: 'coupon_code', coupon_code: 'SPRING20' }] },
					{ type: 'button', sub_type: 'url', index: '1', parameters: [{ type: 'text', text: 'anna' }] },
				],
			},
		});
		const named = templateContentOf(DELIVERY_SLOT, { header_order_id: 'A-1', body_first_name: 'Anna', body_day: 'Friday', button_0_url: 'A-1', button_1_payload: 'CALL' });
		expect(named).toMatchObject({ header: { order_id: 'A-1' }, body: { first_name: 'Anna', day: 'Friday' }, buttons: [{ subType: 'url', index: 0 }, { subType: 'quick_reply', index: 1, parameter: 'CALL' }] });
	});

	test("a REQUEST_CONTACT_INFO button (Meta's fixed \"Share contact info\", utility and marketing templates) takes no field and sends no component", () => {
		const shareNumber = parseTemplate({
			name: 'share_number',
			language: 'de',
			status: 'APPROVED',
			category: 'UTILITY',
			parameter_format: 'NAMED',
			components: [
				{ type: 'BODY', text: 'Hallo {{first_name}}, teilen Sie uns Ihre Nummer für die Anmeldung?', example: { body_text_named_params: [{ param_name: 'first_name', example: 'Anna' }] } },
				{ type: 'BUTTONS', buttons: [{ type: 'REQUEST_CONTACT_INFO', text: 'Share contact info' }] },
			],
		})!;
		expect(templateVariables(shareNumber).map((variable) => variable.id)).toEqual(['body_first_name']);
		const content = templateContentOf(shareNumber, { body_first_name: 'Anna' });
		expect(() => checkTemplateContent(shareNumber, content)).not.toThrow();
		expect((buildMessage('BR.1502576394655843', { type: 'template', ...content }) as { template: { components: unknown[] } }).template.components).toEqual([{ type: 'body', parameters: [{ type: 'text', parameter_name: 'first_name', text: 'Anna' }] }]);
	});

	test('a field left empty is named, with the template', () => {
		expect(() => templateContentOf(DELIVERY_SLOT, { header_order_id: 'A-1', body_first_name: 'Anna', button_0_url: 'x' })).toThrow(
			"Template 'delivery_slot' (en) needs Body {{day}}, left empty",
		);
	});
});

describe('checkTemplateContent', () => {
	test('says what the template expects', () => {
		expect(() => checkTemplateContent(WELCOME, { name: 'welcome', language: 'de', body: ['Anna'] })).toThrow("Template 'welcome' expects 2 body parameters, got 1");
		expect(() => checkTemplateContent(DELIVERY_SLOT, { name: 'delivery_slot', language: 'en', header: { order_id: '1' }, body: { first_name: 'A', weekday: 'B' }, buttons: [{ subType: 'url', index: 0, parameter: 'x' }] })).toThrow(
			"Template 'delivery_slot' has no body parameter 'weekday'",
		);
		expect(() => checkTemplateContent(SPRING_SALE, { name: 'spring_sale', language: 'de', body: ['A', 'B'], buttons: [{ subType: 'copy_code', index: 0, parameter: 'X' }, { subType: 'url', index: 1, parameter: 'a' }] })).toThrow(
			"Template 'spring_sale' has an image header",
		);
		expect(() => checkTemplateContent(DELIVERY_SLOT, { name: 'delivery_slot', language: 'en', header: { order_id: '1' }, body: { first_name: 'A', day: 'B' } })).toThrow(
			/expects a value for Button 1 "Change slot": URL Suffix/,
		);
	});

	test('any template filled field by field passes its own check, with one parameter per placeholder', () => {
		const placeholder = fc.oneof(fc.integer({ min: 1, max: 9 }).map(String), fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/));
		fc.assert(
			fc.property(
				fc.uniqueArray(placeholder, { maxLength: 5 }),
				fc.uniqueArray(placeholder, { maxLength: 2 }),
				fc.array(fc.constantFrom('QUICK_REPLY', 'URL', 'COPY_CODE', 'PHONE_NUMBER'), { maxLength: 4 }),
				fc.boolean(),
				(body, header, buttons, named) => {
					const info: TemplateInfo = {
						name: 't',
						language: 'de',
						status: 'APPROVED',
						category: 'UTILITY',
						parameterFormat: named ? 'NAMED' : 'POSITIONAL',
						header: { format: 'TEXT', text: header.map((p) => `{{${p}}}`).join(' ') },
						body: body.map((p) => `x {{${p}}}`).join(' '),
						buttons: buttons.map((type) => ({ type, text: type, url: type === 'URL' ? 'https://a.example/{{1}}' : undefined })),
					};
					const values = Object.fromEntries(templateVariables(info).map((variable, index) => [variable.id, `v${index}`]));
					const content = templateContentOf(info, values);
					checkTemplateContent(info, content);
					const request = buildMessage('+4915112345678', { type: 'template', ...content });
					const components = request.type === 'template' ? (request.template.components ?? []) : [];
					const count = (type: string) => components.filter((c) => c.type === type).reduce((sum, c) => sum + c.parameters.length, 0);
					expect(count('body')).toBe(body.length);
					expect(count('header')).toBe(header.length);
					expect(count('button')).toBe(buttons.filter((type) => type !== 'PHONE_NUMBER').length);
				},
			),
		);
	});
});

describe('the gate and a template', () => {
	const template = (category: string, status = 'APPROVED') => ({ name: 'x', language: 'de', category, status });

	test('a MARKETING template is asked about as marketing whatever the workflow calls it, and is never a reply', () => {
		fc.assert(
			fc.property(fc.constantFrom(...CATEGORIES), fc.constantFrom('MARKETING', 'UTILITY', 'AUTHENTICATION'), (requested, approved) => {
				const question = templateQuestion(template(approved), requested);
				if (approved !== 'MARKETING') expect(question).toEqual({ category: requested });
				else if (isReply(requested)) expect(question).toMatchObject({ refused: { reason: 'marketing_template_as_reply' } });
				else expect(question).toEqual({ category: 'marketing' });
			}),
		);
	});

	test('a paused or disabled template is refused with the reason and what to do', () => {
		expect(templateQuestion({ ...template('UTILITY', 'PAUSED'), reason: 'LOW_QUALITY' }, 'utility')).toMatchObject({
			refused: { reason: 'template_not_approved', message: expect.stringMatching(/^Template 'x' \(de\) is paused \(LOW_QUALITY\): Meta paused it/) },
		});
		expect(templateQuestion(template('UTILITY', 'DISABLED'), 'utility')).toMatchObject({ refused: { message: expect.stringContaining('create a new template') } });
	});
});

describe('the template directory', () => {
	const page = (names: string[], after?: string) => parseTemplatePage({
		data: names.map((name) => ({ name, language: 'de', status: 'APPROVED', category: 'UTILITY', components: [] })),
		paging: { cursors: { after: after ?? 'end' }, ...(after ? { next: `https://graph.example/?after=${after}` } : {}) },
	});

	test('follows Meta\'s cursors to the last page, and asks again only after the TTL', async () => {
		const asked: (string | undefined)[] = [];
		const source: TemplateSource = {
			listTemplates: async (_waba, { after }) => {
				asked.push(after);
				return after === undefined ? page(['a', 'b'], 'c1') : page(['c']);
			},
		};
		let now = 0;
		const directory = new TemplateDirectory(source, '200000000000001', () => new Date(now), 1000);
		expect((await directory.all()).templates.map((t) => t.name)).toEqual(['a', 'b', 'c']);
		await directory.all();
		expect(asked).toEqual([undefined, 'c1']);
		now = 1000;
		await directory.all();
		expect(asked).toHaveLength(4);
	});

	test('names what the account has when a template is not there, and wants the language where there are several', async () => {
		const directory = new TemplateDirectory({ listTemplates: async () => page(['welcome', 'newsletter']) }, '1');
		await expect(findTemplate(directory, async () => [], 'welcom', undefined)).rejects.toThrow(new ValidationError('templateName', "The business account has no template 'welcom'"));
		await expect(findTemplate(directory, async () => [], 'welcome', undefined)).resolves.toMatchObject({ name: 'welcome', language: 'de' });
		await expect(findTemplate(directory, async () => [], 'welcome', 'en')).rejects.toThrow("Template 'welcome' has no version in 'en'");
	});

	test('a webhook notice after the list was fetched applies; one before it is in the list already', () => {
		const fetchedAt = new Date('2026-12-01T10:00:00Z');
		const notice = (at: string, change: object) => ({ wabaId: '1', name: 'welcome', language: 'de', at: new Date(at), ...change });
		expect(currentTemplate(WELCOME, [notice('2026-12-01T10:05:00Z', { category: 'MARKETING' }), notice('2026-12-01T10:06:00Z', { status: 'PAUSED', reason: 'LOW_QUALITY' })], fetchedAt)).toMatchObject({
			category: 'MARKETING',
			status: 'PAUSED',
			reason: 'LOW_QUALITY',
		});
		expect(currentTemplate(WELCOME, [notice('2026-12-01T09:00:00Z', { status: 'PAUSED' })], fetchedAt)).toMatchObject({ status: 'APPROVED' });
	});
});

describe("Meta's template webhooks", () => {
	const envelope = (field: string, value: object, entry: object = { id: '200000000000001', time: 1764340000 }) => ({
		object: 'whatsapp_business_account',
		entry: [{ ...entry, changes: [{ field, value }] }],
	});
	const base = { message_template_id: 123456789, message_template_name: 'welcome', message_template_language: 'de' };

	test('a completed category change and a status update become template events; the impending notice changes nothing', () => {
		expect(parseWebhook(envelope('template_category_update', { ...base, previous_category: 'UTILITY', new_category: 'MARKETING' }))).toEqual([
			{ kind: 'template', update: 'category', wabaId: '200000000000001', templateId: '123456789', name: 'welcome', language: 'de', category: 'MARKETING', previousCategory: 'UTILITY', at: new Date(1764340000 * 1000) },
		]);
		expect(parseWebhook(envelope('template_category_update', { ...base, correct_category: 'MARKETING', new_category: 'UTILITY', category_update_timestamp: 1764426400 }))).toEqual([]);
		expect(parseWebhook(envelope('message_template_status_update', { ...base, event: 'PAUSED', reason: 'LOW_QUALITY', message_template_category: 'UTILITY' }))).toEqual([
			expect.objectContaining({ kind: 'template', update: 'status', status: 'PAUSED', reason: 'LOW_QUALITY' }),
		]);
	});

	test('a notice of an unknown shape is kept as rejected, never thrown', () => {
		fc.assert(
			fc.property(fc.constantFrom('template_category_update', 'message_template_status_update'), fc.anything(), fc.anything(), (field, value, time) => {
				const events = parseWebhook(envelope(field, value as object, { id: '1', time }));
				for (const event of events) expect(['template', 'rejected']).toContain(event.kind);
			}),
		);
		expect(parseWebhook(envelope('message_template_status_update', { ...base, event: 'PAUSED' }, { id: '1' }))).toEqual([expect.objectContaining({ kind: 'rejected', reason: expect.stringContaining('entry.time') })]);
	});
});
