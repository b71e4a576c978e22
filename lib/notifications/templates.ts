// Templates: `{{name}}` placeholders in subject and body. Rendering is strict (a missing or undeclared
// parameter is an error naming it) and safe (HTML templates escape every parameter value).
import { and, desc, eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { templates } from '../../db/schema/index.js';

export type TemplateChannel = 'EMAIL' | 'SMS' | 'PUSH';

export interface TemplateRow {
  id: string;
  version: number;
  channel: TemplateChannel;
  subject: string | null;
  body: string;
  format: 'text' | 'html';
  params: string[];
  rateLimitCount: number | null;
  rateLimitWindowSeconds: number | null;
  createdAt?: Date;
}

export class TemplateParamsError extends Error {
  constructor(
    readonly missing: string[],
    readonly unknown: string[],
  ) {
    super(
      `template parameters: ${[missing.length ? `missing ${missing.join(', ')}` : '', unknown.length ? `unknown ${unknown.join(', ')}` : ''].filter(Boolean).join('; ')}`,
    );
    this.name = 'TemplateParamsError';
  }
}

export class TemplateNotFoundError extends Error {
  constructor(readonly templateId: string) {
    super(`no template ${templateId}`);
    this.name = 'TemplateNotFoundError';
  }
}

export class TemplateChannelError extends Error {
  constructor(
    readonly templateId: string,
    readonly templateChannel: string,
    readonly requested: string,
  ) {
    super(`template ${templateId} is for ${templateChannel}, not ${requested}`);
    this.name = 'TemplateChannelError';
  }
}

const placeholder = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** The parameter names a template text uses, in order of first use. */
export function placeholdersOf(...texts: (string | null | undefined)[]): string[] {
  const names = new Set<string>();
  for (const text of texts) for (const match of (text ?? '').matchAll(placeholder)) names.add(match[1]!);
  return [...names];
}

const htmlEscapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (ch) => htmlEscapes[ch]!);

function fill(text: string, params: Record<string, unknown>, escape: (v: string) => string): string {
  return text.replace(placeholder, (_, name: string) => escape(String(params[name])));
}

/** Plain-text alternative of an HTML body: tags dropped, entities decoded. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|h[1-6]|li|tr)>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

export function renderTemplate(t: TemplateRow, params: Record<string, unknown>): { subject: string | null; text: string; html: string | null } {
  const used = placeholdersOf(t.subject, t.body);
  const declared = new Set([...t.params, ...used]);
  const missing = used.filter((name) => params[name] === undefined || params[name] === null);
  const unknown = Object.keys(params).filter((name) => !declared.has(name));
  if (missing.length || unknown.length) throw new TemplateParamsError(missing, unknown);
  const subject = t.subject === null ? null : fill(t.subject, params, (v) => v);
  if (t.format === 'html') {
    const html = fill(t.body, params, escapeHtml);
    return { subject, text: htmlToText(html), html };
  }
  return { subject, text: fill(t.body, params, (v) => v), html: null };
}

function toRow(r: typeof templates.$inferSelect): TemplateRow {
  return { ...r, format: r.format === 'html' ? 'html' : 'text' };
}

export async function getTemplate(db: Database, id: string, version?: number): Promise<TemplateRow> {
  const [row] = await db
    .select()
    .from(templates)
    .where(version === undefined ? eq(templates.id, id) : and(eq(templates.id, id), eq(templates.version, version)))
    .orderBy(desc(templates.version))
    .limit(1);
  if (!row) throw new TemplateNotFoundError(version === undefined ? id : `${id} version ${version}`);
  return toRow(row);
}

export function getLatestTemplate(db: Database, id: string): Promise<TemplateRow> {
  return getTemplate(db, id);
}

/** Every version of a template, newest first; TemplateNotFoundError when it has none. */
export async function listTemplateVersions(db: Database, id: string): Promise<TemplateRow[]> {
  const rows = await db.select().from(templates).where(eq(templates.id, id)).orderBy(desc(templates.version));
  if (rows.length === 0) throw new TemplateNotFoundError(id);
  return rows.map(toRow);
}

export async function listLatestTemplates(db: Database): Promise<TemplateRow[]> {
  const rows = await db.selectDistinctOn([templates.id]).from(templates).orderBy(templates.id, desc(templates.version));
  return rows.map(toRow);
}

export type TemplateInput = Omit<TemplateRow, 'version' | 'createdAt'>;

/** Adds version 1 (create) or the next version (update) in one statement: concurrent updates get distinct versions. */
export async function saveTemplateVersion(db: Database, input: TemplateInput, mode: 'create' | 'update'): Promise<TemplateRow | 'exists' | 'missing'> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`template:${input.id}`}, 0))`);
    const [latest] = await tx
      .select({ version: templates.version })
      .from(templates)
      .where(eq(templates.id, input.id))
      .orderBy(desc(templates.version))
      .limit(1);
    if (mode === 'create' && latest) return 'exists';
    if (mode === 'update' && !latest) return 'missing';
    const [row] = await tx
      .insert(templates)
      .values({ ...input, version: (latest?.version ?? 0) + 1 })
      .returning();
    return toRow(row!);
  });
}
