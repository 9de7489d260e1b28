export { WhatsAppClient, type ClientOptions, type SendOptions, type SentMessage } from './client';
export { WhatsAppApiError, OutcomeUnknownError, ConnectionError, type RetryAdvice } from './errors';
export { messageBody, type OutgoingMessage, type TemplateButton } from './messages';
export { ThroughputLimiter, PairRateLimiter, mapWithConcurrency, sleep } from './limiter';
export { verifySignature, parseWebhook, parseTriggerItem, type WebhookEvent } from './webhook';
