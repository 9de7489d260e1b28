import { updateDisplayOptions, type INodeProperties } from 'n8n-workflow';
import type { ParameterReader } from '../parameters';
import type { OutgoingMessage } from '../../../../lib/whatsapp';

const properties: INodeProperties[] = [
	{
		displayName: 'Media Type',
		name: 'mediaType',
		type: 'options',
		options: [
			{ name: 'Audio', value: 'audio' },
			{ name: 'Document', value: 'document' },
			{ name: 'Image', value: 'image' },
			{ name: 'Video', value: 'video' },
		],
		default: 'image',
	},
	{
		displayName: 'Source',
		name: 'source',
		type: 'options',
		options: [
			{ name: 'Link', value: 'link', description: 'A public HTTPS address Meta downloads the file from' },
			{ name: 'Media ID', value: 'id', description: 'A file uploaded to Meta before' },
		],
		default: 'link',
	},
	{ displayName: 'Link', name: 'link', type: 'string', default: '', placeholder: 'https://example.com/menu.pdf', displayOptions: { show: { source: ['link'] } } },
	{ displayName: 'Media ID', name: 'mediaId', type: 'string', default: '', displayOptions: { show: { source: ['id'] } } },
	{ displayName: 'Caption', name: 'caption', type: 'string', default: '' },
	{ displayName: 'File Name', name: 'filename', type: 'string', default: '', displayOptions: { show: { mediaType: ['document'] } } },
];

export const description = updateDisplayOptions({ show: { resource: ['message'], operation: ['sendMedia'] } }, properties);

export function build(read: ParameterReader, index: number): OutgoingMessage {
	const source = read('source', index) as 'link' | 'id';
	const mediaType = read('mediaType', index) as 'image' | 'document' | 'audio' | 'video';
	return {
		type: 'media',
		mediaType,
		link: source === 'link' ? (read('link', index) as string) : undefined,
		id: source === 'id' ? (read('mediaId', index) as string) : undefined,
		caption: (read('caption', index) as string) || undefined,
		filename: mediaType === 'document' ? (read('filename', index) as string) || undefined : undefined,
	};
}
