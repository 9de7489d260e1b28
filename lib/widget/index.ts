/** The sign-up widget's public surface, as the Opt-In Trigger node uses it. */
export { parseWidgetConfig, WidgetConfigError, WIDGET_LANGUAGES, type WidgetConfig, type WidgetConfigInput, type WidgetLanguage } from './config';
export { consentTextFor, pickLanguage, BUILT_IN_TEXT_VERSION } from './texts';
export { renderHostedPage, renderResultPage, type HostedPageOptions } from './render';
export { widgetScript, type WidgetScriptOptions } from './script';
export { corsHeaders } from './cors';
export { ADDRESS_HEADERS, publicSubmitUrl } from './public-url';
export {
	handleSignup,
	parseSubmission,
	prefillText,
	signupErrorAnswer,
	SignupInputError,
	WIDGET_VERSION,
	type SignupDeps,
	type SignupMeta,
	type SignupResponse,
	type Submission,
} from './signup';
export { SignupRateLimiter, TooManySignupsError, DEFAULT_SIGNUP_LIMITS, type SignupLimits } from './rate-limit';
