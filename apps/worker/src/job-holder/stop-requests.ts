import type { Redis } from 'ioredis';
import {
  redisKeys,
  stopRequestSchema,
  SWEEP_STOP_FIELD,
  type StopRequest,
} from '@setrain/protocol';

/**
 * Reads the durable stop requests the controller writes (`redisKeys().sweepStops`): one HMGET for
 * the trial's own field and the whole-sweep field. A stop request is never cleared, so reading it
 * at any time answers whether the trial must stop.
 */
export async function pendingStop(
  redis: Redis,
  prefix: string,
  sweepId: string,
  trialId: string,
): Promise<StopRequest | undefined> {
  const [trialStop, sweepStop] = await redis.hmget(
    redisKeys(prefix).sweepStops(sweepId),
    trialId,
    SWEEP_STOP_FIELD,
  );
  return parseStop(trialStop) ?? parseStop(sweepStop);
}

function parseStop(raw: string | null | undefined): StopRequest | undefined {
  if (raw === null || raw === undefined) return undefined;
  try {
    const parsed = stopRequestSchema.safeParse(JSON.parse(raw));
    // An unreadable request still means someone asked for a stop.
    return parsed.success
      ? parsed.data
      : { kind: 'cancel', reason: 'stop requested', requestedAt: new Date().toISOString() };
  } catch {
    return { kind: 'cancel', reason: 'stop requested', requestedAt: new Date().toISOString() };
  }
}

/** The message a trial stopped by `stop` ends with (e.g. `cancelled: user asked`). */
export function stopMessage(stop: StopRequest): string {
  return stop.kind === 'cancel' ? stop.reason : `${stop.kind}: ${stop.reason}`;
}
