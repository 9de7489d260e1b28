/**
 * Which websites may post sign-ups from the embedded script. The script posts JSON, so the browser asks first
 * (a preflight OPTIONS request); only the sites listed in `siteOrigins` get an answer that lets the post through.
 */
import type { WidgetConfig } from './config';

/** The CORS headers for a request from `origin`; empty when the origin is not listed (the browser then blocks it). */
export function corsHeaders(config: Pick<WidgetConfig, 'siteOrigins'>, origin: string | undefined): Record<string, string> {
	if (!origin || !config.siteOrigins.includes(origin)) return {};
	return {
		'Access-Control-Allow-Origin': origin,
		'Access-Control-Allow-Methods': 'POST, OPTIONS',
		'Access-Control-Allow-Headers': 'Content-Type, Accept',
		'Access-Control-Max-Age': '600',
		Vary: 'Origin',
	};
}
