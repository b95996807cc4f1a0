import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { type LookupFunction } from 'node:net';

import { literalHostAddress } from '@setrain/protocol';

/** The delivery went nowhere: the URL's host is, or resolved to, an address webhooks may not reach. */
export class WebhookBlockedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookBlockedError';
  }
}

export interface WebhookPostOptions {
  readonly headers: OutgoingHttpHeaders;
  readonly body: string;
  readonly timeoutMs: number;
  /**
   * Why an address may not be reached (undefined: it may). Checked on an IP-literal host before
   * connecting and on every address a name resolves to, in the lookup the connection itself uses
   * (so the address checked is the address connected to: no second lookup to rebind). Absent: no
   * check (the operator's own URLs).
   */
  readonly blockedRange?: (address: string) => string | undefined;
}

/** A DNS lookup that fails with WebhookBlockedError when any address of `hostname` is blocked. */
function guardedLookup(blockedRange: (address: string) => string | undefined): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) {
        callback(error, '', 0);
        return;
      }
      for (const { address } of addresses) {
        const range = blockedRange(address);
        if (range !== undefined) {
          const blocked = new WebhookBlockedError(
            `blocked: ${hostname} resolves to ${address}, a ${range} address this API does not send webhooks to`,
          );
          callback(blocked, '', 0);
          return;
        }
      }
      if (options.all === true) {
        callback(null, addresses);
        return;
      }
      const [first] = addresses;
      if (first === undefined) {
        callback(new Error(`${hostname} has no address`), '', 0);
        return;
      }
      callback(null, first.address, first.family);
    });
  };
}

/**
 * POSTs `body` to `url` and answers the receiver's HTTP status (redirects are not followed; the
 * response body is discarded). Rejects with WebhookBlockedError when the host is blocked, or with
 * the connection's error or a timeout.
 */
export function postWebhook(url: URL, options: WebhookPostOptions): Promise<number> {
  const { blockedRange } = options;
  const literal = literalHostAddress(url);
  const range = literal !== undefined ? blockedRange?.(literal) : undefined;
  if (range !== undefined) {
    return Promise.reject(
      new WebhookBlockedError(
        `blocked: ${url.hostname} is ${literal}, a ${range} address this API does not send webhooks to`,
      ),
    );
  }
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const request = send(
      url,
      {
        method: 'POST',
        headers: { ...options.headers, 'content-length': Buffer.byteLength(options.body) },
        signal: AbortSignal.timeout(options.timeoutMs),
        // A fresh connection per delivery: a pooled socket would skip the lookup below, and the
        // pool does not tell checked connections from unchecked ones (the operator's URLs).
        agent: false,
        // A `localhost` name is checked above as its literal; other names resolve here.
        ...(blockedRange !== undefined ? { lookup: guardedLookup(blockedRange) } : {}),
      },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}
