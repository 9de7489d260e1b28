/** The trigger's parameters as the widget's configuration (validated by the core, which names a wrong setting). */
import type { IWebhookFunctions, IHookFunctions } from 'n8n-workflow';
import { parseWidgetConfig, type WidgetConfig } from '../../lib/widget';

export interface TriggerOptions {
	siteOrigins?: string;
	textEn?: string;
	textDe?: string;
	textVersion?: string;
	defaultCountry?: string;
	imprintUrl?: string;
	languages?: ('de' | 'en')[];
	primaryColour?: string;
	publicUrl?: string;
	/** Unset: on when the WhatsApp credential has a Business Account ID and an App ID. */
	registerWebhook?: boolean;
	minimumAge?: number;
	ipMode?: 'off' | 'truncated' | 'hashed';
	signupUrl?: string;
	redactOutput?: boolean;
}

export function triggerOptions(context: IWebhookFunctions | IHookFunctions): TriggerOptions {
	return context.getNodeParameter('options', {}) as TriggerOptions;
}

export function widgetConfigOf(context: IWebhookFunctions | IHookFunctions): WidgetConfig {
	const options = triggerOptions(context);
	const purposes = (context.getNodeParameter('purposes', {}) as { purpose?: { id: string; label: string; description?: string }[] }).purpose ?? [];
	const version = options.textVersion || '1';
	const customText = (text: string | undefined) => (text ? { version, text } : undefined);
	return parseWidgetConfig({
		businessName: context.getNodeParameter('businessName', ''),
		businessWhatsAppNumber: context.getNodeParameter('businessNumber', ''),
		purposes: purposes.map((purpose) => ({ ...purpose, description: purpose.description || undefined })),
		consentTexts: { de: customText(options.textDe), en: customText(options.textEn) },
		privacyUrl: context.getNodeParameter('privacyUrl', ''),
		imprintUrl: options.imprintUrl || undefined,
		publicUrl: options.publicUrl || undefined,
		defaultCountry: options.defaultCountry || undefined,
		languages: options.languages?.length ? options.languages : undefined,
		colours: options.primaryColour ? { primary: options.primaryColour } : undefined,
		minimumAge: options.minimumAge,
		siteOrigins: (options.siteOrigins ?? '')
			.split(',')
			.map((origin) => origin.trim())
			.filter(Boolean),
	});
}
