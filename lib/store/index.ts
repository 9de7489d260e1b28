import { openEmbeddedStore } from './embedded';
import { migrate } from './migrations';
import { openPostgresStore } from './postgres';
import type { Store, StoreConfig } from './store';

export type { FollowUp, Queryable, Store, StoreConfig, EmbeddedStoreConfig, PostgresStoreConfig, Row } from './store';

/** Opens the configured store and brings its schema up to date. */
export async function openStore(config: StoreConfig): Promise<Store> {
	const store = config.kind === 'embedded' ? await openEmbeddedStore(config) : await openPostgresStore(config);
	try {
		await migrate(store);
	} catch (error) {
		await store.close();
		throw error;
	}
	return store;
}
