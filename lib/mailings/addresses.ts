// Which rows of a mailing list are sendable. Deliberately simple, like the checks providers apply:
// one @, a non-empty local part, a dotted domain of DNS labels, no spaces, at most 254 characters.
export type AddressCheck = { ok: true; normalized: string } | { ok: false; reason: string };

const local = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+$/;
const label = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export function checkAddress(raw: string): AddressCheck {
  const value = raw.trim();
  if (value === '') return { ok: false, reason: 'empty address' };
  if (value.length > 254) return { ok: false, reason: 'address longer than 254 characters' };
  const at = value.lastIndexOf('@');
  if (at === -1) return { ok: false, reason: 'no @ in the address' };
  const [user, domain] = [value.slice(0, at), value.slice(at + 1)];
  if (user === '') return { ok: false, reason: 'nothing before the @' };
  if (!local.test(user) || user.startsWith('.') || user.endsWith('.') || user.includes('..')) return { ok: false, reason: 'invalid characters before the @' };
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((l) => label.test(l))) return { ok: false, reason: 'invalid domain' };
  if (!/^[A-Za-z]{2,63}$/.test(labels[labels.length - 1]!)) return { ok: false, reason: 'invalid top-level domain' };
  const normalized = value.toLowerCase();
  // The same string when nothing changed: a million rows held by an ingest keep one copy each, not two.
  return { ok: true, normalized: normalized === value ? value : normalized };
}
