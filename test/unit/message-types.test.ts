/**
 * The message types beyond text, templates, buttons and media (issue 13): each is checked against Meta's limits
 * before the call, and what passes is what the sandbox's copy of Meta's validation takes. Generated inputs over a
 * limit are refused with the message that names the limit and the offending row; generated valid ones reach the
 * sandbox's schema unchanged.
 */
import fc from 'fast-check';
import { ValidationError } from '../../lib/errors';
import { buildMessage, checkMediaFile, LIMITS, markAsReadRequest, MEDIA_FILE_LIMITS, MessageLimitError, type ListContent, type MediaKind, type OutgoingMessage } from '../../lib/whatsapp/messages';
import { redactPersonalData } from '../../lib/redact';
import { GraphApiError } from '../../sandbox/graph-errors';
import { parseSendRequest } from '../../sandbox/send-schema';

const TO = '+4915112345678';

/** Text of 1 to `max` characters as WhatsApp counts them (code points, emoji included), not only blanks. */
const text = (max: number, min = 1) =>
	fc
		.string({ unit: fc.oneof(fc.constantFrom('a', 'Z', 'ä', 'ß', ' ', '7', '-'), fc.constantFrom('👍', '🇩🇪', '😀')), minLength: min, maxLength: max })
		.filter((value) => value.trim() !== '');

const chars = (value: string) => [...value].length;

function refusal(run: () => unknown): ValidationError {
	try {
		run();
	} catch (error) {
		if (error instanceof ValidationError) return error;
		throw error;
	}
	throw new Error('expected the message to be refused');
}

function metaRefusal(body: unknown): GraphApiError {
	try {
		parseSendRequest(body);
	} catch (error) {
		if (error instanceof GraphApiError) return error;
		throw error;
	}
	throw new Error('expected the sandbox to refuse the request');
}

/** A valid list: 1 to 10 sections, 1 to 10 rows in all, every id unique, titles when there are several sections. */
const validList: fc.Arbitrary<ListContent> = fc
	.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 10 })
	.map((sizes) => {
		// Trim the row counts to ten in all, keeping every section at least one row.
		const kept: number[] = [];
		let left: number = LIMITS.listRows;
		for (const size of sizes) {
			if (left === 0) break;
			kept.push(Math.min(size, left));
			left -= kept[kept.length - 1];
		}
		return kept;
	})
	.chain((sizes) =>
		fc.record({
			body: text(LIMITS.interactiveBody),
			button: text(LIMITS.listButton),
			header: fc.option(text(LIMITS.interactiveHeader), { nil: undefined }),
			footer: fc.option(text(LIMITS.footer), { nil: undefined }),
			sections: fc.tuple(
				...sizes.map((size, s) =>
					fc.record({
						title: sizes.length > 1 ? text(LIMITS.listSectionTitle) : fc.option(text(LIMITS.listSectionTitle), { nil: undefined }),
						rows: fc.tuple(
							...Array.from({ length: size }, (_, r) =>
								fc.record({
									id: text(LIMITS.listRowId - 6).map((id) => `${s}.${r}:${id}`),
									title: text(LIMITS.listRowTitle),
									description: fc.option(text(LIMITS.listRowDescription), { nil: undefined }),
								}),
							),
						),
					}),
				),
			),
		}),
	);

