// WORKER_ROLES: "all", or a list of the roles named for their capability; the names the roles had before
// (`mailing`, `sync`) still work, so a deployment's settings keep meaning the same.
import { describe, expect, it } from 'vitest';
import { parseRoles, roles } from '../../workers/roles.js';

describe('WORKER_ROLES', () => {
  it('takes "all", a list, and the former names of the mailings and mailbox sync roles', () => {
    expect(parseRoles('all')).toEqual([...roles]);
    expect(parseRoles('delivery, mailbox-sync')).toEqual(['delivery', 'mailbox-sync']);
    expect(parseRoles('mailing,sync')).toEqual(['mailings', 'mailbox-sync']);
  });

  it('refuses an unknown role, naming it and the roles there are', () => {
    expect(() => parseRoles('delivery,teleport')).toThrow(
      /unknown role\(s\) teleport; expected "all" or a list of delivery, email, sms, push, mailings, mailbox-sync/,
    );
    expect(() => parseRoles(' , ')).toThrow(/unknown role/);
  });
});
