/**
 * A scenario (sandbox, ledger, credentials) with the Opt-In Trigger hosted for it: the sandbox's webhooks go to the
 * trigger, which records them in the scenario's ledger, and the purpose `offers` is defined. With
 * `businessAccountId` the WhatsApp credential names the sandbox's business account, so Send WhatsApp reads its
 * template list.
 */
import type { StoreKind } from './ledgers';
import { startScenario, type Scenario } from './scenario';
import { startTriggerHost, type TriggerHost } from './trigger-host';

export interface HostedScenario {
	scenario: Scenario;
	host: TriggerHost;
	close(): Promise<void>;
}

export async function startHostedScenario(kind: StoreKind, options: { events: string[]; businessAccountId?: string }): Promise<HostedScenario> {
	const scenario = await startScenario(kind);
	if (options.businessAccountId) scenario.credentials.whatsAppCloudApi.businessAccountId = options.businessAccountId;
	await scenario.ledger.definePurposes([{ id: 'offers', label: 'Angebote' }]);
	const host = await startTriggerHost({ credentials: scenario.credentials, parameters: { events: options.events } });
	await scenario.control('config', { webhookUrl: host.url }, 'PATCH');
	return {
		scenario,
		host,
		async close() {
			await host.close();
			await scenario.close();
		},
	};
}
