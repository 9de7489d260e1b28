import { updateDisplayOptions, type INodeProperties } from 'n8n-workflow';
import type { ParameterReader } from '../parameters';
import type { OutgoingMessage, TemplateButton } from '../../../../lib/whatsapp';

/** The values for a template's {{1}}, {{2}} (positional) or {{first_name}} (named) placeholders. */
function parameterList(displayName: string, name: string): INodeProperties {
	return {
		displayName,
		name,
		type: 'fixedCollection',
		typeOptions: { multipleValues: true, sortable: true },
		default: {},
		placeholder: 'Add Parameter',
		options: [
			{
				name: 'parameter',
				displayName: 'Parameter',
				values: [
					{ displayName: 'Name', name: 'name', type: 'string', default: '', description: 'For named templates: the name between the braces, e.g. first_name' },
					{ displayName: 'Value', name: 'value', type: 'string', default: '' },
				],
			},
		],
	};
}

const properties: INodeProperties[] = [
	{
		displayName: 'Template Name',
		name: 'templateName',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'welcome',
		description: 'As approved in WhatsApp Manager',
	},
	{
		displayName: 'Language Code',
		name: 'language',
		type: 'string',
		default: 'de',
		required: true,
		placeholder: 'de',
		description: 'The language the template was approved in, e.g. de, en or en_US',
	},
	{
		displayName: 'Parameters',
		name: 'parameterFormat',
		type: 'options',
		options: [
			{ name: 'Positional ({{1}}, {{2}})', value: 'positional' },
			{ name: 'Named ({{First_name}})', value: 'named' },
		],
		default: 'positional',
		description: 'How the template was created in WhatsApp Manager',
	},
	parameterList('Body Parameters', 'bodyParameters'),
	parameterList('Header Parameters', 'headerParameters'),
	{
		displayName: 'Buttons',
		name: 'buttons',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true },
		default: {},
		placeholder: 'Add Button Parameter',
		options: [
			{
				name: 'button',
				displayName: 'Button',
				values: [
					{
						displayName: 'Type',
						name: 'subType',
						type: 'options',
						options: [
							{ name: 'Quick Reply (Payload)', value: 'quick_reply' },
							{ name: 'URL (Variable Part)', value: 'url' },
						],
						default: 'quick_reply',
					},
					{ displayName: 'Position', name: 'index', type: 'number', default: 0, description: 'The button\'s position in the template, starting at 0' },
					{ displayName: 'Value', name: 'parameter', type: 'string', default: '' },
				],
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { resource: ['message'], operation: ['sendTemplate'] } }, properties);

type Parameter = { name?: string; value?: string };

function parametersOf(list: Parameter[] | undefined, named: boolean): string[] | Record<string, string> {
	if (!named) return (list ?? []).map((parameter) => parameter.value ?? '');
	return Object.fromEntries((list ?? []).map((parameter) => [parameter.name ?? '', parameter.value ?? '']));
}

export function build(read: ParameterReader, index: number): OutgoingMessage {
	const named = read('parameterFormat', index) === 'named';
	const body = read('bodyParameters', index, {}) as { parameter?: Parameter[] };
	const header = read('headerParameters', index, {}) as { parameter?: Parameter[] };
	const buttons = read('buttons', index, {}) as { button?: TemplateButton[] };
	return {
		type: 'template',
		name: read('templateName', index) as string,
		language: read('language', index) as string,
		body: parametersOf(body.parameter, named),
		header: parametersOf(header.parameter, named),
		buttons: buttons.button ?? [],
	};
}
