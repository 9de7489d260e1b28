/** The editor's template list and the fields of the chosen template, from the credential's business account. */
import {
	NodeOperationError,
	type ILoadOptionsFunctions,
	type INodeListSearchResult,
	type ResourceMapperFields,
} from 'n8n-workflow';
import { findTemplate } from '../../../lib/templates';
import { templateVariables, type TemplateInfo } from '../../../lib/whatsapp/templates';
import { toNodeError } from '../../shared/errors';
import { templateReference } from '../actions/message/sendTemplate.operation';
import { templatesFor } from '../transport/client';

async function directoryOf(context: ILoadOptionsFunctions) {
	const directory = templatesFor(await context.getCredentials('whatsAppCloudApi'));
	if (!directory) {
		throw new NodeOperationError(context.getNode(), 'The WhatsApp credential has no Business Account ID', {
			description: 'Enter the WhatsApp Business Account ID (WhatsApp Manager → Account tools) in the credential to list its templates',
		});
	}
	return directory;
}

/** What the list shows of a template: name, language, category and parameter format. */
function listName(template: TemplateInfo): string {
	return `${template.name} · ${template.language} · ${template.category} · ${template.parameterFormat === 'NAMED' ? 'named' : 'positional'}`;
}

/**
 * The approved templates, a page of Meta's list at a time (n8n asks for the next with its cursor), filtered by what
 * the user typed: a part of the name, the language, or the category.
 */
export async function searchTemplates(this: ILoadOptionsFunctions, filter?: string, paginationToken?: string): Promise<INodeListSearchResult> {
	const directory = await directoryOf(this);
	try {
		const page = await directory.page(paginationToken, 100);
		const wanted = (filter ?? '').trim().toLowerCase();
		const results = page.templates
			.filter((template) => template.status === 'APPROVED' && (wanted === '' || listName(template).toLowerCase().includes(wanted)))
			.map((template) => ({ name: listName(template), value: `${template.name}|${template.language}` }));
		return { results, ...(page.after ? { paginationToken: page.after } : {}) };
	} catch (error) {
		throw toNodeError(this.getNode(), error);
	}
}

/** One field per variable of the chosen template (n8n's resource mapper). */
export async function getTemplateVariables(this: ILoadOptionsFunctions): Promise<ResourceMapperFields> {
	const directory = await directoryOf(this);
	const chosen = String(this.getNodeParameter('template', '', { extractValue: true }) ?? '').trim();
	// Nothing chosen yet: no fields, and no error for the editor to show.
	if (chosen === '') return { fields: [], emptyFieldsNotice: 'Choose a template to see its variables' };
	try {
		const { name, language } = templateReference(chosen);
		const template = await findTemplate(directory, async () => [], name, language);
		return {
			fields: templateVariables(template).map((variable) => ({
				id: variable.id,
				displayName: variable.displayName,
				required: variable.required,
				defaultMatch: false,
				canBeUsedToMatch: false,
				display: true,
				type: 'string',
			})),
			emptyFieldsNotice: `Template '${template.name}' has no variables: it is sent as approved`,
		};
	} catch (error) {
		throw toNodeError(this.getNode(), error);
	}
}
