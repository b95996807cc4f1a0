import {
  blockedRangeOf,
  literalHostAddress,
  parseWebhookNetwork,
  type SweepSpec,
  type WebhookNetwork,
} from '@setrain/protocol';

import { ApiError } from '../errors.js';

/**
 * Where a sweep spec's webhooks may be delivered: public (unicast) addresses, and the operator's
 * SETRAIN_WEBHOOK_ALLOWED_NETWORKS. Checked twice: at submit on the URL's literal host (an IP
 * literal or `localhost`), and at delivery on every address its name resolves to, so a name that
 * resolves somewhere else later (DNS rebinding) is still refused. URLs from the operator's own
 * SETRAIN_WEBHOOK_URLS are not checked.
 */
export class WebhookAddressPolicy {
  private readonly allowed: readonly WebhookNetwork[];

  /** `allowedNetworks`: CIDRs or addresses, as SETRAIN_WEBHOOK_ALLOWED_NETWORKS lists them. */
  constructor(allowedNetworks: readonly string[] = []) {
    this.allowed = allowedNetworks.map(parseWebhookNetwork);
  }

  /** Why `address` may not be reached (`loopback`, `private`, ...), or undefined when it may. */
  blockedRange(address: string): string | undefined {
    return blockedRangeOf(address, this.allowed);
  }

  /**
   * Throws 400 WEBHOOK_URL_NOT_ALLOWED for the first `notify.webhooks` URL whose literal host is
   * an address this API does not send to.
   */
  checkSpec(spec: SweepSpec): void {
    for (const [index, webhook] of (spec.notify?.webhooks ?? []).entries()) {
      const address = literalHostAddress(new URL(webhook.url));
      const range = address === undefined ? undefined : this.blockedRange(address);
      if (address === undefined || range === undefined) continue;
      const field = `notify.webhooks[${index}].url`;
      throw new ApiError('WEBHOOK_URL_NOT_ALLOWED', { field, address, range }, [
        { path: field, message: `${address} is a ${range} address` },
      ]);
    }
  }
}
