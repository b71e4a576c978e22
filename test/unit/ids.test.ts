import { describe, expect, it } from 'vitest';
import { newId } from '../../lib/ids.js';

describe('newId', () => {
  it('is prefixed, unique and sorts by creation time', () => {
    const earlier = newId('ntf', Date.UTC(2026, 0, 1));
    const later = newId('ntf', Date.UTC(2026, 0, 2));
    expect(earlier).toMatch(/^ntf_[0-9a-z]{26}$/);
    expect(earlier < later).toBe(true);
    expect(new Set(Array.from({ length: 1000 }, () => newId('x'))).size).toBe(1000);
  });
});
