// Streams a mailing list through csv-parse. UTF-8 (with or without BOM), CRLF or LF, quoted fields,
// `,` or `;`. Yields batches with the byte offset just after each batch, so a retried parse resumes
// where the last heartbeat said it stopped instead of starting over.
import { Parser } from 'csv-parse';
import type { Readable } from 'node:stream';

export class MailingFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MailingFileError';
  }
}

export interface CsvLayout {
  delimiter: ',' | ';';
  column: number;
}
/** Consecutive rows: `values[i]` is row `firstRow + i`'s address cell. */
export interface CsvBatch {
  firstRow: number;
  values: string[];
  endByte: number;
  layout: CsvLayout;
}

export interface ParseOptions {
  hasHeader: boolean;
  emailColumn: string | number | null;
  delimiter: ',' | ';' | null;
  /** Resume point from a previous attempt. */
  resume?: { startByte: number; lastRow: number; layout: CsvLayout };
  batchSize?: number;
}

const emailHeaders = ['email', 'e-mail', 'email address', 'email_address', 'mail', 'address'];

/** Rejects what is not UTF-8 text: invalid sequences, or NUL bytes (a binary file). */
async function* utf8Checked(source: Readable): AsyncGenerator<Buffer> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for await (const chunk of source) {
    const buffer = chunk as Buffer;
    try {
      decoder.decode(buffer, { stream: true });
    } catch {
      throw new MailingFileError('the file is not UTF-8 text');
    }
    if (buffer.includes(0)) throw new MailingFileError('the file is binary, not CSV');
    yield buffer;
  }
}

function chooseColumn(header: string[] | null, firstRow: string[], options: ParseOptions): number {
  const { emailColumn } = options;
  if (typeof emailColumn === 'number') {
    if (emailColumn >= (header ?? firstRow).length) throw new MailingFileError(`no column ${emailColumn}: the file has ${(header ?? firstRow).length}`);
    return emailColumn;
  }
  if (header) {
    const names = header.map((h) => h.trim().toLowerCase());
    const wanted = emailColumn ? [emailColumn.trim().toLowerCase()] : emailHeaders;
    const index = names.findIndex((n) => wanted.includes(n));
    if (index === -1)
      throw new MailingFileError(
        `no address column: expected a header named ${emailColumn ? `"${emailColumn}"` : '"email"'}, found ${header.map((h) => `"${h}"`).join(', ') || 'nothing'}`,
      );
    return index;
  }
  // No header: the column whose first value looks like an address, else the first.
  const guess = firstRow.findIndex((v) => v.includes('@'));
  return guess === -1 ? 0 : guess;
}

/**
 * csv-parse's stream, each record paired with the parser's byte count just after it: the offset a resume
 * starts from. Its own `info` option copies the whole info object for every record (half the worker's CPU
 * in an ingest, mostly as garbage); a batch needs only the offset after its last row.
 */
class RecordsWithOffsets extends Parser {
  override push(record: unknown, encoding?: BufferEncoding): boolean {
    return super.push(record === null ? null : { record, bytes: this.info.bytes }, encoding);
  }
}

function sniffDelimiter(head: string): ',' | ';' {
  const line = head.split(/\r?\n/)[0] ?? '';
  return (line.match(/;/g)?.length ?? 0) > (line.match(/,/g)?.length ?? 0) ? ';' : ',';
}

export async function* parseMailingCsv(open: (startByte: number) => Readable, options: ParseOptions): AsyncGenerator<CsvBatch> {
  const batchSize = options.batchSize ?? 1_000;
  const startByte = options.resume?.startByte ?? 0;
  let layout = options.resume?.layout;
  // The number of the last row handed out (a resumed parse goes on from its checkpoint's).
  let lastRow = options.resume?.lastRow ?? 0;

  const source = utf8Checked(open(startByte));
  // Peek at the first chunk to choose the delimiter before csv-parse starts.
  const first = await source.next();
  if (first.done) {
    if (startByte === 0) throw new MailingFileError('the file is empty');
    return;
  }
  const delimiter = layout?.delimiter ?? options.delimiter ?? sniffDelimiter(first.value.toString('utf8').replace(/^\uFEFF/, ''));
  async function* all() {
    yield first.value as Buffer;
    yield* source;
  }
  const csv = new RecordsWithOffsets({ delimiter, bom: startByte === 0, relax_column_count: true, skip_empty_lines: true, trim: false });
  const feed = (async () => {
    try {
      for await (const chunk of all()) if (!csv.write(chunk)) await new Promise((r) => csv.once('drain', r));
      csv.end();
    } catch (error) {
      csv.destroy(error as Error);
    }
  })();

  let header: string[] | null = null;
  let values: string[] = [];
  let endByte = startByte;
  try {
    for await (const item of csv as AsyncIterable<{ record: string[]; bytes: number }>) {
      const { record, bytes } = item;
      if (!layout) {
        if (options.hasHeader && header === null) {
          header = record;
          endByte = startByte + bytes;
          continue;
        }
        layout = { delimiter, column: chooseColumn(header, record, options) };
      }
      values.push(record[layout.column] ?? '');
      endByte = startByte + bytes;
      if (values.length >= batchSize) {
        yield { firstRow: lastRow + 1, values, endByte, layout };
        lastRow += values.length;
        values = [];
      }
    }
  } catch (error) {
    if (error instanceof MailingFileError) throw error;
    throw new MailingFileError(`the file is not valid CSV: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await feed;
  }
  if (!layout) {
    if (header) throw new MailingFileError('the file has a header but no rows');
    return;
  }
  if (values.length) yield { firstRow: lastRow + 1, values, endByte, layout };
}
