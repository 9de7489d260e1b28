/**
 * A mail server on a free local port that takes every message, for n8n's Send Email node (nodemailer) to deliver
 * to over real SMTP: the plain dialogue of RFC 5321 without TLS or authentication, nothing more.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';

export interface ReceivedMail {
	from: string;
	to: string[];
	/** Header fields by lower-case name, with RFC 2047 encoded words decoded. */
	headers: Record<string, string>;
	/** The body, with quoted-printable decoded. */
	text: string;
}

export interface SmtpReceiver {
	port: number;
	mails: ReceivedMail[];
	close(): Promise<void>;
}

const decodeQuotedPrintable = (text: string) =>
	Buffer.from(text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8');

const decodeWords = (value: string) =>
	value.replace(/=\?utf-8\?([QB])\?([^?]*)\?=/gi, (_, encoding: string, text: string) =>
		encoding.toUpperCase() === 'B' ? Buffer.from(text, 'base64').toString('utf8') : decodeQuotedPrintable(text.replace(/_/g, ' ')),
	);

function parse(from: string, to: string[], data: string): ReceivedMail {
	const [head, ...rest] = data.split(/\r?\n\r?\n/);
	const headers: Record<string, string> = {};
	for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
		const colon = line.indexOf(':');
		if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = decodeWords(line.slice(colon + 1).trim());
	}
	const body = rest.join('\r\n\r\n').replace(/^\.\./gm, '.');
	const encoding = headers['content-transfer-encoding']?.toLowerCase();
	const text = encoding === 'quoted-printable' ? decodeQuotedPrintable(body) : encoding === 'base64' ? Buffer.from(body, 'base64').toString('utf8') : body;
	return { from, to, headers, text: text.replace(/\r\n/g, '\n').trimEnd() };
}

function session(socket: Socket, mails: ReceivedMail[]): void {
	let buffer = '';
	let from = '';
	let to: string[] = [];
	let data: string[] | undefined;
	const reply = (line: string) => socket.write(`${line}\r\n`);
	reply('220 localhost ESMTP test receiver');
	socket.on('data', (chunk) => {
		buffer += chunk.toString('utf8');
		let end: number;
		while ((end = buffer.indexOf('\r\n')) >= 0) {
			const line = buffer.slice(0, end);
			buffer = buffer.slice(end + 2);
			if (data) {
				if (line === '.') {
					mails.push(parse(from, to, data.join('\r\n')));
					data = undefined;
					reply('250 OK: queued');
				} else data.push(line);
				continue;
			}
			const verb = line.slice(0, 4).toUpperCase();
			if (verb === 'EHLO' || verb === 'HELO') reply('250 localhost');
			else if (verb === 'MAIL') [from, to] = [line.replace(/^MAIL FROM:\s*<?([^>\s]*)>?.*$/i, '$1'), []];
			else if (verb === 'RCPT') to.push(line.replace(/^RCPT TO:\s*<?([^>\s]*)>?.*$/i, '$1'));
			else if (verb === 'DATA') data = [];
			else if (verb === 'QUIT') {
				reply('221 Bye');
				socket.end();
				continue;
			}
			if (verb === 'MAIL' || verb === 'RCPT' || verb === 'RSET' || verb === 'NOOP') reply('250 OK');
			else if (verb === 'DATA') reply('354 End data with <CR><LF>.<CR><LF>');
			else if (!['EHLO', 'HELO'].includes(verb)) reply('502 Command not implemented');
		}
	});
}

export async function startSmtpReceiver(): Promise<SmtpReceiver> {
	const mails: ReceivedMail[] = [];
	const sockets = new Set<Socket>();
	const server = createServer((socket) => {
		sockets.add(socket);
		socket.on('close', () => sockets.delete(socket));
		session(socket, mails);
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	return {
		port: (server.address() as AddressInfo).port,
		mails,
		close: () =>
			new Promise<void>((resolve) => {
				for (const socket of sockets) socket.destroy();
				server.close(() => resolve());
			}),
	};
}
