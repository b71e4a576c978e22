// Delta semantics under random interleavings: user actions land between any two page reads of any
// folder's round, and a client that applies rows by id (upsert, or drop on @removed) ends up with
// exactly the server's folders once every folder finishes a round. Seeded, so a failure reproduces.
import { describe, expect, it } from 'vitest';
import { startOutlook } from '../../test/helpers/outlook.js';
import { useRig } from '../../test/helpers/rig.js';
import { prng } from './fixtures.js';

type Row = { id: string; '@removed'?: unknown; isRead?: boolean; changeKey?: string; flag?: { flagStatus: string } };
interface Page {
  value: Row[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

const sim = useRig(() => startOutlook());

const FOLDERS = ['inbox', 'archive', 'deleteditems'] as const;

describe('Outlook simulator: delta under concurrent change', () => {
  for (const seed of [1, 2, 3]) {
    it(`converges to the server's state (seed ${seed})`, async () => {
      await sim.reset();
      const address = `model${seed}@contoso.com`;
      await sim.createMailbox(address, { seed });
      await sim.seed(address, 40, 'inbox');
      await sim.seed(address, 10, 'archive');
      const token = await sim.accessToken(address);
      const rand = prng(seed);
      const pick = <T>(list: readonly T[]) => list[Math.floor(rand() * list.length)]!;
      const client = new Map(FOLDERS.map((f) => [f, new Map<string, string>()]));
      const links = new Map<string, string>(FOLDERS.map((f) => [f, `/v1.0/me/mailFolders/${f}/messages/delta`]));
      const complete = new Map<string, boolean>(FOLDERS.map((f) => [f, false]));

      const read = async (folder: (typeof FOLDERS)[number]) => {
        const response = await sim.graph(token, links.get(folder)!, [`odata.maxpagesize=${1 + Math.floor(rand() * 7)}`, 'IdType="ImmutableId"']);
        expect(response.status).toBe(200);
        const page = (await response.json()) as Page;
        const view = client.get(folder)!;
        for (const row of page.value) {
          if (row['@removed']) view.delete(row.id);
          else view.set(row.id, `${row.changeKey}|${row.isRead}|${row.flag?.flagStatus}`);
        }
        links.set(folder, page['@odata.nextLink'] ?? page['@odata.deltaLink']!);
        complete.set(folder, !page['@odata.nextLink']);
      };

      for (let step = 0; step < 250; step++) {
        if (rand() < 0.55) {
          await read(pick(FOLDERS));
          continue;
        }
        const messages = await sim.messages(address);
        const target = pick(messages);
        const kind = rand();
        if (kind < 0.2 || !target) await sim.act(address, { type: 'newMail', folder: pick(FOLDERS) });
        else if (kind < 0.45) await sim.act(address, { type: 'markRead', id: target.id, isRead: !target.isRead });
        else if (kind < 0.6) await sim.act(address, { type: 'flag', id: target.id, flagStatus: pick(['flagged', 'notFlagged', 'complete'] as const) });
        else if (kind < 0.85) await sim.act(address, { type: 'move', id: target.id, to: pick(FOLDERS) });
        else await sim.act(address, { type: 'delete', id: target.id });
      }
      // Quiet now: finish each folder's round, then run one more whole round.
      for (const folder of FOLDERS) {
        while (!complete.get(folder)) await read(folder);
        do await read(folder);
        while (!complete.get(folder));
      }
      const ids = await sim.mailbox(address);
      for (const folder of FOLDERS) {
        const server = await sim.messages(address, ids.wellKnownFolders[folder]);
        const expected = new Map(server.map((m) => [m.id, `${m.changeKey}|${m.isRead}|${m.flagStatus}`]));
        expect(client.get(folder), folder).toEqual(expected);
      }
    });
  }
});
