// The README stays a short entry point: at most 200 lines, the two commands CI and people rely on exactly as
// they are, and every repository path it names (in backticks or as a link) present. The documents' own
// relative links (and their #anchors) must resolve too, so a section that moves takes its pointers along.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const readme = read('README.md');

const commands = [
  'npm ci && npm start    # the whole stack on this machine; Ctrl-C stops it',
  'npm ci && npm test     # the whole test suite, against real Temporal, PostgreSQL and Elasticsearch',
];

/** Top-level names git ignores (.data, .tools, node_modules, …): paths under them are made at run time. */
const ignored = new Set(
  read('.gitignore')
    .split('\n')
    .map((line) => line.trim().replace(/\/$/, ''))
    .filter((line) => line && !line.startsWith('#') && !/[*?[]/.test(line)),
);

/** Markdown with its fenced code blocks removed (commands there are examples, not references). */
const prose = (markdown: string) => markdown.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '');

/** Inline code that reads as a path in this repository, e.g. `api/routes/v1/mailings.ts` or `docs/`. */
function namedPaths(markdown: string): string[] {
  return [...prose(markdown).matchAll(/`([^`\n]+)`/g)]
    .map((m) => m[1]!)
    .filter((text) => /^\.?[A-Za-z0-9_-][\w.-]*(\/[\w.*-]*)*$/.test(text))
    .filter((text) => text.includes('/') || /\.(ts|js|mjs|json|md|ya?ml|csv|sh|html)$/.test(text) || text === 'Dockerfile')
    .filter((text) => !ignored.has(text.split('/')[0]!));
}

/** Relative link targets, e.g. docs/api.md#tenancy or #prerequisites. */
function linkTargets(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((target) => !/^[a-z]+:/i.test(target));
}

/** GitHub's anchors for a document's headings. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, heading] of prose(markdown).matchAll(/^#{1,6}\s+(.+)$/gm)) {
    const slug = heading!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    result.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return result;
}

/** What is wrong with a link from `from` (a repository path) to `target`, or null. */
function brokenLink(from: string, target: string): string | null {
  const [path, anchor] = target.split('#') as [string, string | undefined];
  const file = path ? relative(root, resolve(root, dirname(from), path)) : from;
  if (!existsSync(join(root, file))) return `${target}: no ${file}`;
  if (anchor && file.endsWith('.md') && !anchors(read(file)).has(anchor)) return `${target}: no heading #${anchor} in ${file}`;
  return null;
}

describe('README.md', () => {
  it('has at most 200 lines', () => {
    expect(readme.replace(/\n$/, '').split('\n').length).toBeLessThanOrEqual(200);
  });

  it('holds the two commands exactly, together in one sh block', () => {
    const blocks = [...readme.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
    expect(blocks.some((block) => block.includes(`${commands[0]}\n${commands[1]}\n`))).toBe(true);
  });

  it('names only paths that exist', () => {
    const paths = namedPaths(readme);
    expect(paths.length).toBeGreaterThan(20);
    expect(
      paths.filter((path) => path.includes('*')),
      'name files, not patterns',
    ).toEqual([]);
    expect(paths.filter((path) => !existsSync(join(root, path)))).toEqual([]);
  });

  it('links only to files and headings that exist', () => {
    expect(
      linkTargets(readme)
        .map((target) => brokenLink('README.md', target))
        .filter(Boolean),
    ).toEqual([]);
  });
});

describe('the documents', () => {
  const documents = [
    ...readdirSync(join(root, 'docs'))
      .filter((name) => name.endsWith('.md'))
      .map((name) => `docs/${name}`),
    'bench/README.md',
  ];

  it('link only to files and headings that exist', () => {
    expect(documents.length).toBeGreaterThan(5);
    const broken = documents.flatMap((doc) =>
      linkTargets(read(doc))
        .map((target) => brokenLink(doc, target))
        .filter(Boolean)
        .map((problem) => `${doc}: ${problem}`),
    );
    expect(broken).toEqual([]);
  });
});
