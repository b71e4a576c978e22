// The shipped seed templates as a client reads them: text bodies carry real line breaks, not `\n`.
import { describe, expect, it } from 'vitest';
import { useTestApi } from '../helpers/api.js';

const api = useTestApi();

describe('seed templates', () => {
  it('NEW_MESSAGE (version 1) has real line breaks in its text body', async () => {
    const response = await api.request('/v1/templates/NEW_MESSAGE?version=1');
    expect(response.status).toBe(200);
    const template = (await response.json()) as { body: string; format: string };
    expect(template.format).toBe('text');
    expect(template.body).not.toContain('\\n');
    expect(template.body).toBe('Hi {{name}},\n\n{{senderName}} sent you a message:\n\n{{preview}}\n\nRead it at {{messageUrl}}');
  });

  it('no seeded template holds a literal backslash-n', async () => {
    const list = (await (await api.request('/v1/templates')).json()) as { data: { id: string; body: string; subject: string | null }[] };
    const seeded = list.data.filter((t) => /^(ORDER_SHIPPED|PASSWORD_RESET|NEW_MESSAGE|LOGIN_CODE)/.test(t.id));
    expect(seeded.length).toBeGreaterThanOrEqual(7);
    for (const t of seeded) expect(`${t.subject ?? ''}${t.body}`, t.id).not.toContain('\\n');
  });
});
