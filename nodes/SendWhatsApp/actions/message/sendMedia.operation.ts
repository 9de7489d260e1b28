import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
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

export function build(this: IExecuteFunctions, index: number): OutgoingMessage {
	const source = this.getNodeParameter('source', index) as 'link' | 'id';
	const mediaType = this.getNodeParameter('mediaType', index) as 'image' | 'document' | 'audio' | 'video';
	return {
		type: 'media',
		mediaType,
		link: source === 'link' ? (this.getNodeParameter('link', index) as string) : undefined,
		id: source === 'id' ? (this.getNodeParameter('mediaId', index) as string) : undefined,
		caption: (this.getNodeParameter('caption', index) as string) || undefined,
		filename: mediaType === 'document' ? (this.getNodeParameter('filename', index) as string) || undefined : undefined,
	};
}
