import { describe, expect, it } from 'vitest';
import type { MessageStructureObject } from 'imapflow';
import { firstTextPart, hasAttachments, previewOf } from '../../lib/mailbox-sync/imap/preview.js';
import { packUids, unpackUids } from '../../lib/mailbox-sync/imap/uid-sets.js';

describe('UID sets', () => {
  it('packs runs as IMAP writes them and unpacks them back', () => {
    expect(packUids([5, 1, 2, 3, 9, 10, 12])).toBe('1:3,5,9:10,12');
    expect([...unpackUids('1:3,5,9:10,12')]).toEqual([1, 2, 3, 5, 9, 10, 12]);
    expect(packUids([])).toBe('');
    expect(unpackUids('').size).toBe(0);
  });
});

const leaf = (type: string, extra: Partial<MessageStructureObject> = {}): MessageStructureObject => ({ type, ...extra });

describe('previews', () => {
  it('takes the first inline text/plain part, else text/html, and sees attachments', () => {
    const mixed = leaf('multipart/mixed', {
      childNodes: [
        leaf('multipart/alternative', { childNodes: [leaf('text/plain', { part: '1.1', encoding: 'quoted-printable' }), leaf('text/html', { part: '1.2' })] }),
        leaf('application/pdf', { part: '2', disposition: 'attachment' }),
      ],
    });
    expect(firstTextPart(mixed)).toMatchObject({ part: '1.1', encoding: 'quoted-printable', html: false });
    expect(hasAttachments(mixed)).toBe(true);
    expect(firstTextPart(leaf('text/html', { encoding: 'base64' }))).toMatchObject({ part: 'TEXT', html: true });
    expect(hasAttachments(leaf('text/plain'))).toBe(false);
  });

  it('decodes quoted-printable, base64 (a cut last quantum dropped), charsets and HTML', () => {
    expect(previewOf(Buffer.from('Hell=C3=B6=\r\n w=C3=B6rld'), { part: '1', encoding: 'quoted-printable', charset: 'utf-8', html: false })).toBe(
      'Hellö wörld',
    );
    const b64 = Buffer.from('Grüße aus Köln').toString('base64');
    expect(previewOf(Buffer.from(`${b64}\r\n${b64.slice(0, 3)}`), { part: '1', encoding: 'base64', charset: 'utf-8', html: false })).toBe('Grüße aus Köln');
    expect(previewOf(Buffer.from([0x63, 0x61, 0x66, 0xe9]), { part: '1', encoding: '8bit', charset: 'iso-8859-1', html: false })).toBe('café');
    expect(previewOf(Buffer.from('<style>p{}</style><p>Hi &amp; <b>bye</b></p>'), { part: '1', encoding: '7bit', charset: 'utf-8', html: true })).toBe(
      'Hi & bye',
    );
  });
});
