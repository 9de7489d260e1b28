/**
 * The Graph API version sends go to unless the credential names another: v26.0, Meta's current version (released
 * 29 July 2026, no end date set yet; see developers.facebook.com/docs/graph-api/changelog). Older versions a
 * credential names keep working for as long as Meta serves them (v25.0 until 29 July 2028, v23.0 until 8 October 2027).
 */
export const DEFAULT_GRAPH_VERSION = 'v26.0';
