import type { Redis } from 'ioredis';
import { controlMessageSchema, redisKeys, type ControlMessage } from '@setrain/protocol';

import type { Logger } from '../logger.js';

/** A subscription to the control channel on its own connection (a subscribed connection can do nothing else). */
export interface ControlSubscription {
  close(): Promise<void>;
}

/**
 * Subscribes to `<prefix>:control` and hands every valid ControlMessage to `onMessage`. Cancels are
 * broadcast: each worker checks whether it holds one of the named trials.
 */
export async function subscribeToControl(
  connection: Redis,
  prefix: string,
  onMessage: (message: ControlMessage) => void,
  logger: Logger,
): Promise<ControlSubscription> {
  const channel = redisKeys(prefix).controlChannel;
  connection.on('message', (from: string, text: string) => {
    if (from !== channel) return;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      logger.warn({ channel }, 'ignoring a control message that is not JSON');
      return;
    }
    const parsed = controlMessageSchema.safeParse(json);
    if (!parsed.success) {
      logger.warn(
        {
          channel,
          issues: parsed.error.issues.length,
        },
        'ignoring an invalid control message',
      );
      return;
    }
    onMessage(parsed.data);
  });
  await connection.subscribe(channel);
  return {
    async close() {
      await connection.unsubscribe(channel).catch(() => undefined);
      connection.disconnect();
    },
  };
}
