// docs/configuration.md lists every environment variable lib/config.ts reads, and nothing it does not: a
// variable added to (or dropped from) the schema without its line in the document fails here.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../lib/config.js';

const document = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

/** The part of the document about the processes' own variables: everything before "## Scripts only". */
const processSection = document.split(/^## Scripts only/m)[0]!;

interface Row {
  names: string[];
  defaultValue: string;
  meaning: string;
}

/** Table rows whose first cell names variables in backticks, e.g. | `API_PORT` | `3000` | the API's port |. */
function variableRows(markdown: string): Row[] {
  return markdown
    .split('\n')
    .filter((line) => line.startsWith('|') && !/^\|[\s|:-]+\|$/.test(line))
    .map((line) =>
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    )
    .map((cells) => ({
      names: [...(cells[0] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]!),
      defaultValue: cells[1] ?? '',
      meaning: cells[2] ?? '',
    }))
    .filter((row) => row.names.length > 0);
}

const rows = variableRows(processSection);
const documented = new Set(rows.flatMap((row) => row.names));
const read = Object.keys(configSchema.shape);

describe('docs/configuration.md', () => {
  it('lists every variable lib/config.ts reads', () => {
    expect(read.length).toBeGreaterThan(50);
    expect(
      read.filter((name) => !documented.has(name)),
      'read by lib/config.ts but missing from docs/configuration.md',
    ).toEqual([]);
  });

  it('lists no variable lib/config.ts does not read (script-only ones go under "Scripts only")', () => {
    expect(
      [...documented].filter((name) => !read.includes(name)),
      'in docs/configuration.md but not read by lib/config.ts',
    ).toEqual([]);
  });

  it('gives each variable a default and a meaning', () => {
    expect(rows.filter((row) => !row.defaultValue || !row.meaning).map((row) => row.names.join(', '))).toEqual([]);
  });
});
