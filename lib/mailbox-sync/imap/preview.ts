// A message's short text preview, from the first bytes of its first text part: the body structure says
// which part that is and how it is encoded, so only a small slice of the message crosses the network.
import type { MessageStructureObject } from 'imapflow';

export const PREVIEW_BYTES = 2_048;
const PREVIEW_CHARS = 255;

export interface TextPart {
  part: string;
  encoding: string;
  charset: string;
  html: boolean;
}

/**
 * Each message's first text part, and the UIDs by part number: previews are fetched one FETCH per part number
 * (most messages share one).
 */
export function textPartsOf(messages: { uid: number; bodyStructure?: MessageStructureObject | undefined }[]): {
  parts: Map<number, TextPart | undefined>;
  byPart: Map<string, number[]>;
} {
  const parts = new Map<number, TextPart | undefined>();
  const byPart = new Map<string, number[]>();
  for (const m of messages) {
    const part = firstTextPart(m.bodyStructure);
    parts.set(m.uid, part);
    if (part) byPart.set(part.part, [...(byPart.get(part.part) ?? []), m.uid]);
  }
  return { parts, byPart };
}

/** The first text/plain part (or text/html when there is none) that is not an attachment. */
export function firstTextPart(structure: MessageStructureObject | undefined): TextPart | undefined {
  if (!structure) return undefined;
  const leaves: MessageStructureObject[] = [];
  const walk = (node: MessageStructureObject) => {
    if (node.childNodes?.length) node.childNodes.forEach(walk);
    else leaves.push(node);
  };
  walk(structure);
  const inline = leaves.filter((n) => n.disposition !== 'attachment');
  const pick = inline.find((n) => n.type === 'text/plain') ?? inline.find((n) => n.type === 'text/html');
  if (!pick) return undefined;
  return {
    // A message that is a single part has no part number: its body is TEXT.
    part: pick.part ?? 'TEXT',
    encoding: (pick.encoding ?? '7bit').toLowerCase(),
    charset: (pick.parameters?.charset ?? 'utf-8').toLowerCase(),
    html: pick.type === 'text/html',
  };
}

export function hasAttachments(structure: MessageStructureObject | undefined): boolean {
  if (!structure) return false;
  if (structure.disposition === 'attachment') return true;
  return (structure.childNodes ?? []).some(hasAttachments);
}

function decodeQuotedPrintable(text: string): Buffer {
  const bytes: number[] = [];
  const input = text.replace(/=\r?\n/g, '');
  for (let i = 0; i < input.length; i++) {
    const hex = input[i] === '=' ? input.slice(i + 1, i + 3) : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(input.charCodeAt(i) & 0xff);
  }
  return Buffer.from(bytes);
}

function decodeText(bytes: Buffer, charset: string): string {
  try {
    return new TextDecoder(charset).decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes);
  }
}

/** The preview from a slice of the part's raw bytes (a truncated last base64 quantum or character is dropped). */
export function previewOf(raw: Buffer, part: TextPart): string {
  let bytes = raw;
  if (part.encoding === 'base64') {
    const clean = raw.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, '');
    bytes = Buffer.from(clean.slice(0, clean.length - (clean.length % 4)), 'base64');
  } else if (part.encoding === 'quoted-printable') bytes = decodeQuotedPrintable(raw.toString('latin1'));
  let text = decodeText(bytes, part.charset).replace(/\uFFFD+$/, '');
  if (part.html)
    text = text
      .replace(/<(style|script)[^>]*>[\s\S]*?(<\/\1>|$)/gi, ' ')
      .replace(/<[^>]*>?/g, ' ')
      .replace(/&nbsp;/g, ' ')
      .replace(/&amp;/g, '&')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>');
  return text.replace(/\s+/g, ' ').trim().slice(0, PREVIEW_CHARS);
}
