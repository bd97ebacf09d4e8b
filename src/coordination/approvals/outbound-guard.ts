import ipaddr from 'ipaddr.js';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import { CodedError, ConfigError, ErrorCode } from '../../core/errors.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Range = { cidr: string; what: string; net: [Address, number] };

const range = (cidr: string, what: string): Range => ({ cidr, what, net: ipaddr.parseCIDR(cidr) });

/**
 * Networks an outbound call (webhook, health URL) never reaches unless
 * allow-listed: this machine, the LAN, cloud metadata, and addresses that are
 * not unicast on the internet. Checked in order; the first match names the reason.
 */
const BLOCKED_V4: Range[] = [
  range('169.254.169.254/32', 'the cloud metadata service'),
  range('0.0.0.0/8', 'an unspecified ("this network") address'),
  range('127.0.0.0/8', 'a loopback address'),
  range('10.0.0.0/8', 'a private address'),
  range('172.16.0.0/12', 'a private address'),
  range('192.168.0.0/16', 'a private address'),
  range('100.64.0.0/10', 'a shared (carrier-grade NAT) address'),
  range('169.254.0.0/16', 'a link-local address'),
  range('192.0.0.0/24', 'an IETF protocol address'),
  range('192.0.2.0/24', 'a documentation address'),
  range('198.51.100.0/24', 'a documentation address'),
  range('203.0.113.0/24', 'a documentation address'),
  range('198.18.0.0/15', 'a benchmarking address'),
  range('224.0.0.0/4', 'a multicast address'),
  range('240.0.0.0/4', 'a reserved or broadcast address'),
];

const BLOCKED_V6: Range[] = [
  range('fd00:ec2::254/128', 'the cloud metadata service'),
  range('::/128', 'the unspecified address'),
  range('::1/128', 'the loopback address'),
  range('64:ff9b:1::/48', 'a local-use NAT64 address'),
  range('::/96', 'a deprecated IPv4-compatible address'),
  range('2001::/32', 'a Teredo tunnel address'),
  range('fc00::/7', 'a unique-local address'),
  range('fe80::/10', 'a link-local address'),
  range('fec0::/10', 'a site-local address'),
  range('ff00::/8', 'a multicast address'),
  range('100::/64', 'a discard-only address'),
  range('2001:db8::/32', 'a documentation address'),
];

/** IPv6 forms that carry an IPv4 address: the embedded address decides. */
const EMBEDS_V4: Array<{ net: [Address, number]; what: string; v4: (a: ipaddr.IPv6) => ipaddr.IPv4 }> = [
  { net: ipaddr.parseCIDR('::ffff:0:0/96'), what: 'IPv4-mapped', v4: (a) => a.toIPv4Address() },
  { net: ipaddr.parseCIDR('64:ff9b::/96'), what: 'NAT64', v4: (a) => new ipaddr.IPv4([a.parts[6] >> 8, a.parts[6] & 255, a.parts[7] >> 8, a.parts[7] & 255]) },
  { net: ipaddr.parseCIDR('2002::/16'), what: '6to4', v4: (a) => new ipaddr.IPv4([a.parts[1] >> 8, a.parts[1] & 255, a.parts[2] >> 8, a.parts[2] & 255]) },
];

const HOW_TO_ALLOW = ': calls to internal addresses are refused (list it in WEBHOOK_ALLOWLIST to allow it)';

function inRange(address: Address, net: [Address, number]): boolean {
  if (address.kind() !== net[0].kind()) return false;
  return address.kind() === 'ipv4' ? (address as ipaddr.IPv4).match(net as [ipaddr.IPv4, number]) : (address as ipaddr.IPv6).match(net as [ipaddr.IPv6, number]);
}

/** A URL or address an outbound call refuses; `reason` says why and how to allow it. Code validation_failed (a 400 at request time). */
export class OutboundRefusedError extends CodedError {
  constructor(readonly reason: string) {
    super(ErrorCode.Validation, reason, { reason });
    this.name = 'OutboundRefusedError';
  }
}

/** Resolves a host name to every address (the shape of `dns.lookup(host, {all: true})`); injectable so tests can play a rebinding DNS. */
export type Resolver = (hostname: string, family: number) => Promise<LookupAddress[]>;

const systemResolver: Resolver = (hostname, family) =>
  new Promise((resolve, reject) => dnsLookup(hostname, { all: true, family }, (error, addresses) => (error ? reject(error) : resolve(addresses))));

/**
 * Who outbound calls may reach. Loopback, private, link-local, unique-local,
 * CGNAT, unspecified, multicast, reserved and cloud-metadata addresses are
 * refused — in IPv4-mapped, NAT64 and 6to4 forms too — unless `allowlist`
 * (WEBHOOK_ALLOWLIST: addresses or CIDR ranges) lists them. The check runs on
 * the resolved addresses and again at connect time (`lookup`), so a DNS answer
 * that changes between check and send (rebinding) is caught.
 */
