import { updateDisplayOptions, type INodeProperties } from 'n8n-workflow';
import type { ParameterReader } from '../../../shared/parameters';
import type { OutgoingMessage } from '../../../../lib/whatsapp';

const properties: INodeProperties[] = [
	{ displayName: 'Text', name: 'body', type: 'string', typeOptions: { rows: 3 }, default: '', required: true, description: 'Up to 1,024 characters' },
	{ displayName: 'Button Text', name: 'displayText', type: 'string', default: '', required: true, placeholder: 'See dates', description: 'Up to 20 characters' },
	{ displayName: 'URL', name: 'url', type: 'string', default: '', required: true, placeholder: 'https://example.com/booking', description: 'The web address the button opens' },
	{ displayName: 'Header', name: 'header', type: 'string', default: '', description: 'Optional, up to 60 characters' },
	{ displayName: 'Footer', name: 'footer', type: 'string', default: '', description: 'Optional, up to 60 characters' },
];

export const description = updateDisplayOptions({ show: { resource: ['message'], operation: ['sendCtaUrl'] } }, properties);

export function build(read: ParameterReader, index: number): OutgoingMessage {
	return {
		type: 'cta_url',
		body: read('body', index) as string,
		displayText: read('displayText', index) as string,
		url: read('url', index) as string,
		header: (read('header', index) as string) || undefined,
		footer: (read('footer', index) as string) || undefined,
	};
}
