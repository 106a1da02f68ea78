/**
 * Which hosts a member may send traffic to on someone else's say-so (docs/security.md "Where
 * traffic may go"): the URLs an origin advertises to discovery, the targets of discovery's liveness
 * probe, and the hosts an edge or the publish gateway follows an RTMP 302 into. Without it a
 * registered URL is a blind SSRF and a forged 302 sends a viewer's or publisher's credentials away.
 *
 * Entries (case-insensitive):
 * - `loopback`  127.0.0.0/8, ::1, localhost
 * - `private`   10/8, 172.16/12, 192.168/16, fc00::/7 (never link-local 169.254/16: cloud metadata)
 * - an address or CIDR: `10.1.2.3`, `10.1.0.0/16`, `fd00::/8`
 * - a host name, `*` standing for any run of characters within it: `origin-1.example.net`,
 *   `*.origins.example.net`, `origin-*`
 * - `*` alone: anything (not recommended)
 *
 * Matching is on the host as written in the URL; names are not resolved (whoever controls the
 * name's DNS is trusted with it).
 */
import { BlockList, isIP } from 'node:net';

const NAME_PATTERN = /^[a-z0-9*]([a-z0-9*.-]{0,252})$/;

export class HostAllowlistError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HostAllowlistError';
  }
}

export class HostAllowlist {
  private readonly addresses = new BlockList();
  private readonly names: RegExp[] = [];
  private anyHost = false;

  constructor(readonly entries: readonly string[]) {
    for (const raw of entries) this.add(raw.trim().toLowerCase());
  }

  private add(entry: string): void {
    if (entry === '*') {
      this.anyHost = true;
    } else if (entry === 'loopback') {
      this.addresses.addSubnet('127.0.0.0', 8, 'ipv4');
      this.addresses.addAddress('::1', 'ipv6');
      this.names.push(/^localhost$/);
    } else if (entry === 'private') {
      this.addresses.addSubnet('10.0.0.0', 8, 'ipv4');
      this.addresses.addSubnet('172.16.0.0', 12, 'ipv4');
      this.addresses.addSubnet('192.168.0.0', 16, 'ipv4');
      this.addresses.addSubnet('fc00::', 7, 'ipv6');
    } else if (entry.includes('/')) {
      const [address, bits] = entry.split('/');
      const family = isIP(address);
      const prefix = Number(bits);
      if (family === 0 || !/^\d{1,3}$/.test(bits) || prefix > (family === 4 ? 32 : 128)) throw new HostAllowlistError(`"${entry}" is not a CIDR (10.0.0.0/8, fd00::/8)`);
      this.addresses.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
    } else if (isIP(entry) !== 0) {
      this.addresses.addAddress(entry, isIP(entry) === 4 ? 'ipv4' : 'ipv6');
    } else if (NAME_PATTERN.test(entry)) {
      const escaped = entry.replace(/\./g, '\\.').replace(/\*/g, '[a-z0-9.-]*');
      this.names.push(new RegExp(`^${escaped}$`));
    } else {
      throw new HostAllowlistError(`"${entry}" is not loopback, private, an address, a CIDR or a host name pattern`);
    }
  }

  /** Whether `host` (a URL's hostname; IPv6 with or without brackets) may be contacted. */
  allows(host: string): boolean {
    if (this.anyHost) return true;
    const h = (host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host).toLowerCase();
    const family = isIP(h);
    if (family !== 0) {
      // An IPv4-mapped IPv6 address is judged as the IPv4 address it carries.
      const mapped = family === 6 ? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h) : null;
      if (mapped) return this.addresses.check(mapped[1], 'ipv4');
      return this.addresses.check(h, family === 4 ? 'ipv4' : 'ipv6');
    }
    return this.names.some((re) => re.test(h));
  }

  /** Whether every URL's host is allowed (URLs that do not parse are not). */
  allowsUrl(url: string): boolean {
    try {
      return this.allows(new URL(url).hostname);
    } catch {
      return false;
    }
  }
}

/** What `originHosts` holds when it is not configured. */
export const DEFAULT_ORIGIN_HOSTS = ['loopback', 'private'];
