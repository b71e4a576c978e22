// The mailing routes refuse bad paging input with a 400 problem, never a 500.
import { describe, expect, it } from 'vitest';
import { useMailingRig } from '../helpers/mailings.js';

const rig = useMailingRig({ ratePerSecond: 40, workers: false });

describe('GET /v1/mailings/{id}/recipients', () => {
  it('answers a cursor beyond any row number with 400, and the largest row number with an empty page', async () => {
    const id = await rig.upload('email\na@example.com\n');
    for (const cursor of ['2147483648', '99999999999999999999', '1e30']) {
      const response = await rig.api.request(`/v1/mailings/${id}/recipients?cursor=${cursor}`);
      expect(response.status, cursor).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/problem\+json/);
    }
    const last = await rig.api.request(`/v1/mailings/${id}/recipients?cursor=2147483647`);
    expect(last.status).toBe(200);
    expect(await last.json()).toEqual({ data: [], nextCursor: null });
  });
});
