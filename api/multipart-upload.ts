// Streams a multipart upload: the file part goes straight into the blob store (never whole in memory),
// the text fields are collected. busboy parses; BlobStore.put enforces the size limit as bytes arrive.
import busboy from 'busboy';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { BlobTooLargeError, type BlobStore, type StoredBlob } from '../lib/blob-store.js';
import { AppError } from './errors.js';

const FIELDS_ALLOWANCE = 1024 * 1024;

export interface Upload {
  file: StoredBlob | undefined;
  fields: Record<string, string>;
}

export async function streamUpload(request: Request, blobs: BlobStore, options: { fileField: string; maxBytes: number; kind: string }): Promise<Upload> {
  const contentType = request.headers.get('content-type') ?? '';
  if (!/^multipart\/form-data/i.test(contentType) || !request.body) {
    throw new AppError('unsupported_media_type', `send multipart/form-data with the CSV in the "${options.fileField}" field`);
  }
  const fields: Record<string, string> = {};
  let file: StoredBlob | undefined;
  let pending: Promise<void> | undefined;
  let failure: unknown;
  // The file could not be stored (too large, or the store failed): stop reading the request.
  let failed: (error: unknown) => void = () => {};
  const pendingFailure = new Promise<unknown>((resolve) => {
    failed = resolve;
  });
  const parser = busboy({ headers: { 'content-type': contentType }, limits: { files: 1, fields: 20, fieldSize: 4096 } });
  parser.on('field', (name, value) => {
    fields[name] = value;
  });
  parser.on('file', (name, stream, info) => {
    if (name !== options.fileField || file || pending) {
      stream.resume();
      return;
    }
    pending = blobs
      .put(stream, { kind: options.kind, contentType: info.mimeType || 'text/csv', filename: info.filename || 'upload.csv', maxBytes: options.maxBytes })
      .then(
        (stored) => {
          file = stored;
        },
        (error: unknown) => {
          failure = error;
          failed(error);
        },
      );
  });
  // The whole request may not exceed the file's limit plus room for the fields: past that, reading stops
  // (the answer closes the connection), so an oversized or endless body is never read whole.
  const requestLimit = options.maxBytes + FIELDS_ALLOWANCE;
  const source = Readable.fromWeb(request.body as unknown as WebReadableStream);
  let received = 0;
  await new Promise<void>((resolve, reject) => {
    const stop = (error: unknown) => {
      failure ??= error;
      source.unpipe(parser);
      source.pause();
      resolve();
    };
    source.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > requestLimit) stop(new BlobTooLargeError(requestLimit));
    });
    parser.on('close', resolve);
    parser.on('error', reject);
    source.pipe(parser);
    void pendingFailure.then(stop);
  }).catch((error: unknown) => {
    failure ??= error;
  });
  await pending;
  if (failure instanceof BlobTooLargeError) {
    throw new AppError('payload_too_large', `the file exceeds ${options.maxBytes} bytes (MAILING_MAX_CSV_BYTES)`, { headers: { Connection: 'close' } });
  }
  if (failure) throw new AppError('bad_request', `could not read the upload: ${failure instanceof Error ? failure.message : 'unreadable multipart body'}`);
  return { file, fields };
}
