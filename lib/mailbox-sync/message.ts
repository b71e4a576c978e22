// A message as every mail provider reports it: the shape the sync engine reads and the mail index stores
// (its MessageDoc is this message with where it was found). A leaf: both sides import it, it imports nothing.

export interface Address {
  name: string;
  address: string;
}

export type FlagStatus = 'notFlagged' | 'flagged' | 'complete';

/**
 * A message as the provider reports it; the engine adds the account, mailbox, folder name and write stamp
 * (the index's MessageDoc is this message with them, so a field added here is indexed too).
 */
export interface ProviderMessage {
  id: string;
  folderId: string;
  subject: string;
  from: Address | null;
  to: Address[];
  cc: Address[];
  /** ISO 8601, or null when the provider gave none. */
  receivedAt: string | null;
  isRead: boolean;
  flagStatus: FlagStatus;
  bodyPreview: string;
  conversationId: string | null;
  internetMessageId: string | null;
  hasAttachments: boolean;
  changeKey: string | null;
  /**
   * ISO 8601. Its epoch milliseconds are the message's version: in the index an older version never overwrites
   * a newer. Graph's are whole seconds, so two changes within a second share a version: then the index's syncSeq decides.
   */
  lastModifiedAt: string;
}

/** What a message says, apart from its id and folder: each field as it is, in this order (the API's and the index's). */
export function messageContent(m: Omit<ProviderMessage, 'id' | 'folderId'>): Omit<ProviderMessage, 'id' | 'folderId'> {
  return {
    subject: m.subject,
    from: m.from,
    to: m.to,
    cc: m.cc,
    receivedAt: m.receivedAt,
    isRead: m.isRead,
    flagStatus: m.flagStatus,
    bodyPreview: m.bodyPreview,
    conversationId: m.conversationId,
    internetMessageId: m.internetMessageId,
    hasAttachments: m.hasAttachments,
    changeKey: m.changeKey,
    lastModifiedAt: m.lastModifiedAt,
  };
}
