// A message document as the mail index stores it, for tests that build documents by hand: every field set,
// and `fields` to say what the test is about.
import type { MessageDoc } from '../../lib/mail-index/types.js';

export const T0 = Date.parse('2024-03-01T08:00:00.000Z');
export const at = (ms: number) => new Date(ms).toISOString();

export function messageDoc(mailboxId: string, messageId: string, fields: Partial<MessageDoc> = {}): MessageDoc {
  return {
    accountId: 'acc-contract',
    mailboxId,
    messageId,
    provider: 'outlook',
    folderId: 'inbox',
    folderName: 'Inbox',
    subject: 'Lunch on Friday',
    from: { name: 'Sam Sender', address: 'sam@sender.test' },
    to: [{ name: 'Robin', address: 'robin@example.test' }],
    cc: [],
    receivedAt: at(T0),
    isRead: false,
    flagStatus: 'notFlagged',
    bodyPreview: 'See you there',
    conversationId: 'conv-1',
    internetMessageId: `<${messageId}@mail.test>`,
    hasAttachments: false,
    changeKey: 'ck-1',
    lastModifiedAt: at(T0),
    syncSeq: 1,
    ...fields,
  };
}
