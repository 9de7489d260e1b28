/**
 * The address the widget's script and page post sign-ups to. It is written into a script that caches and proxies
 * keep (`Cache-Control: public`), so it must not come from a header a stranger sets: one request with
 * `X-Forwarded-Host: evil.example` would otherwise have every visitor of the cached script send their number there.
 *
 * In order: the trigger's configured Public URL; else the address the request reached (X-Forwarded-Host, else Host),
 * the first of them that names a host the operator stands behind (n8n's own webhook host, an Allowed Website, or this
 * machine); else n8n's own webhook URL. Responses that depend on it say so (`Vary`), so a cache keeps one per host.
 */
import type { WidgetConfig } from './config';

export interface RequestAddress {
	/** n8n's idea of this trigger's URL (its WEBHOOK_URL setting, else localhost). */
	n8nUrl: string;
	config: Pick<WidgetConfig, 'publicUrl' | 'siteOrigins'>;
	host?: string;
	forwardedHost?: string;
	forwardedProto?: string;
	protocol: string;
	path: string;
}

/** The headers the answer depends on, for `Vary`. */
export const ADDRESS_HEADERS = 'Host, X-Forwarded-Host, X-Forwarded-Proto';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

function hostOf(url: string): string | undefined {
	try {
		return new URL(url).host.toLowerCase();
	} catch {
		return undefined;
	}
}

function nameOf(host: string): string {
	return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0];
}

/** A Host header value, and nothing that could carry a path, credentials or a second host. */
const HOST_VALUE = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;

export function publicSubmitUrl(address: RequestAddress): string {
	if (address.config.publicUrl) return address.config.publicUrl;
	const first = (value: string | undefined) => value?.split(',')[0].trim().toLowerCase();
	const trusted = new Set([hostOf(address.n8nUrl), ...address.config.siteOrigins.map(hostOf)].filter((known): known is string => known !== undefined));
	const host = [first(address.forwardedHost), first(address.host)].find(
		(candidate) => candidate !== undefined && HOST_VALUE.test(candidate) && (trusted.has(candidate) || LOOPBACK.has(nameOf(candidate))),
	);
	if (!host) return address.n8nUrl;
	// https from a proxy that ends TLS; a header asking for plain http would only strip it.
	const protocol = first(address.forwardedProto) === 'https' ? 'https' : address.protocol;
	return `${protocol}://${host}${address.path}`;
}
