/** Core errors as n8n shows them: the message says what is wrong, the description how to fix it. */
import { NodeOperationError, type INode } from 'n8n-workflow';
import { ConsentError } from '../../lib/errors';

export function toNodeError(node: INode, error: unknown, itemIndex?: number): Error {
	if (error instanceof NodeOperationError) return error;
	if (error instanceof ConsentError) {
		return new NodeOperationError(node, error.message, { itemIndex, description: error.hint });
	}
	return new NodeOperationError(node, error as Error, { itemIndex });
}
