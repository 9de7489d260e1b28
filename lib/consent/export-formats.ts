/** A person's export as a spreadsheet (CSV) and as a printable proof page (HTML), for Art. 15/20 requests. */
import type { PersonExport } from './rights';

function csvCell(value: unknown): string {
	const text = value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
	// A leading = + - @ would run as a formula in a spreadsheet.
	const safe = /^[=+\-@]/.test(text) ? `'${text}` : text;
	return /[",\n\r;]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** One row per event, consent and send, so the whole history reads top to bottom in a spreadsheet. */
export function personToCsv(person: PersonExport): string {
	const rows: unknown[][] = [['section', 'time', 'what', 'purpose', 'state or status', 'details']];
	for (const consent of person.consents) {
		rows.push(['consent', consent.confirmedAt ?? consent.requestedAt, consent.label, consent.purpose, consent.state, consent.text]);
	}
	for (const event of person.history) rows.push(['history', event.at, event.type, '', '', event.details]);
	for (const send of person.sends) rows.push(['send', send.at, send.key, send.purpose, send.status, { category: send.category, wamid: send.wamid }]);
	return rows.map((row) => row.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

const escapeHtml = (text: unknown) =>
	String(text ?? '').replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]!);

/** A self-contained page a person or a court can read and print: what was consented to, when, how, with the text. */
export function proofPage(person: PersonExport, businessName = ''): string {
	const consentRows = person.consents
		.map(
			(consent) => `<tr><td>${escapeHtml(consent.label)}</td><td>${escapeHtml(consent.state)}</td>
				<td>${escapeHtml(consent.requestedAt)}</td><td>${escapeHtml(consent.confirmedAt)}</td><td>${escapeHtml(consent.withdrawnAt)}</td></tr>`,
		)
		.join('');
	const texts = [...new Map(person.consents.filter((c) => c.text).map((c) => [c.text!.hash, c.text!])).values()]
		.map(
			(text) => `<figure><blockquote lang="${escapeHtml(text.language)}">${escapeHtml(text.body)}</blockquote>
				<figcaption>Version ${escapeHtml(text.version)} · SHA-256 <code>${escapeHtml(text.hash)}</code></figcaption></figure>`,
		)
		.join('');
	const history = person.history
		.map(
			(event) => `<tr><td>${escapeHtml(event.at)}</td><td>${escapeHtml(event.type)}</td>
				<td><code>${event.details ? escapeHtml(JSON.stringify(event.details)) : '(erased)'}</code></td></tr>`,
		)
		.join('');
	return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>WhatsApp consent record ${escapeHtml(person.phone)}</title>
<style>
body{font:14px/1.5 system-ui,sans-serif;color:#111;max-width:60rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%;margin:1rem 0}td,th{border:1px solid #bbb;padding:.3rem .5rem;text-align:left;vertical-align:top}
code{font-size:12px;word-break:break-all}blockquote{border-left:4px solid #25D366;margin:0;padding:.5rem 1rem;background:#f4f4f4}
@media print{body{margin:0}}
</style></head><body>
<h1>WhatsApp consent record</h1>
<p>${businessName ? `${escapeHtml(businessName)} · ` : ''}Number ${escapeHtml(person.phone)} · exported ${escapeHtml(person.exportedAt)}</p>
<h2>Consents</h2>
<table><thead><tr><th>Purpose</th><th>State</th><th>Requested</th><th>Confirmed</th><th>Withdrawn</th></tr></thead><tbody>${consentRows}</tbody></table>
<h2>Consent texts shown</h2>${texts || '<p>None</p>'}
<h2>History</h2>
<table><thead><tr><th>Time (UTC)</th><th>Event</th><th>Details</th></tr></thead><tbody>${history}</tbody></table>
<p>Each event is part of a hash chain; the ledger's "Verify Audit Chain" operation proves none was changed or removed.</p>
</body></html>
`;
}
