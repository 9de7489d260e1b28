/** The key Send WhatsApp sends a message under once: valid for the ledger whatever the campaign key says. */
import fc from 'fast-check';
import { idempotencyKey } from '../../lib/sending';
import type { OutgoingMessage } from '../../lib/whatsapp';

/** What the ledger accepts as an idempotency key (lib/consent/sends.ts). */
const LEDGER_KEY = /^[\x21-\x7e]{1,512}$/;
const MESSAGE: OutgoingMessage = { type: 'template', name: 'newsletter', language: 'de', body: ['Anna'] };
const key = (campaign: string, recipient = '+4915112345678') => idempotencyKey({ workflowId: 'wf1', node: 'Send WhatsApp', recipient, campaign, message: MESSAGE });

describe('idempotencyKey', () => {
	test('any campaign text gives a key the ledger accepts, and different texts give different keys', () => {
		fc.assert(
			fc.property(fc.string({ unit: 'binary', maxLength: 700 }), fc.string({ unit: 'binary', maxLength: 700 }), (a, b) => {
				expect(key(a)).toMatch(LEDGER_KEY);
				if (a.normalize('NFC') !== b.normalize('NFC')) expect(key(a)).not.toBe(key(b));
			}),
			{ numRuns: 2000 },
		);
	});

	test('spaces, umlauts, emoji, a line break and 600 characters', () => {
		for (const campaign of ['Newsletter Woche 48', 'Grüße', '👋', 'a\nb', 'x'.repeat(600), ' ', '\u0000']) expect(key(campaign)).toMatch(LEDGER_KEY);
		// The same text typed with a combining umlaut is the same campaign.
		expect(key('Gr\u00fc\u00dfe')).toBe(key('Gru\u0308\u00dfe'));
	});

	test('a campaign key that was valid before keeps its key, so runs from before the change send nothing twice', () => {
		const scope = key('newsletter-2026-11').split(':')[0];
		expect(key('newsletter-2026-11')).toMatch(new RegExp(`^${scope}:\\+4915112345678:newsletter-2026-11:[0-9a-f]{16}$`));
		expect(key('')).toMatch(new RegExp(`^${scope}:\\+4915112345678::[0-9a-f]{16}$`));
	});
});
