// Creates the PostgreSQL test database when it is missing, so `npm test` works on a fresh machine.
import { Client } from 'pg';

export default async function globalSetup(): Promise<void> {
	const url = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/consent_test');
	const database = url.pathname.slice(1);
	const admin = new URL(url.toString());
	admin.pathname = '/postgres';
	const client = new Client({ connectionString: admin.toString() });
	try {
		await client.connect();
	} catch (error) {
		throw new Error(`PostgreSQL does not answer at ${url.host} (${(error as Error).message}). Start it, or run bash .ci/run, which starts it.`);
	}
	const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
	if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${database}"`);
	await client.end();
}
