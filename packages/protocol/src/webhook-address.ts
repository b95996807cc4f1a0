// Which addresses a sweep spec's webhooks may reach. A spec's `notify.webhooks` URLs are user
// input that the API's delivery worker POSTs to; without this check a key holder could make the
// API call loopback, private-network or cloud-metadata addresses (server-side request forgery).
// The API refuses such literal hosts at submit and checks every resolved address at delivery.
import ipaddr from 'ipaddr.js';

/** A network the operator lets spec webhooks reach (SETRAIN_WEBHOOK_ALLOWED_NETWORKS). */
export type WebhookNetwork = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * Parses `10.0.0.0/8`, `::1/128` or a bare address (a network of one); throws an Error that says
 * what is wrong.
 */
export function parseWebhookNetwork(text: string): WebhookNetwork {
  const value = text.trim();
  if (ipaddr.isValidCIDR(value)) return ipaddr.parseCIDR(value);
  if (ipaddr.isValid(value)) {
    const address = ipaddr.parse(value);
    return [address, address.kind() === 'ipv4' ? 32 : 128];
  }
  throw new Error(
    `${JSON.stringify(value)} is not an IP address or CIDR network (e.g. 10.0.0.0/8)`,
  );
}

/** Host names that always mean this machine (RFC 6761). */
function isLocalhostName(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

/**
 * The address a URL's host stands for without a DNS lookup: its IP literal (the WHATWG parser has
 * already turned forms like `2130706433` or `0x7f.1` into dotted decimal), 127.0.0.1 for
 * `localhost` names, undefined for other names (checked when they are resolved).
 */
export function literalHostAddress(url: URL): string | undefined {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (ipaddr.isValid(host)) return host;
  return isLocalhostName(host) ? '127.0.0.1' : undefined;
}

/**
 * Why webhooks must not reach `address` (e.g. `loopback`, `private`, `linkLocal`: ipaddr.js's name
 * of its special-purpose range), or undefined when it is an ordinary public (unicast) address or
 * lies in one of the `allowed` networks. IPv4-mapped IPv6 addresses count as their IPv4 address.
 * Anything that does not parse as an address is refused.
 */
export function blockedRangeOf(
  address: string,
  allowed: readonly WebhookNetwork[],
): string | undefined {
  if (!ipaddr.isValid(address)) return 'not an IP address';
  const ip = ipaddr.process(address);
  const range = ip.range();
  if (range === 'unicast') return undefined;
  if (allowed.length === 0) return range;
  // subnetMatch compares an address only with networks of its own kind (IPv4 or IPv6).
  return ipaddr.subnetMatch(ip, { allowed: [...allowed] }, range) === 'allowed' ? undefined : range;
}
