/**
 * `POST /{version}/{phone-number-id}/media`: Meta's media upload, a multipart form with `messaging_product`,
 * `type` (the MIME type) and `file`. The sandbox checks what Meta checks (the form's fields, the MIME type and size
 * per media type, the same table the client checks against before it uploads) and keeps a digest of each file, so
 * the chat shows what a media id stands for. The bytes themselves are not kept.
 */
import { createHash } from 'node:crypto';
import { MEDIA_FILE_LIMITS, type MediaKind } from '../lib/whatsapp/messages';
import { GraphApiError } from './graph-errors';

/** Meta's largest upload (a document): bodies up to this and the form around it are read on the media path. */
export const MAX_UPLOAD_BYTES = MEDIA_FILE_LIMITS.document.maxBytes + 64 * 1024;

export interface UploadedMedia {
	id: string;
	kind: MediaKind;
	mimeType: string;
	bytes: number;
	sha256: string;
	fileName?: string;
}

interface Part {
	name: string;
	fileName?: string;
	contentType?: string;
	data: Buffer;
}

/** The parts of a `multipart/form-data` body (RFC 7578): enough of it for Meta's three fields. */
export function parseMultipart(contentType: string | undefined, body: Buffer): Part[] {
	const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType ?? '');
	if (!/^multipart\/form-data/i.test(contentType ?? '') || !boundary) {
		throw new GraphApiError(100, 'The upload must be multipart/form-data with the fields messaging_product, type and file', { message: '(#100) Invalid parameter' });
	}
	const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2].trim()}`);
	const parts: Part[] = [];
	let start = body.indexOf(delimiter);
	while (start !== -1) {
		const headerStart = start + delimiter.length;
		if (body.subarray(headerStart, headerStart + 2).toString() === '--') break;
		const next = body.indexOf(delimiter, headerStart);
		if (next === -1) break;
		const part = body.subarray(headerStart + 2, next - 2); // the CRLF after the delimiter and before the next one
		const split = part.indexOf('\r\n\r\n');
		if (split !== -1) {
			const headers = part.subarray(0, split).toString('utf8');
			const disposition = /content-disposition:[^\r\n]*?\bname="([^"]*)"(?:[^\r\n]*?\bfilename="([^"]*)")?/i.exec(headers);
			const type = /content-type:\s*([^\r\n]+)/i.exec(headers);
			if (disposition) parts.push({ name: disposition[1], fileName: disposition[2], contentType: type?.[1].trim(), data: part.subarray(split + 4) });
		}
		start = next;
	}
	return parts;
}

const KINDS = Object.keys(MEDIA_FILE_LIMITS) as MediaKind[];

/** Checks an upload as Meta does and records it; the id is numeric like Meta's. */
export function acceptUpload(contentType: string | undefined, body: Buffer, store: Map<string, UploadedMedia>): { id: string } {
	const parts = parseMultipart(contentType, body);
	const field = (name: string) => parts.find((part) => part.name === name);
	const product = field('messaging_product')?.data.toString('utf8');
	if (product !== 'whatsapp') throw new GraphApiError(100, 'The parameter messaging_product is required.', { message: '(#100) The parameter messaging_product is required.' });
	const file = field('file');
	if (!file) throw new GraphApiError(100, 'The parameter file is required.', { message: '(#100) The parameter file is required.' });
	const mimeType = (field('type')?.data.toString('utf8') ?? file.contentType ?? '').trim().toLowerCase();
	const kind = KINDS.find((candidate) => MEDIA_FILE_LIMITS[candidate].mimeTypes.includes(mimeType));
	if (!kind) throw new GraphApiError(131053, `Unsupported file type ${mimeType || '(none)'}`);
	const limit = MEDIA_FILE_LIMITS[kind].maxBytes;
	if (file.data.length > limit) throw new GraphApiError(131053, `The ${kind} file is ${file.data.length} bytes; the limit is ${limit} bytes`);
	const id = String(1_000_000_000_000_000 + store.size + 1);
	store.set(id, { id, kind, mimeType, bytes: file.data.length, sha256: createHash('sha256').update(file.data).digest('hex'), fileName: file.fileName });
	return { id };
}
