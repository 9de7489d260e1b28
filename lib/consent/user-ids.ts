/**
 * Meta's `user_changed_user_id` system message: a person's business-scoped user id (and parent user id) changed
 * without a number to share. The ledger keeps knowing them under the new ids; a redelivery changes nothing twice.
 */
import type { LedgerContext } from './context';
import { once } from './deliveries';
import { findSenders, phoneContext, tieUserIds } from './identity';

export interface UserIdChange {
	/** The system message's wamid, the key of its redeliveries. */
	messageId: string;
	previousUserId?: string;
	userId?: string;
	previousParentUserId?: string;
	parentUserId?: string;
	at: Date;
}

export interface UserIdChangeResult {
	/** False when the ledger knew nobody by the previous ids. */
	known: boolean;
	subjectId?: string;
}

export function changeUserId(ctx: LedgerContext, change: UserIdChange) {
	return once<UserIdChangeResult>(ctx, `user-id:${change.messageId}`, async (tx) => {
		const [person] = await findSenders(ctx, tx, { userId: change.previousUserId, parentUserId: change.previousParentUserId });
		if (!person) return { known: false };
		// Someone known only by their user id is addressed by it: their address changes with it.
		if (change.previousUserId && change.userId) {
			await tx.query('UPDATE subjects SET phone_hmac = $3, phone_enc = $4 WHERE id = $1 AND phone_hmac = $2', [
				person.id,
				ctx.keys.lookupHmac(`user:${change.previousUserId}`),
				ctx.keys.lookupHmac(`user:${change.userId}`),
				ctx.keys.encrypt(change.userId, phoneContext(person.id)),
			]);
		}
		await tieUserIds(ctx, tx, person.id, { userId: change.userId, parentUserId: change.parentUserId });
		return { known: true, subjectId: person.id };
	});
}
