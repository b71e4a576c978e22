// Where the server may connect when a user names a host: never to loopback, private, link-local, multicast
// or cloud-metadata addresses (SSRF), unless the host is on the operator's allow-list. The check runs on
// the addresses a lookup returns at connect time, and the connection goes to the address checked, so a
// name that resolves elsewhere a second later (DNS rebinding) changes nothing.
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

const refused = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, and 169.254.169.254 (cloud metadata)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  refused.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 96], // the unspecified address, loopback (::1), and IPv4-compatible ::a.b.c.d
  ['::ffff:0:0:0', 96], // IPv4-translated (SIIT)
  ['fc00::', 7], // unique local, and fd00:ec2::254 (AWS metadata)
  ['fe80::', 10],
  ['ff00::', 8],
  // IPv4 addresses in disguise: NAT64 (well-known and local-use), 6to4, Teredo.
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['2002::', 16],
  ['2001::', 32],
] as const)
  refused.addSubnet(network, prefix, 'ipv6');

/** The host resolves to an address this server will not connect to. */
export class AddressRefusedError extends Error {
  constructor(
    readonly host: string,
    readonly address: string,
  ) {
    super(`${host} resolves to ${address}, a loopback, private, link-local or metadata address; connections there are not allowed`);
    this.name = 'AddressRefusedError';
  }
}

/** An IPv4 address mapped into IPv6 (::ffff:a.b.c.d) is checked as the IPv4 address it is. */
function unmapped(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return { address: mapped[1]!, family: 'ipv4' };
  return { address, family: isIP(address) === 6 ? 'ipv6' : 'ipv4' };
}

export function isRefusedAddress(address: string): boolean {
  const { address: plain, family } = unmapped(address);
  return refused.check(plain, family);
}

/**
 * The address to connect to for `host`: its first, after checking every address it resolves to (a name
 * that also resolves to a private address is refused whole). Hosts on `allowHosts` (names or addresses,
 * compared case-insensitively) skip the check.
 */
export async function resolveAllowedAddress(host: string, allowHosts: readonly string[]): Promise<string> {
  const allowed = allowHosts.some((h) => h.toLowerCase() === host.toLowerCase());
  const addresses = isIP(host) ? [host] : (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
  if (addresses.length === 0) throw new Error(`${host} did not resolve`);
  if (!allowed) {
    const bad = addresses.find(isRefusedAddress);
    if (bad) throw new AddressRefusedError(host, bad);
  }
  return addresses[0]!;
}
