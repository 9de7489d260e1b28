import { updateDisplayOptions, type INodeProperties } from 'n8n-workflow';
import type { ParameterReader } from '../../../shared/parameters';
import type { BuildContext } from '../buildContext';
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
			{ name: 'Binary File', value: 'binary', description: "A file of the item's binary data, uploaded to Meta right before the message" },
			{ name: 'Link', value: 'link', description: 'A public HTTPS address Meta downloads the file from' },
			{ name: 'Media ID', value: 'id', description: 'A file uploaded to Meta before' },
		],
		default: 'link',
	},
	{ displayName: 'Link', name: 'link', type: 'string', default: '', placeholder: 'https://example.com/menu.pdf', displayOptions: { show: { source: ['link'] } } },
	{ displayName: 'Media ID', name: 'mediaId', type: 'string', default: '', displayOptions: { show: { source: ['id'] } } },
	{
		displayName: 'Input Binary Field',
		name: 'binaryPropertyName',
		type: 'string',
		default: 'data',
		required: true,
		hint: "The name of the input item's binary field with the file",
		description: "Checked against Meta's limits before the upload: image JPEG or PNG up to 5 MB; audio AAC, AMR, MP3, M4A or OGG (Opus) up to 16 MB; video MP4 or 3GPP up to 16 MB; document PDF, TXT, Word, Excel or PowerPoint up to 100 MB",
		displayOptions: { show: { source: ['binary'] } },
	},
	{ displayName: 'Caption', name: 'caption', type: 'string', default: '' },
	{ displayName: 'File Name', name: 'filename', type: 'string', default: '', displayOptions: { show: { mediaType: ['document'] } } },
];

export const description = updateDisplayOptions({ show: { resource: ['message'], operation: ['sendMedia'] } }, properties);

export async function build(read: ParameterReader, index: number, context: BuildContext): Promise<OutgoingMessage> {
	const source = read('source', index) as 'link' | 'id' | 'binary';
	const mediaType = read('mediaType', index) as 'image' | 'document' | 'audio' | 'video';
	const file = source === 'binary' ? await context.binary(index, read('binaryPropertyName', index) as string) : undefined;
	return {
		type: 'media',
		mediaType,
		link: source === 'link' ? (read('link', index) as string) : undefined,
		id: source === 'id' ? (read('mediaId', index) as string) : undefined,
		file,
		caption: (read('caption', index) as string) || undefined,
		// A document keeps its own name unless another is given.
		filename: mediaType === 'document' ? (read('filename', index) as string) || file?.fileName || undefined : undefined,
	};
}
