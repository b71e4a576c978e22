// Link hooks for the Outlook and IMAP link tests: both links store a mailbox and its secret, then start
// the sync, and both must take a new link back when that start fails.
import postgres from 'postgres';
import { testConfig } from './config.js';

/**
 * A `startSync` that records, over another connection (what a woken workflow would read), whether the
 * mailbox row and its secret (named by `secretName`) were committed when the sync was started.
 */
export function observeSyncStarts(secretName: (mailboxId: string) => string) {
  const observer = postgres(testConfig().DATABASE_URL, { max: 1, onnotice: () => {} });
  const seen: { mailbox: number; secret: number }[] = [];
  return {
    seen,
    hooks: {
      credentialValid: () => Promise.resolve(true),
      startSync: async (mailbox: { id: string }) => {
        const [row] =
          await observer`select (select count(*)::int from mailboxes where id = ${mailbox.id}) as mailbox, (select count(*)::int from secrets where name = ${secretName(mailbox.id)}) as secret`;
        seen.push(row as { mailbox: number; secret: number });
      },
    },
    end: () => observer.end(),
  };
}

/** Hooks whose sync start always fails (Temporal away), and the mailbox ids it was attempted for. */
export function failingSyncStart() {
  const attempted: string[] = [];
  return {
    attempted,
    hooks: {
      credentialValid: () => Promise.resolve(true),
      startSync: (m: { id: string }) => {
        attempted.push(m.id);
        return Promise.reject(new Error('Temporal is away'));
      },
    },
  };
}
