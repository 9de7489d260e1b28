/** The WhatsApp Cloud API core: message builders, the client with its limits and retries, and webhooks. */
export { DEFAULT_GRAPH_VERSION } from './graph-version';
export { WhatsAppClient, type ClientOptions, type SendEndpoint, type SendOptions, type SentMessage, type PhoneNumberInfo } from './client';
export {
	WhatsAppError,
	WhatsAppApiError,
	WhatsAppHttpError,
	OutcomeUnknownError,
	ConnectionError,
	adviceFor,
	type RetryAdvice,
	type UnknownOutcomeReason,
} from './errors';
export {
	buildMessage,
	textMessage,
	templateMessage,
	replyButtonsMessage,
	mediaMessage,
	markAsReadRequest,
	listMessage,
	ctaUrlMessage,
	locationRequestMessage,
	reactionMessage,
	checkMediaFile,
	recipientKey,
	MessageLimitError,
	LIMITS,
	MEDIA_FILE_LIMITS,
	MEDIA_UPLOAD_PENDING,
	type MessageRequest,
	type OutgoingMessage,
	type TextContent,
	type TemplateContent,
	type ReplyButtonsContent,
	type MediaContent,
	type MediaFile,
	type ListContent,
	type ListRow,
	type CtaUrlContent,
	type LocationRequestContent,
	type ReactionContent,
	type MarkAsReadRequest,
	type MediaKind,
	type TemplateButton,
	type TemplateParameters,
} from './messages';
export { ThroughputLimiter, PairRateLimiter, limitersFor, sleep, MESSAGES_PER_SECOND } from './limiter';
export { withRetries, retryDelayMs, DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry';
export { mapWithConcurrency, Semaphore } from './concurrency';
export { verifySignature, parseWebhook, parseWebhookFor, parseTriggerItem, type NumberEvents, type WebhookEvent } from './webhook';
