import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { checkAddress } from '../../lib/mailings/addresses.js';
import { MailingFileError, parseMailingCsv, type CsvBatch, type ParseOptions } from '../../lib/mailings/csv.js';

const rowsOf = (batch: CsvBatch) => batch.values.map((value, i) => ({ row: batch.firstRow + i, value }));
const defaults: ParseOptions = { hasHeader: true, emailColumn: null, delimiter: null };

async function parseAll(content: string | Buffer, options: Partial<ParseOptions> = {}, chunk = 7) {
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
  const open = (start: number) =>
    Readable.from(
      (function* () {
        for (let i = start; i < bytes.length; i += chunk) yield bytes.subarray(i, Math.min(bytes.length, i + chunk));
      })(),
    );
  const batches = [];
  for await (const batch of parseMailingCsv(open, { ...defaults, ...options, batchSize: options.batchSize ?? 2 })) batches.push(batch);
  return { batches, rows: batches.flatMap(rowsOf), open };
}

describe('checkAddress', () => {
  it("rejects the sample list's invalid rows and accepts ordinary addresses", () => {
    for (const bad of ['invalid-email', 'not-an-email', '@domain.com', 'a@b', 'a b@c.com', 'a@@b.com', 'a@b..com', 'a@-b.com', 'a@b.c0m', '']) {
      expect(checkAddress(bad).ok, bad).toBe(false);
    }
    expect(checkAddress('  John.Doe+tag@Example.COM ')).toEqual({ ok: true, normalized: 'john.doe+tag@example.com' });
    expect(checkAddress("o'brien@mail.example.co.uk").ok).toBe(true);
  });
});

describe('parseMailingCsv', () => {
  it('reads a header, BOM and CRLF, quoted fields and numbers rows from 1', async () => {
    const { rows } = await parseAll('\uFEFFname,email\r\n"Doe, Jane",jane@example.com\r\n"Bob ""B""",bob@example.com\r\n\r\n');
    expect(rows).toEqual([
      { row: 1, value: 'jane@example.com' },
      { row: 2, value: 'bob@example.com' },
    ]);
  });

  it('detects ; as the delimiter and finds the column by name or index', async () => {
    expect((await parseAll('id;E-Mail\n1;a@x.com\n2;b@x.com\n')).rows.map((r) => r.value)).toEqual(['a@x.com', 'b@x.com']);
    expect((await parseAll('a@x.com,1\nb@x.com,2\n', { hasHeader: false })).rows.map((r) => r.value)).toEqual(['a@x.com', 'b@x.com']);
    expect((await parseAll('x,contact\n1,a@x.com\n', { emailColumn: 'contact' })).rows.map((r) => r.value)).toEqual(['a@x.com']);
    expect((await parseAll('1,a@x.com\n', { hasHeader: false, emailColumn: 1 })).rows.map((r) => r.value)).toEqual(['a@x.com']);
  });

  it('resumes from a batch boundary with the same row numbers', async () => {
    const csv = 'email\na@x.com\nb@x.com\nc@x.com\nd@x.com\ne@x.com\n';
    const { batches, open } = await parseAll(csv);
    const [firstBatch] = batches;
    const resumed = [];
    for await (const batch of parseMailingCsv(open, {
      ...defaults,
      batchSize: 2,
      resume: { startByte: firstBatch!.endByte, lastRow: 2, layout: firstBatch!.layout },
    }))
      resumed.push(...rowsOf(batch));
    expect(resumed).toEqual([
      { row: 3, value: 'c@x.com' },
      { row: 4, value: 'd@x.com' },
      { row: 5, value: 'e@x.com' },
    ]);
  });

  it('fails with a clear reason for files that are not usable', async () => {
    await expect(parseAll('name,phone\nJane,123\n')).rejects.toThrow(/no address column/);
    await expect(parseAll(Buffer.from([0x65, 0x6d, 0xff, 0xfe, 0x0a]))).rejects.toThrow(/not UTF-8/);
    await expect(parseAll(Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00]))).rejects.toThrow(MailingFileError);
    await expect(parseAll('email\n"unterminated@x.com\n')).rejects.toThrow(/not valid CSV/);
    await expect(parseAll('')).rejects.toThrow(/empty/);
  });
});
