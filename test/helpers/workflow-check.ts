/**
 * What n8n's editor would flag in a workflow file, found with n8n's own node types and helpers (n8n-workflow's
 * Workflow and NodeHelpers, the node classes of n8n-nodes-base and this package): node types or versions n8n does
 * not know, parameters a node does not have (or does not show for its other settings), option values it does not
 * offer, required parameters left empty, connections to or from nodes that do not exist, and credentials a node needs
 * but does not name. An empty list means n8n loads the workflow as it is.
 */
import {
	NodeHelpers,
	type INode,
	type INodeParameters,
	type INodeProperties,
	type INodePropertyCollection,
	type INodePropertyOptions,
	type INodeTypeDescription,
	type NodeParameterValueType,
} from 'n8n-workflow';
import { engineNodeTypes, engineWorkflow, type WorkflowJson } from './n8n-engine';

const isExpression = (value: unknown) => typeof value === 'string' && value.startsWith('=');

/** Options loaded from the provider at edit time (a list of HubSpot properties): any value may be right. */
const loadsOptions = (property: INodeProperties) => Boolean(property.typeOptions?.loadOptionsMethod || property.typeOptions?.loadOptions);

interface Context {
	node: INode;
	description: INodeTypeDescription;
	/** The node's parameters with n8n's defaults filled in, which is what display options are decided on. */
	resolved: INodeParameters;
	issues: string[];
}

function checkValues(context: Context, properties: INodeProperties[], values: INodeParameters, path: string): void {
	for (const [name, value] of Object.entries(values)) {
		const where = path ? `${path}.${name}` : name;
		const named = properties.filter((property) => property.name === name);
		if (named.length === 0) {
			context.issues.push(`${context.node.name}: n8n's ${context.description.displayName} has no parameter "${where}"`);
			continue;
		}
		const shown = named.filter((property) => NodeHelpers.displayParameterPath(context.resolved, property, path, context.node, context.description));
		if (shown.length === 0) {
			context.issues.push(`${context.node.name}: "${where}" is not shown for these settings, so n8n ignores it (check resource and operation)`);
			continue;
		}
		const problems = shown.map((property) => valueProblems(context, property, value, where));
		// The same name may be declared several times (one per operation); one declaration that takes the value is enough.
		if (problems.every((found) => found.length > 0)) context.issues.push(...problems[0]);
	}
}

function valueProblems(context: Context, property: INodeProperties, value: NodeParameterValueType, where: string): string[] {
	if (isExpression(value) || value === null || value === undefined) return [];
	const issues: string[] = [];
	const nested: Context = { ...context, issues };
	const optionValues = () => (property.options as INodePropertyOptions[]).map((option) => option.value);
	switch (property.type) {
		case 'options':
			if (!loadsOptions(property) && property.options && !optionValues().includes(value as string)) {
				issues.push(`${context.node.name}: "${where}" is ${JSON.stringify(value)}, not one of ${JSON.stringify(optionValues())}`);
			}
			break;
		case 'multiOptions':
			if (!loadsOptions(property) && property.options && Array.isArray(value)) {
				for (const entry of value) {
					if (!isExpression(entry) && !optionValues().includes(entry as string)) {
						issues.push(`${context.node.name}: "${where}" holds ${JSON.stringify(entry)}, not one of ${JSON.stringify(optionValues())}`);
					}
				}
			}
			break;
		case 'collection':
			checkValues(nested, property.options as INodeProperties[], value as INodeParameters, where);
			break;
		case 'fixedCollection':
			for (const [group, entries] of Object.entries(value as INodeParameters)) {
				const collection = (property.options as INodePropertyCollection[]).find((option) => option.name === group);
				if (!collection) {
					issues.push(`${context.node.name}: "${where}" has no group "${group}"`);
					continue;
				}
				const list = Array.isArray(entries) ? entries : [entries];
				list.forEach((entry, index) => checkValues(nested, collection.values, entry as INodeParameters, `${where}.${group}${Array.isArray(entries) ? `[${index}]` : ''}`));
			}
			break;
		default:
			break;
	}
	return issues;
}

function nodeIssues(node: INode): string[] {
	let description: INodeTypeDescription;
	try {
		const type = engineNodeTypes.getByNameAndVersion(node.type, node.typeVersion);
		if (!type) return [`${node.name}: n8n has no version ${node.typeVersion} of ${node.type}`];
		description = type.description;
	} catch (error) {
		return [`${node.name}: ${(error as Error).message}`];
	}
	if (!([] as number[]).concat(description.version).includes(node.typeVersion)) {
		return [`${node.name}: n8n has no version ${node.typeVersion} of ${node.type} (it has ${String(description.version)})`];
	}
	const resolved = NodeHelpers.getNodeParameters(description.properties, node.parameters, true, false, node, description) ?? {};
	const context: Context = { node, description, resolved, issues: [] };
	checkValues(context, description.properties, node.parameters, '');

	const required = NodeHelpers.getNodeParametersIssues(description.properties, { ...node, parameters: resolved }, description);
	for (const [name, messages] of Object.entries(required?.parameters ?? {})) context.issues.push(`${node.name}: ${name}: ${messages.join('; ')}`);

	for (const credential of description.credentials ?? []) {
		if (!credential.required || !NodeHelpers.displayParameter(resolved, credential, node, description)) continue;
		const chosen = node.credentials?.[credential.name];
		if (!chosen?.name) context.issues.push(`${node.name}: needs a credential of type "${credential.name}"`);
	}
	return context.issues;
}

function connectionIssues(workflow: WorkflowJson): string[] {
	const names = new Set(workflow.nodes.map((node) => node.name));
	const issues: string[] = [];
	const built = engineWorkflow(workflow);
	for (const [source, byType] of Object.entries(workflow.connections)) {
		if (!names.has(source)) {
			issues.push(`connections start at "${source}", which is not a node of the workflow`);
			continue;
		}
		const node = built.getNode(source)!;
		const outputs = NodeHelpers.getNodeOutputs(built, node, engineNodeTypes.getByNameAndVersion(node.type, node.typeVersion).description).length;
		for (const [type, byOutput] of Object.entries(byType)) {
			byOutput.forEach((targets, output) => {
				if (output >= outputs && (targets ?? []).length > 0) issues.push(`"${source}" has no output ${output} (it has ${outputs})`);
				for (const target of targets ?? []) {
					if (!names.has(target.node)) issues.push(`"${source}" (${type} output ${output}) leads to "${target.node}", which is not a node of the workflow`);
				}
			});
		}
	}
	return issues;
}

/** What n8n would flag in the workflow; empty when it loads as it is. */
export function workflowIssues(workflow: WorkflowJson): string[] {
	const nodeProblems = workflow.nodes.flatMap(nodeIssues);
	const names = workflow.nodes.map((node) => node.name);
	const duplicates = names.filter((name, index) => names.indexOf(name) !== index).map((name) => `two nodes are named "${name}"`);
	// Connections are read with the node types, so only once every node is one n8n knows.
	return [...nodeProblems, ...duplicates, ...(nodeProblems.length || duplicates.length ? [] : connectionIssues(workflow))];
}