describe('interactive list', () => {
	test('a valid list is built as Meta documents it and passes the sandbox unchanged', () => {
		fc.assert(
			fc.property(validList, (list) => {
				const request = buildMessage(TO, { type: 'list', ...list });
				expect(request).toMatchObject({ type: 'interactive', interactive: { type: 'list', body: { text: list.body }, action: { button: list.button } } });
				const parsed = parseSendRequest(request);
				expect(parsed.kind === 'send' && parsed.request.type === 'interactive' && parsed.request.interactive).toEqual((request as { interactive: unknown }).interactive);
			}),
			{ numRuns: 150 },
		);
	});

	test('a row title over 24 characters is refused, naming the row as the person counts them and its length', () => {
		fc.assert(
			fc.property(validList, fc.nat(), text(40, LIMITS.listRowTitle + 1).filter((title) => chars(title) > LIMITS.listRowTitle), (list, pick, long) => {
				const rows = list.sections.flatMap((section) => section.rows);
				const row = pick % rows.length;
				rows[row].title = long;
				const error = refusal(() => buildMessage(TO, { type: 'list', ...list }));
				expect(error).toBeInstanceOf(MessageLimitError);
				expect(error.message).toBe(`List row titles may have at most 24 characters; row ${row + 1} has ${chars(long)}`);
				// Meta (the sandbox) refuses the same request, built without our check, as out of range.
				const unchecked = {
					messaging_product: 'whatsapp',
					to: '4915112345678',
					type: 'interactive',
					interactive: {
						type: 'list',
						body: { text: list.body },
						action: {
							button: list.button,
							sections: list.sections.map((section) => ({
								...(section.title ? { title: section.title } : {}),
								rows: section.rows.map((r) => ({ id: r.id, title: r.title, ...(r.description ? { description: r.description } : {}) })),
							})),
						},
					},
				};
				expect(metaRefusal(unchecked).code).toBe(131009);
			}),
			{ numRuns: 100 },
		);
	});

	test('descriptions over 72, ids over 200 and a button text over 20 are refused with the limit', () => {
		fc.assert(
			fc.property(validList, fc.nat(), fc.integer({ min: 1, max: 30 }), (list, pick, over) => {
				const rows = list.sections.flatMap((section) => section.rows);
				const row = pick % rows.length;
				const target = rows[row];
				const { id, description } = target;
				target.description = 'd'.repeat(LIMITS.listRowDescription + over);
				expect(refusal(() => buildMessage(TO, { type: 'list', ...list })).message).toBe(`List row descriptions may have at most 72 characters; row ${row + 1} has ${72 + over}`);
				Object.assign(target, { description, id: 'i'.repeat(LIMITS.listRowId + over) });
				expect(refusal(() => buildMessage(TO, { type: 'list', ...list })).message).toBe(`List row ids may have at most 200 characters; row ${row + 1} has ${200 + over}`);
				target.id = id;
				const error = refusal(() => buildMessage(TO, { type: 'list', ...list, button: 'b'.repeat(LIMITS.listButton + over) }));
				expect(error).toMatchObject({ field: 'button', limit: 20, actual: 20 + over });
			}),
			{ numRuns: 100 },
		);
	});

	test('more than 10 rows in all, more than 10 sections, a repeated id or an untitled section among several are refused', () => {
		fc.assert(
			fc.property(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 12 }), (sizes) => {
				const sections = sizes.map((size, s) => ({ title: `S${s}`, rows: Array.from({ length: size }, (_, r) => ({ id: `${s}-${r}`, title: `Row ${r}` })) }));
				const total = sizes.reduce((a, b) => a + b, 0);
				const list = { type: 'list' as const, body: 'Pick one', button: 'Choose', sections };
				if (sizes.length > LIMITS.listSections) {
					expect(refusal(() => buildMessage(TO, list)).message).toBe(`A list may have 1 to 10 sections; this one has ${sizes.length}`);
				} else if (total > LIMITS.listRows) {
					expect(refusal(() => buildMessage(TO, list)).message).toBe(`A list may have 1 to 10 rows in all its sections together; this one has ${total}`);
				} else {
					expect(() => parseSendRequest(buildMessage(TO, list))).not.toThrow();
				}
			}),
			{ numRuns: 200 },
		);
		const twice = { type: 'list' as const, body: 'Pick', button: 'Choose', sections: [{ rows: [{ id: 'a', title: 'One' }, { id: 'a', title: 'Two' }] }] };
		expect(refusal(() => buildMessage(TO, twice)).message).toMatch(/Two rows have the id 'a' \(row 2/);
		const untitled = { type: 'list' as const, body: 'Pick', button: 'Choose', sections: [{ title: 'A', rows: [{ id: 'a', title: 'One' }] }, { rows: [{ id: 'b', title: 'Two' }] }] };
		expect(refusal(() => buildMessage(TO, untitled))).toMatchObject({ field: 'sections[1].title', hint: expect.stringMatching(/more than one section/) });
		// A row without an id gets its title, as reply buttons do.
		expect(buildMessage(TO, { type: 'list', body: 'Pick', button: 'Choose', sections: [{ rows: [{ id: '', title: 'Dienstag' }] }] })).toMatchObject({ interactive: { action: { sections: [{ rows: [{ id: 'Dienstag', title: 'Dienstag' }] }] } } });
	});
});