export class OutboundPolicy {
  private readonly allowed: Array<[Address, number]>;
  private readonly resolve: Resolver;

  constructor(allowlist: readonly string[] = [], options: { resolve?: Resolver } = {}) {
    this.resolve = options.resolve ?? systemResolver;
    const issues: Array<{ path: string; message: string }> = [];
    this.allowed = [];
    allowlist.forEach((entry, i) => {
      try {
        this.allowed.push(entry.includes('/') ? ipaddr.parseCIDR(entry) : single(ipaddr.parse(entry)));
      } catch {
        issues.push({ path: `WEBHOOK_ALLOWLIST[${i}]`, message: `'${entry}' is not an IP address or CIDR range (e.g. 10.1.0.0/16)` });
      }
    });
    if (issues.length > 0) throw new ConfigError(issues);
  }

  /** Why `address` (an IP literal) may not be called, or null when it may. */
  refusedAddress(address: string): string | null {
    const why = this.whyRefused(address);
    return why ? `${address} is ${why}${HOW_TO_ALLOW}` : null;
  }

  private whyRefused(address: string): string | null {
    let parsed: Address;
    try {
      parsed = ipaddr.parse(address.replace(/^\[|\]$/g, ''));
    } catch {
      return 'not an IP address';
    }
    return this.classify(parsed);
  }

  /**
   * Request-time check of a URL: scheme, a literal address, or every address its
   * host resolves to. Null when it may be called. A host that does not resolve
   * now is not refused here (send time checks again, and retries).
   */
  async check(url: string): Promise<string | null> {
    const target = parseTarget(url);
    if (typeof target === 'string') return target;
    if (isIP(target.host)) return this.refusedAddress(target.host);
    let addresses: LookupAddress[];
    try {
      addresses = await this.resolve(target.host, 0);
    } catch {
      return null;
    }
    return this.refusedResolved(target.host, addresses);
  }

  /** `net`'s lookup for an outbound request: resolves, refuses any internal answer, and hands back exactly the addresses it checked. */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    this.resolve(hostname, options.family === 4 || options.family === 6 ? options.family : 0).then(
      (addresses) => {
        const why = this.refusedResolved(hostname, addresses);
        if (why) return callback(new OutboundRefusedError(why), '', 4);
        if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
        callback(null, addresses[0].address, addresses[0].family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 4),
    );
  };

  private refusedResolved(host: string, addresses: LookupAddress[]): string | null {
    if (addresses.length === 0) return `${host} resolves to no address`;
    for (const a of addresses) {
      const why = this.whyRefused(a.address);
      if (why) return `${host} resolves to ${a.address}, ${why}${HOW_TO_ALLOW}`;
    }
    return null;
  }

  private classify(address: Address): string | null {
    if (this.isAllowed(address)) return null;
    if (address.kind() === 'ipv6') {
      const v6 = address as ipaddr.IPv6;
      for (const form of EMBEDS_V4) {
        if (!inRange(v6, form.net)) continue;
        const v4 = form.v4(v6);
        const why = this.classify(v4);
        return why ? `${form.what} ${v4.toString()}, ${why}` : null;
      }
    }
    const table = address.kind() === 'ipv4' ? BLOCKED_V4 : BLOCKED_V6;
    const hit = table.find((r) => inRange(address, r.net));
    return hit ? `${hit.what} (${hit.cidr})` : null;
  }

  private isAllowed(address: Address): boolean {
    return this.allowed.some((net) => inRange(address, net));
  }
}

function single(address: Address): [Address, number] {
  return [address, address.kind() === 'ipv4' ? 32 : 128];
}

/** The URL's host (brackets off) and URL, or why it cannot be called. */
function parseTarget(url: string): { url: URL; host: string } | string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${url} is not a URL`;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `${parsed.protocol} URLs are not called (only http and https)`;
  return { url: parsed, host: parsed.hostname.replace(/^\[|\]$/g, '') };
}

export interface OutboundRequest {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/**
 * One HTTP(S) request under `policy`: a literal address is checked before
 * connecting, a host name by the policy's `lookup` at connect time, so the
 * socket goes to an address that was checked. No redirects are followed, no
 * connection is kept. Resolves with the status; rejects with
 * OutboundRefusedError when refused, or the network error.
 */
export function sendOutbound(policy: OutboundPolicy, url: string, request: OutboundRequest): Promise<{ status: number }> {
  const target = parseTarget(url);
  if (typeof target === 'string') return Promise.reject(new OutboundRefusedError(target));
  if (isIP(target.host)) {
    const why = policy.refusedAddress(target.host);
    if (why) return Promise.reject(new OutboundRefusedError(why));
  }
  const client = target.url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(target.url, { method: request.method, headers: request.headers, signal: request.signal, agent: false, lookup: policy.lookup }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    req.on('error', reject);
    req.end(request.body);
  });
}
