// A notification's content at rest: the rendered text and HTML and the template parameters they came from
// (a reset URL, a sign-in code) are sealed with the deployment's encryption key, bound to the notification
// id, and opened only by the send activity. Anything a provider echoes back is redacted before it is
// stored, returned by the API or logged.
import type { Encryptor } from '../crypto.js';

export interface NotificationContent {
  text: string;
  html: string | null;
  params: Record<string, unknown> | null;
}

const aad = (notificationId: string) => `notification-content:${notificationId}`;

export function sealContent(encryptor: Encryptor, notificationId: string, content: NotificationContent): string {
  return encryptor.encrypt(JSON.stringify(content), aad(notificationId));
}

/** Rows written before sealing keep their content in `body` / `body_html`. */
export function openContent(
  encryptor: Encryptor,
  row: { id: string; contentSealed: string | null; body: string; bodyHtml: string | null },
): NotificationContent {
  if (!row.contentSealed) return { text: row.body, html: row.bodyHtml, params: null };
  return JSON.parse(encryptor.decrypt(row.contentSealed, aad(row.id))) as NotificationContent;
}

/** Short values (a flag, a small number) would redact unrelated text; a sign-in code has at least 4 characters. */
const MIN_SECRET_LENGTH = 4;
/** Lines of the body long enough to identify it when a provider echoes part of it. */
const MIN_LINE_LENGTH = 12;

/** Replaces every piece of the message a provider may echo (whole body, its lines, each parameter) with a marker. */
export function redactContent(detail: string, content: NotificationContent & { subject?: string | null }): string {
  const pieces = new Set<string>();
  const add = (value: string, min: number) => {
    if (value.length < min) return;
    pieces.add(value);
    const escaped = JSON.stringify(value).slice(1, -1); // as it appears inside a JSON error body
    if (escaped !== value) pieces.add(escaped);
  };
  for (const whole of [content.html, content.text, content.subject]) if (whole) add(whole, MIN_SECRET_LENGTH);
  for (const line of `${content.text}\n${content.html ?? ''}`.split(/\r?\n/)) add(line.trim(), MIN_LINE_LENGTH);
  for (const value of Object.values(content.params ?? {})) if (typeof value === 'string' || typeof value === 'number') add(String(value), MIN_SECRET_LENGTH);
  let out = detail;
  for (const piece of [...pieces].sort((a, b) => b.length - a.length)) out = out.replaceAll(piece, '[redacted]');
  return out;
}
