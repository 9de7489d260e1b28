/**
 * The sample workflows load in n8n as they are, checked with n8n's own node types (test/helpers/workflow-check.ts);
 * and an edit that would break one in n8n's editor is caught: generated edits of every kind, on every file.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { INode } from 'n8n-workflow';
import { engineNodeTypes, readWorkflowFile, type WorkflowJson } from '../helpers/n8n-engine';
import { workflowIssues } from '../helpers/workflow-check';
import { properties as triggerProperties } from '../../nodes/OptInTrigger/description';

const WORKFLOWS = join(__dirname, '..', '..', 'workflows');
const files = readdirSync(WORKFLOWS).filter((file) => file.endsWith('.json')).sort();
const workflows = new Map(files.map((file) => [file, readWorkflowFile(join(WORKFLOWS, file))]));

test.each(files)('%s loads in n8n as it is', (file) => {
	expect(workflowIssues(workflows.get(file)!)).toEqual([]);
});

test.each(files)('%s says in its sticky notes which credentials to set up', (file) => {
	const workflow = workflows.get(file)!;
	const notes = workflow.nodes.filter((node) => node.type === 'n8n-nodes-base.stickyNote').map((node) => String(node.parameters.content));
	expect(notes.length).toBeGreaterThan(0);
	const named = new Set(workflow.nodes.flatMap((node) => Object.values(node.credentials ?? {}).map((credential) => credential.name)));
	expect([...named].filter((name) => !notes.some((note) => note.includes(name)))).toEqual([]);
});

type Edit = (workflow: WorkflowJson, pick: number) => WorkflowJson | undefined;

const withNode = (workflow: WorkflowJson, index: number, change: (node: INode) => INode): WorkflowJson => ({
	...workflow,
	nodes: workflow.nodes.map((node, at) => (at === index ? change(structuredClone(node)) : node)),
});

/** Required string parameters the node shows and fills in; emptying one is an edit n8n flags. */
function filledRequired(node: INode): string[] {
	const { description } = engineNodeTypes.getByNameAndVersion(node.type, node.typeVersion);
	return description.properties
		.filter((property) => property.required && property.type === 'string' && typeof node.parameters[property.name] === 'string' && node.parameters[property.name] !== '')
		.map((property) => property.name);
}

/** Each kind of edit that breaks a workflow in n8n; undefined where the picked node offers no such edit. */
const EDITS: Record<string, Edit> = {
	'unknown node type': (w, pick) => withNode(w, pick % w.nodes.length, (node) => ({ ...node, type: `${node.type}Typo` })),
	'unknown type version': (w, pick) => withNode(w, pick % w.nodes.length, (node) => ({ ...node, typeVersion: 99 })),
	'unknown parameter': (w, pick) => withNode(w, pick % w.nodes.length, (node) => ({ ...node, parameters: { ...node.parameters, notAParameter: 'x' } })),
	'option value n8n does not offer': (w, pick) => {
		const index = w.nodes.findIndex((node, at) => at >= pick % w.nodes.length && ['operation', 'resource', 'mode', 'method'].some((key) => typeof node.parameters[key] === 'string'));
		if (index < 0) return undefined;
		const key = ['operation', 'resource', 'mode', 'method'].find((name) => typeof w.nodes[index].parameters[name] === 'string')!;
		return withNode(w, index, (node) => ({ ...node, parameters: { ...node.parameters, [key]: 'notAnOption' } }));
	},
	'required parameter emptied': (w, pick) => {
		const index = w.nodes.findIndex((node, at) => at >= pick % w.nodes.length && filledRequired(node).length > 0);
		if (index < 0) return undefined;
		return withNode(w, index, (node) => ({ ...node, parameters: { ...node.parameters, [filledRequired(node)[0]]: '' } }));
	},
	'credentials removed': (w, pick) => {
		const index = w.nodes.findIndex((node, at) => at >= pick % w.nodes.length && node.credentials);
		return index < 0 ? undefined : withNode(w, index, (node) => ({ ...node, credentials: undefined }));
	},
	'connected node renamed without its connections': (w, pick) => {
		const targets = Object.values(w.connections).flatMap((byType) => Object.values(byType).flat(2)).map((target) => target!.node);
		const target = targets[pick % targets.length];
		return target === undefined ? undefined : { ...w, nodes: w.nodes.map((node) => (node.name === target ? { ...node, name: `${node.name} (copy)` } : node)) };
	},
	'connection from an output the node lacks': (w, pick) => {
		const sources = Object.keys(w.connections);
		const source = sources[pick % sources.length];
		if (source === undefined) return undefined;
		const main = [...w.connections[source].main];
		main[9] = [{ node: w.nodes[0].name, type: 'main' as never, index: 0 }];
		return { ...w, connections: { ...w.connections, [source]: { ...w.connections[source], main } } };
	},
};

