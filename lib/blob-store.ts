// Durable file storage in PostgreSQL chunks: uploads stream in, readers stream out from any byte offset.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { and, asc, eq, gte, sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { blobChunks, blobs } from '../db/schema/index.js';
import { newId } from './ids.js';

export const CHUNK_SIZE = 256 * 1024;

export class BlobTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`file exceeds the ${limit}-byte limit`);
    this.name = 'BlobTooLargeError';
  }
}

export interface StoredBlob {
  id: string;
  size: number;
  sha256: string;
  contentType: string;
  filename: string | null;
}

export interface PutOptions {
  kind: string;
  contentType: string;
  filename?: string;
  maxBytes?: number;
  id?: string;
}

export class BlobStore {
  constructor(private readonly db: Database) {}

  /** Streams `source` into chunks; deletes the partial blob and rethrows if the source fails or is too large. */
  async put(source: AsyncIterable<Uint8Array>, options: PutOptions): Promise<StoredBlob> {
    const id = options.id ?? newId('blob');
    await this.db.insert(blobs).values({ id, kind: options.kind, contentType: options.contentType, filename: options.filename ?? null });
    const hash = createHash('sha256');
    let size = 0;
    let seq = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      const data = Buffer.concat(pending);
      pending = [];
      pendingBytes = 0;
      await this.db.insert(blobChunks).values({ blobId: id, seq: seq++, data });
    };
    try {
      for await (const piece of source) {
        const chunk = Buffer.from(piece);
        size += chunk.length;
        if (options.maxBytes !== undefined && size > options.maxBytes) throw new BlobTooLargeError(options.maxBytes);
        hash.update(chunk);
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= CHUNK_SIZE) await flush();
      }
      await flush();
    } catch (error) {
      await this.delete(id);
      throw error;
    }
    const sha256 = hash.digest('hex');
    await this.db.update(blobs).set({ size, sha256, completedAt: new Date() }).where(eq(blobs.id, id));
    return { id, size, sha256, contentType: options.contentType, filename: options.filename ?? null };
  }

  async stat(id: string): Promise<StoredBlob | undefined> {
    const [row] = await this.db
      .select()
      .from(blobs)
      .where(and(eq(blobs.id, id), sql`${blobs.completedAt} is not null`));
    return row ? { id: row.id, size: row.size, sha256: row.sha256 ?? '', contentType: row.contentType, filename: row.filename } : undefined;
  }

  /** A readable stream of the blob from `startByte`, fetching one chunk at a time. */
  read(id: string, startByte = 0): Readable {
    const db = this.db;
    async function* chunks() {
      let offset = 0;
      let nextSeq = 0;
      for (;;) {
        const rows = await db
          .select()
          .from(blobChunks)
          .where(and(eq(blobChunks.blobId, id), gte(blobChunks.seq, nextSeq)))
          .orderBy(asc(blobChunks.seq))
          .limit(4);
        if (rows.length === 0) return;
        for (const row of rows) {
          nextSeq = row.seq + 1;
          const end = offset + row.data.length;
          if (end > startByte) yield startByte > offset ? row.data.subarray(startByte - offset) : row.data;
          offset = end;
        }
      }
    }
    return Readable.from(chunks());
  }

  async readAll(id: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const part of this.read(id)) parts.push(part as Buffer);
    return Buffer.concat(parts);
  }

  async delete(id: string): Promise<void> {
    await this.db.delete(blobs).where(eq(blobs.id, id));
  }
}
