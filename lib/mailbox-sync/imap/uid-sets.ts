// Sets of UIDs as IMAP writes them ("1:500,502,510:900"): compact for the runs real folders have, so the
// fallback paths (no QRESYNC) can keep what they last saw in the folder's cursor.

export function packUids(uids: Iterable<number>): string {
  const sorted = [...uids].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1]! <= sorted[j]! + 1) j++;
    parts.push(sorted[i] === sorted[j] ? String(sorted[i]) : `${sorted[i]}:${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

export function unpackUids(packed: string): Set<number> {
  const out = new Set<number>();
  if (!packed) return out;
  for (const part of packed.split(',')) {
    const [from, to] = part.split(':').map(Number);
    for (let uid = from!; uid <= (to ?? from!); uid++) out.add(uid);
  }
  return out;
}
