// What kind of change a written message was: against its state in the index before the page (created,
// updated with the fields that changed, moved with where from, or nothing), or, in a folder's first listing,
// by when it arrived.
import { describe, expect, it } from 'vitest';
import type { MessageDoc, MessageState } from '../../lib/mail-index/types.js';
import { importChanges, messageChange, pageChanges } from '../../lib/mailbox-sync/changes.js';
import { messageDoc } from '../helpers/message-docs.js';

const doc = (messageId: string, fields: Partial<MessageDoc> = {}) => messageDoc('mbx_1', messageId, fields);

function state(messageId: string, fields: Partial<MessageState> = {}): MessageState {
  const { folderId, folderName, subject, from, receivedAt, isRead, flagStatus } = doc(messageId);
  return { messageId, folderId, folderName, subject, from, receivedAt, isRead, flagStatus, ...fields };
}

describe('a message against its state before the page', () => {
  it('is created when the index did not hold it', () => {
    expect(messageChange(doc('m1'), undefined)).toMatchObject({ kind: 'created', message: { id: 'm1', folder: { id: 'inbox', name: 'Inbox' } } });
  });

  it('is updated with the fields a user sees change, in a fixed order', () => {
    expect(messageChange(doc('m1', { isRead: true }), state('m1'))).toMatchObject({ kind: 'updated', changed: ['isRead'] });
    const before = state('m1', { subject: 'Lunch?', from: { name: 'Sam', address: 'sam@sender.test' }, flagStatus: 'flagged', isRead: true });
    expect(messageChange(doc('m1'), before)).toMatchObject({ kind: 'updated', changed: ['subject', 'from', 'isRead', 'flagStatus'] });
    expect(messageChange(doc('m1', { from: null }), state('m1'))).toMatchObject({ kind: 'updated', changed: ['from'] });
    expect(messageChange(doc('m1', { receivedAt: null }), state('m1'))).toMatchObject({ kind: 'updated', changed: ['receivedAt'] });
  });

  it('is moved, from its folder before, with any field that changed besides', () => {
    const change = messageChange(doc('m1', { folderId: 'archive', folderName: 'Archive' }), state('m1'));
    expect(change).toEqual({
      kind: 'moved',
      message: expect.objectContaining({ id: 'm1', folder: { id: 'archive', name: 'Archive' } }) as unknown,
      from: { id: 'inbox', name: 'Inbox' },
      changed: [],
    });
    expect(messageChange(doc('m1', { folderId: 'archive', isRead: true }), state('m1'))).toMatchObject({ kind: 'moved', changed: ['isRead'] });
  });

  it('is no change when nothing a user sees changed (a re-list, a new change key, the same instant spelled otherwise)', () => {
    expect(messageChange(doc('m1'), state('m1'))).toBeUndefined();
    expect(messageChange(doc('m1', { changeKey: 'ck-3', bodyPreview: 'Edited' }), state('m1'))).toBeUndefined();
    expect(messageChange(doc('m1', { receivedAt: '2024-03-01T08:00:00Z' }), state('m1'))).toBeUndefined();
    expect(messageChange(doc('m1', { from: null }), state('m1', { from: null }))).toBeUndefined();
  });

  it('lists a page’s changes in the order the page wrote its messages, leaving out the unchanged', () => {
    const before = new Map([
      ['read', state('read')],
      ['same', state('same')],
    ]);
    const changes = pageChanges([doc('new'), doc('same'), doc('read', { isRead: true })], before);
    expect(changes.map((c) => [c.kind, c.message.id])).toEqual([
      ['created', 'new'],
      ['updated', 'read'],
    ]);
  });
});

describe('a folder’s first listing', () => {
  const linkedAt = new Date('2024-03-01T08:00:00.600Z');

  it('creates only the mail that arrived since the mailbox was linked, from the second it was linked in', () => {
    const changes = importChanges(
      [
        doc('imported', { receivedAt: '2024-03-01T07:59:59.000Z' }),
        doc('same-second', { receivedAt: '2024-03-01T08:00:00.000Z' }),
        doc('later', { receivedAt: '2024-03-01T09:00:00.000Z' }),
        doc('undated', { receivedAt: null }),
      ],
      linkedAt,
    );
    expect(changes.map((c) => [c.kind, c.message.id])).toEqual([
      ['created', 'same-second'],
      ['created', 'later'],
    ]);
  });
});
