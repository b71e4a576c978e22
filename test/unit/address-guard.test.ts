// The SSRF guard for hosts a user names (an IMAP link's server): loopback, private, link-local, metadata
// and the IPv6 forms that carry such an IPv4 address are refused, whatever spelling they come in; names
// are judged by every address they resolve to; the operator's allow-list lets named hosts through.
import { describe, expect, it } from 'vitest';
import { AddressRefusedError, isRefusedAddress, resolveAllowedAddress } from '../../lib/net/address-guard.js';

describe('isRefusedAddress', () => {
  it('refuses IPv4 loopback, private, shared, link-local (cloud metadata), unspecified, multicast and reserved addresses', () => {
    for (const address of [
      '127.0.0.1',
      '127.255.255.254',
      '10.0.0.1',
      '10.255.255.255',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.0.1',
      '192.168.255.255',
      '100.64.0.1', // carrier-grade NAT
      '169.254.169.254', // AWS, GCP and Azure metadata
      '169.254.0.1',
      '0.0.0.0',
      '0.1.2.3',
      '192.0.0.1',
      '198.18.0.1',
      '224.0.0.1',
      '239.255.255.250',
      '240.0.0.1',
      '255.255.255.255',
    ])
      expect(isRefusedAddress(address), address).toBe(true);
  });

  it('refuses IPv6 loopback, unspecified, unique local (AWS metadata fd00:ec2::254), link-local and multicast addresses', () => {
    for (const address of [
      '::1',
      '::',
      '0:0:0:0:0:0:0:1',
      '0000::1',
      'fd00:ec2::254',
      'fc00::1',
      'fdff:ffff::1',
      'fe80::1',
      'febf::1',
      'ff02::1',
      'FE80::ABCD',
    ])
      expect(isRefusedAddress(address), address).toBe(true);
  });

  it('refuses an IPv4 address refused in any IPv6 disguise: mapped (dotted or hex), compatible, translated, NAT64, 6to4, Teredo', () => {
    for (const address of [
      '::ffff:127.0.0.1',
      '::FFFF:10.0.0.1',
      '::ffff:169.254.169.254',
      '::ffff:7f00:1',
      '0:0:0:0:0:ffff:7f00:1',
      '::ffff:a9fe:a9fe',
      '::127.0.0.1',
      '::7f00:1',
      '::ffff:0:127.0.0.1',
      '64:ff9b::127.0.0.1',
      '64:ff9b::a9fe:a9fe',
      '64:ff9b:1::7f00:1',
      '2002:7f00:1::',
      '2001:0:4136:e378:8000:63bf:3fff:fdd2',
    ])
      expect(isRefusedAddress(address), address).toBe(true);
  });

  it('lets public addresses through, in both families and mapped', () => {
    for (const address of [
      '8.8.8.8',
      '1.1.1.1',
      '93.184.216.34',
      '172.15.255.255',
      '172.32.0.1',
      '192.167.255.255',
      '192.169.0.1',
      '100.63.255.255',
      '100.128.0.1',
      '169.253.255.255',
      '223.255.255.255',
      '::ffff:8.8.8.8',
      '::ffff:808:808',
      '2606:4700:4700::1111',
      '2a00:1450:4001:82b::200e',
      '2001:4860:4860::8888',
    ])
      expect(isRefusedAddress(address), address).toBe(false);
  });
});

describe('resolveAllowedAddress', () => {
  it('answers a public address as given, without a lookup', async () => {
    await expect(resolveAllowedAddress('8.8.8.8', [])).resolves.toBe('8.8.8.8');
    await expect(resolveAllowedAddress('2606:4700:4700::1111', [])).resolves.toBe('2606:4700:4700::1111');
  });

  it('refuses a refused address, naming the host and the address', async () => {
    for (const host of ['127.0.0.1', '10.1.2.3', '169.254.169.254', '::1', '::ffff:127.0.0.1', '0.0.0.0']) {
      const refused = await resolveAllowedAddress(host, []).catch((error: unknown) => error);
      expect(refused, host).toBeInstanceOf(AddressRefusedError);
      expect((refused as AddressRefusedError).host).toBe(host);
      expect((refused as AddressRefusedError).address).toBe(host);
    }
  });

  it('judges a name by what it resolves to: localhost, and the shorthand spellings of 127.0.0.1 the resolver accepts', async () => {
    for (const host of ['localhost', '127.1', '0x7f.1', '2130706433', '0177.0.0.1']) {
      const refused = await resolveAllowedAddress(host, []).catch((error: unknown) => error);
      expect(refused, host).toBeInstanceOf(AddressRefusedError);
      expect((refused as AddressRefusedError).address, host).toMatch(/^(127\.0\.0\.1|::1)$/);
    }
  });

  it('lets hosts on the allow-list through, compared by name and case-insensitively, and only those', async () => {
    await expect(resolveAllowedAddress('127.0.0.1', ['127.0.0.1'])).resolves.toBe('127.0.0.1');
    await expect(resolveAllowedAddress('LocalHost', ['localhost'])).resolves.toMatch(/^(127\.0\.0\.1|::1)$/);
    await expect(resolveAllowedAddress('::1', ['::1'])).resolves.toBe('::1');
    // Allowing one spelling allows that host only: another name for the same address is still refused.
    await expect(resolveAllowedAddress('localhost', ['127.0.0.1'])).rejects.toBeInstanceOf(AddressRefusedError);
    await expect(resolveAllowedAddress('127.0.0.2', ['127.0.0.1'])).rejects.toBeInstanceOf(AddressRefusedError);
    await expect(resolveAllowedAddress('10.0.0.1', ['127.0.0.1', 'localhost'])).rejects.toBeInstanceOf(AddressRefusedError);
  });

  it('fails a name that does not resolve with the resolver’s own error, not as refused', async () => {
    const error = (await resolveAllowedAddress('no-such-host.invalid', []).catch((e: unknown) => e)) as { code?: string };
    expect(error).not.toBeInstanceOf(AddressRefusedError);
    expect(error.code).toMatch(/^(ENOTFOUND|EAI_AGAIN)$/);
  });
});
