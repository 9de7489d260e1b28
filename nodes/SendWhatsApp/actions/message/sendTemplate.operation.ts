import { updateDisplayOptions, type INodeProperties } from 'n8n-workflow';
import type { ParameterReader } from '../../../shared/parameters';
import type { BuildContext } from '../buildContext';
import { ValidationError } from '../../../../lib/errors';
import { templateContentOf } from '../../../../lib/whatsapp/templates';
import type { OutgoingMessage, TemplateButton } from '../../../../lib/whatsapp';

/** Version 1: the values for a template's {{1}}, {{2}} (positional) or {{first_name}} (named) placeholders as a list. */
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

const versionOne: INodeProperties[] = [
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

/** A template by its name and language, `welcome|de`; the language may be left out where the name has only one. */
const TEMPLATE_REFERENCE = '^[a-z0-9_]+(\\|[A-Za-z]{2,3}(_[A-Za-z0-9]{2,4})?)?$';

/** Version 2: the template from the business account's list, and one field per variable it has. */
const versionTwo: INodeProperties[] = [
	{
		displayName: 'Template',
		name: 'template',
		type: 'resourceLocator',
		default: { mode: 'list', value: '' },
		required: true,
		description: "An approved template of the credential's WhatsApp Business Account",
		modes: [
			{
				displayName: 'From List',
				name: 'list',
				type: 'list',
				typeOptions: { searchListMethod: 'searchTemplates', searchable: true },
			},
			{
				displayName: 'By Name',
				name: 'name',
				type: 'string',
				placeholder: 'welcome|de',
				hint: 'The name, a | and the language code; the language may be left out when the template has only one',
				validation: [
					{
						type: 'regex',
						properties: { regex: TEMPLATE_REFERENCE, errorMessage: 'Use the template name and its language, e.g. welcome|de' },
					},
				],
			},
		],
	},
	{
		displayName: 'Template Variables',
		name: 'templateVariables',
		type: 'resourceMapper',
		noDataExpression: true,
		default: { mappingMode: 'defineBelow', value: null },
		required: true,
		description: 'One field per placeholder of the template ({{first_name}} or {{1}}), its media header and its buttons',
		typeOptions: {
			loadOptionsDependsOn: ['template.value'],
			resourceMapper: {
				resourceMapperMethod: 'getTemplateVariables',
				mode: 'add',
				valuesLabel: 'Variables',
				fieldWords: { singular: 'variable', plural: 'variables' },
				addAllFields: true,
				multiKeyMatch: false,
				supportAutoMap: false,
				noFieldsError: 'This template has no variables: it is sent as approved',
			},
		},
	},
];

const VERSION_ONE = { '@version': [1] };
const VERSION_TWO = { '@version': [{ _cnd: { gte: 2 } }] };

export const description = [
	...updateDisplayOptions({ show: { resource: ['message'], operation: ['sendTemplate'], ...VERSION_ONE } }, versionOne),
	...updateDisplayOptions({ show: { resource: ['message'], operation: ['sendTemplate'], ...VERSION_TWO } }, versionTwo),
];

type Parameter = { name?: string; value?: string };

function parametersOf(list: Parameter[] | undefined, named: boolean): string[] | Record<string, string> {
	if (!named) return (list ?? []).map((parameter) => parameter.value ?? '');
	return Object.fromEntries((list ?? []).map((parameter) => [parameter.name ?? '', parameter.value ?? '']));
}

/** `welcome|de` (from the list, or typed) as name and language. */
export function templateReference(value: unknown): { name: string; language?: string } {
	const text = String((value as { value?: unknown } | null)?.value ?? value ?? '').trim();
	const [name, language] = text.split('|').map((part) => part.trim());
	if (!name) throw new ValidationError('template', 'No template is chosen', 'Choose a template from the list, or give its name and language, e.g. welcome|de');
	return { name, ...(language ? { language } : {}) };
}

export async function build(read: ParameterReader, index: number, context: BuildContext): Promise<OutgoingMessage> {
	if (context.version >= 2) {
		const { name, language } = templateReference(read('template', index));
		const template = await context.template(name, language);
		const values = (read('templateVariables.value', index, {}) ?? {}) as Record<string, unknown>;
		return { type: 'template', ...templateContentOf(template, values) };
	}
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
