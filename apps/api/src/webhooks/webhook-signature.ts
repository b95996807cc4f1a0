import { createHmac } from 'node:crypto';

/**
 * The `x-setrain-signature` of a delivery: `sha256=` and the hex HMAC-SHA256, keyed with the API's
 * webhook secret, of `<timestamp>.<body>` (timestamp in Unix seconds, body the raw JSON bytes).
 * Signing the timestamp with the body lets a receiver reject replays of old deliveries.
 */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}