test('an edit that breaks a workflow in n8n is reported, whatever the file, node or kind of edit', () => {
	fc.assert(
		fc.property(fc.constantFrom(...files), fc.constantFrom(...Object.keys(EDITS)), fc.nat(1000), (file, kind, pick) => {
			const edited = EDITS[kind](workflows.get(file)!, pick);
			fc.pre(edited !== undefined);
			expect(workflowIssues(edited!)).not.toEqual([]);
		}),
		{ numRuns: 300 },
	);
});

const OPT_IN_TRIGGER = 'n8n-nodes-whatsapp-consent.optInTrigger';
const DEFAULT_EVENTS = triggerProperties.find((property) => property.name === 'events')!.default as string[];

/** The node that main output `index` of `name` leads to first. */
const nextNode = (workflow: WorkflowJson, name: string, index = 0) => {
	const target = workflow.connections[name]?.main?.[index]?.[0]?.node;
	return workflow.nodes.find((node) => node.name === target);
};

/**
 * The events an Opt-In Trigger starts its workflow on that no connected branch of the Switch after it takes: an item
 * that would end the run unnoticed. For the Switch after the trigger (and after any nodes that pass items on).
 */
function unroutedEvents(workflow: WorkflowJson): string[] {
	return workflow.nodes
		.filter((node) => node.type === OPT_IN_TRIGGER)
		.flatMap((trigger) => {
			let node = nextNode(workflow, trigger.name);
			while (node && node.type !== 'n8n-nodes-base.switch') node = nextNode(workflow, node.name);
			const events = (trigger.parameters.events as string[] | undefined) ?? DEFAULT_EVENTS;
			if (!node) return events.map((event) => `${trigger.name}: ${event} (no Switch on the event)`);
			const rules = (node.parameters.rules as { values: { conditions: { conditions: { leftValue: string; rightValue: string; operator: { operation: string } }[] } }[] }).values;
			const switchName = node.name;
			const routed = rules
				.filter((_rule, index) => (workflow.connections[switchName]?.main?.[index] ?? []).length > 0)
				.flatMap((rule) => rule.conditions.conditions)
				.filter((condition) => condition.leftValue === '={{ $json.event }}' && condition.operator.operation === 'equals')
				.map((condition) => condition.rightValue);
			return events.filter((event) => !routed.includes(event)).map((event) => `${trigger.name}: ${event}`);
		});
}

test.each(files.filter((file) => workflows.get(file)!.nodes.some((node) => node.type === OPT_IN_TRIGGER)))(
	'%s takes every event its Opt-In Trigger starts it on',
	(file) => {
		const workflow = workflows.get(file)!;
		expect(unroutedEvents(workflow)).toEqual([]);
		// And the check sees a route removed: each routed event, unconnected, is reported.
		const switchNode = workflow.nodes.find((node) => node.type === 'n8n-nodes-base.switch')!;
		const outputs = workflow.connections[switchNode.name].main;
		for (let index = 0; index < outputs.length; index++) {
			const cut = { ...workflow, connections: { ...workflow.connections, [switchNode.name]: { main: outputs.map((targets, at) => (at === index ? [] : targets)) } } };
			expect(unroutedEvents(cut)).toHaveLength(1);
		}
	},
);
