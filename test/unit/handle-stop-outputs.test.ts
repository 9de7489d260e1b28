/**
 * Handle STOP's outputs as n8n computes them (NodeHelpers.getNodeOutputs, which the editor and the engine use for
 * an `outputs` expression): version 1 keeps its three, version 2 adds Help and Probably a Withdrawal after them, so
 * a connection made to one of the three keeps its index.
 */
import { NodeHelpers, Workflow, type INode, type INodeType, type INodeTypes } from 'n8n-workflow';
import { HandleStop } from '../../nodes/HandleStop/HandleStop.node';

const type = new HandleStop();
const nodeTypes: INodeTypes = {
	getByName: () => type as INodeType,
	getByNameAndVersion: () => type as INodeType,
	getKnownTypes: () => ({}),
};

function outputNames(typeVersion: number): string[] {
	const node: INode = {
		id: 'handle',
		name: 'Handle STOP',
		type: 'n8n-nodes-whatsapp-consent.handleStop',
		typeVersion,
		position: [0, 0],
		parameters: { businessName: 'Beispiel GmbH', signupUrl: '', options: {} },
	};
	const workflow = new Workflow({ nodes: [node], connections: {}, active: false, nodeTypes });
	return NodeHelpers.getNodeOutputs(workflow, node, type.description).map((output) => (typeof output === 'string' ? output : String(output.displayName)));
}

test('version 1: Withdrawn, Wants to Rejoin, Other Message', () => {
	expect(outputNames(1)).toEqual(['Withdrawn', 'Wants to Rejoin', 'Other Message']);
});

test('version 2: the same three first, then Help and Probably a Withdrawal', () => {
	expect(outputNames(2)).toEqual(['Withdrawn', 'Wants to Rejoin', 'Other Message', 'Help', 'Probably a Withdrawal']);
});

test('new nodes are version 2', () => {
	expect(type.description.defaultVersion).toBe(2);
});

test('the language lists of Handle STOP and Send WhatsApp offer every language replies exist in, and no other', async () => {
	const { REPLY_LANGUAGE_OPTIONS } = await import('../../nodes/shared/descriptions');
	const { KEYWORD_LANGUAGES } = await import('../../lib/keywords');
	expect(REPLY_LANGUAGE_OPTIONS.map((option) => option.value).sort()).toEqual([...KEYWORD_LANGUAGES].sort());
	expect(REPLY_LANGUAGE_OPTIONS.map((option) => option.name)).toEqual(REPLY_LANGUAGE_OPTIONS.map((option) => option.name).sort());
});