describe('call-to-action URL button', () => {
	const cta = (displayText: string, url = 'https://example.com/booking?ref=wa'): OutgoingMessage => ({ type: 'cta_url', body: 'Your booking', displayText, url });

	test('a button text of up to 20 characters and a web address pass the sandbox; longer is refused with its length', () => {
		fc.assert(
			fc.property(text(30), (displayText) => {
				if (chars(displayText) <= LIMITS.ctaDisplayText) {
					const request = buildMessage(TO, cta(displayText));
					expect(request).toMatchObject({ interactive: { type: 'cta_url', action: { name: 'cta_url', parameters: { display_text: displayText } } } });
					expect(parseSendRequest(request).kind).toBe('send');
				} else {
					expect(refusal(() => buildMessage(TO, cta(displayText))).message).toBe(`The button text may have at most 20 characters; it has ${chars(displayText)}`);
				}
			}),
			{ numRuns: 200 },
		);
	});

	test('the address must be a web address', () => {
		expect(refusal(() => buildMessage(TO, cta('Book', 'javascript:alert(1)')))).toMatchObject({ field: 'url', hint: expect.stringMatching(/https:\/\//) });
		expect(refusal(() => buildMessage(TO, cta('Book', '')))).toMatchObject({ field: 'url' });
	});
});

describe('location request', () => {
	test('a body of up to 1,024 characters goes out with the send_location action; longer is refused', () => {
		fc.assert(
			fc.property(fc.integer({ min: 1, max: 1100 }), (size) => {
				const body = 'ü'.repeat(size);
				if (size <= LIMITS.interactiveBody) {
					const request = buildMessage(TO, { type: 'location_request', body });
					expect(request).toMatchObject({ interactive: { type: 'location_request_message', body: { text: body }, action: { name: 'send_location' } } });
					expect(parseSendRequest(request).kind).toBe('send');
				} else {
					expect(refusal(() => buildMessage(TO, { type: 'location_request', body }))).toMatchObject({ field: 'body', limit: 1024, actual: size });
					expect(metaRefusal({ messaging_product: 'whatsapp', to: '4915112345678', type: 'interactive', interactive: { type: 'location_request_message', body: { text: body }, action: { name: 'send_location' } } }).code).toBe(131009);
				}
			}),
			{ numRuns: 60 },
		);
	});
});

describe('reaction', () => {
	test('one emoji, or none to take the reaction back, passes the sandbox', () => {
		for (const emoji of ['👍', '❤️', '🇩🇪', '👩‍👩‍👧', '1️⃣', '']) {
			const request = buildMessage(TO, { type: 'reaction', messageId: 'wamid.IN1', emoji });
			expect(request).toMatchObject({ type: 'reaction', reaction: { message_id: 'wamid.IN1', emoji } });
			expect(parseSendRequest(request).kind).toBe('send');
		}
	});

	test('anything that is not a single emoji is refused, saying how to remove a reaction', () => {
		fc.assert(
			fc.property(fc.string({ minLength: 1, maxLength: 6 }).filter((value) => value.trim() !== ''), (value) => {
				expect(refusal(() => buildMessage(TO, { type: 'reaction', messageId: 'wamid.IN1', emoji: value }))).toMatchObject({ field: 'emoji', hint: expect.stringMatching(/empty to remove/) });
			}),
		);
		expect(refusal(() => buildMessage(TO, { type: 'reaction', messageId: 'wamid.IN1', emoji: '👍👍' })).field).toBe('emoji');
		expect(refusal(() => buildMessage(TO, { type: 'reaction', messageId: ' ', emoji: '👍' })).field).toBe('messageId');
	});
});

describe('mark as read and the typing indicator', () => {
	test('the request is what the sandbox takes as a read receipt, with or without the typing indicator', () => {
		expect(markAsReadRequest('wamid.IN1', true)).toEqual({ messaging_product: 'whatsapp', status: 'read', message_id: 'wamid.IN1', typing_indicator: { type: 'text' } });
		expect(markAsReadRequest('wamid.IN1')).not.toHaveProperty('typing_indicator');
		for (const typing of [true, false]) expect(parseSendRequest(markAsReadRequest('wamid.IN1', typing))).toEqual({ kind: 'read', messageId: 'wamid.IN1', typing });
		expect(refusal(() => markAsReadRequest('')).hint).toMatch(/message the person sent/);
	});
});

describe('media from a file', () => {
	const KINDS = Object.keys(MEDIA_FILE_LIMITS) as MediaKind[];
	// One buffer for every size: the pages are never written, so its 100 MB cost no memory.
	const bytes = new ArrayBuffer(MEDIA_FILE_LIMITS.document.maxBytes + 3);

	test("a file over Meta's size for its type is refused with both sizes; at the limit it passes", () => {
		fc.assert(
			fc.property(fc.constantFrom(...KINDS), fc.integer({ min: -3, max: 3 }), (kind, delta) => {
				const { maxBytes, mimeTypes } = MEDIA_FILE_LIMITS[kind];
				const data = new Uint8Array(bytes, 0, maxBytes + delta);
				const file = { data, mimeType: mimeTypes[0] };
				if (delta <= 0) {
					expect(() => checkMediaFile(kind, file)).not.toThrow();
				} else {
					const error = refusal(() => checkMediaFile(kind, file));
					expect(error).toMatchObject({ limit: maxBytes, actual: maxBytes + delta });
					expect(error.message).toMatch(new RegExp(`^A ${kind} file may have at most ${maxBytes / 1024 / 1024} MB`));
				}
			}),
			{ numRuns: 40 },
		);
	});

	test('a MIME type Meta does not take for the media type is refused, naming the ones it takes', () => {
		const error = refusal(() => buildMessage(TO, { type: 'media', mediaType: 'image', file: { data: new Uint8Array([1]), mimeType: 'image/gif' } }));
		expect(error).toMatchObject({ field: 'file', hint: expect.stringContaining('image/jpeg, image/png') });
		expect(refusal(() => buildMessage(TO, { type: 'media', mediaType: 'video', file: { data: new Uint8Array([1]), mimeType: 'application/pdf' } })).message).toMatch(/as video/);
		// A file is one source: not together with a link.
		expect(refusal(() => buildMessage(TO, { type: 'media', mediaType: 'image', link: 'https://e.com/a.png', file: { data: new Uint8Array([1]), mimeType: 'image/png' } })).field).toBe('media');
	});
});

describe('what the person answers', () => {
	test('Redact Personal Data drops a shared location with the texts; the chosen row id stays', () => {
		const item = { event: 'message.received', message: { id: 'wamid.ABCDEFGHIJ', type: 'location', text: '', interactiveId: 'slot-14', location: { latitude: 52.52, longitude: 13.4, name: 'Zuhause' } } };
		expect(redactPersonalData(item)).toEqual({ event: 'message.received', message: { id: 'wamid.***CDEFGHIJ', type: 'location', interactiveId: 'slot-14' } });
	});
});
