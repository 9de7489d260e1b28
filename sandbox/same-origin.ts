/**
 * The sandbox's control API and phone page answer only this machine's own tools and the sandbox's own page. A web
 * page the operator happens to have open elsewhere must not play the customer (a forged STOP, a forged opt-in code)
 * or reset the sandbox: a browser sends a cross-site form or `text/plain` POST without asking first, so the refusal
 * has to come from here, not from CORS.
 *
 * - Host must name this machine (the sandbox listens on 127.0.0.1 only): a page on another name that its DNS points
 *   here (DNS rebinding) has the browser send that name.
 * - Origin, when a browser sends it, must be the sandbox's own; `Sec-Fetch-Site`, when sent, must say same-origin
 *   (or none: typed into the address bar).
 * Tools without a browser (n8n's HTTP Request node, curl, the tests) send neither and pass.
 */
import type { IncomingMessage } from 'node:http';

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);

function hostName(host: string): string {
	return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0];
}

/** Why the request is refused, or undefined when it may be answered. */
export function crossSiteRefusal(request: IncomingMessage): string | undefined {
	const host = request.headers.host ?? '';
	if (!LOOPBACK_NAMES.has(hostName(host).toLowerCase())) {
		return `The sandbox answers only requests to 127.0.0.1 or localhost, not to ${JSON.stringify(host)}`;
	}
	const origin = request.headers.origin;
	if (origin !== undefined && origin !== `http://${host}`) {
		return `The sandbox's control API refuses requests from other sites (Origin ${origin}); use its own page at http://${host}/`;
	}
	const site = request.headers['sec-fetch-site'];
	if (site !== undefined && site !== 'same-origin' && site !== 'none') {
		return `The sandbox's control API refuses ${site} requests; use its own page at http://${host}/`;
	}
	return undefined;
}
