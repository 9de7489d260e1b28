import { updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { personToCsv, proofPage } from '../../../../lib/consent/export-formats';
import type { Ledger } from '../../../../lib/consent/ledger';
import { recipientParameter } from '../../../shared/descriptions';

const properties: INodeProperties[] = [
	recipientParameter,
	{
		displayName: 'Requested By',
		name: 'requestedBy',
		type: 'string',
		default: '',
		placeholder: 'e-mail of 28 Nov 2026, ticket 4711',
		description: 'Recorded with the export in the audit history',
	},
	{
		displayName: 'Business Name',
		name: 'businessName',
		type: 'string',
		default: '',
		description: 'Shown on the printable proof page',
	},
];

export const description = updateDisplayOptions({ show: { resource: ['person'], operation: ['export'] } }, properties);

/** Art. 15/20: the history as JSON, and as files to send to the person: JSON, CSV and a printable proof page. */
export async function execute(this: IExecuteFunctions, ledger: Ledger, index: number): Promise<INodeExecutionData[]> {
	const recipient = this.getNodeParameter('recipient', index) as string;
	const requestedBy = this.getNodeParameter('requestedBy', index) as string;
	const person = await ledger.exportPerson(recipient, requestedBy || undefined);
	if (!person) return [{ json: { found: false, recipient }, pairedItem: { item: index } }];
	const name = `whatsapp-consent-${person.phone.replace(/\D/g, '')}`;
	const file = (text: string, fileName: string, mimeType: string) =>
		this.helpers.prepareBinaryData(Buffer.from(text, 'utf8'), fileName, mimeType);
	return [
		{
			json: { found: true, ...person },
			binary: {
				json: await file(JSON.stringify(person, null, 2), `${name}.json`, 'application/json'),
				csv: await file(personToCsv(person), `${name}.csv`, 'text/csv'),
				proof: await file(proofPage(person, this.getNodeParameter('businessName', index) as string), `${name}.html`, 'text/html'),
			},
			pairedItem: { item: index },
		},
	];
}
