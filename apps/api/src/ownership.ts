import { parseTrialId, redisKeys } from '@setrain/protocol';
import { type FastifyRequest } from 'fastify';
import { type Redis } from 'ioredis';

import { isAdmin, type Principal } from './auth.js';
import { ApiError } from './errors.js';

/**
 * Who submitted each sweep (the name of its API key), and each key's own sweeps newest first, so
 * keys without `admin` see and change only their own. Sweeps from before ownership have no owner
 * and are visible to admin keys only.
 */
export class SweepOwners {
  private readonly keys: ReturnType<typeof redisKeys>;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = redisKeys(prefix);
  }

  async record(sweepId: string, owner: string, createdAtMs: number): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.sweepOwners, sweepId, owner)
      .zadd(this.keys.ownerSweeps(owner), createdAtMs, sweepId)
      .exec();
  }

  async ownerOf(sweepId: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.sweepOwners, sweepId)) ?? undefined;
  }

  /** The submitter of each sweep (undefined for sweeps from before ownership), in one round trip. */
  async ownersOf(sweepIds: readonly string[]): Promise<(string | undefined)[]> {
    if (sweepIds.length === 0) return [];
    const owners = await this.redis.hmget(this.keys.sweepOwners, ...sweepIds);
    return owners.map((owner) => owner ?? undefined);
  }

  /** A page of one key's sweep ids, newest first, and how many it has in all. */
  async list(owner: string, offset: number, limit: number) {
    const key = this.keys.ownerSweeps(owner);
    const [ids, total] = await Promise.all([
      this.redis.zrevrange(key, offset, offset + limit - 1),
      this.redis.zcard(key),
    ]);
    return { ids, total };
  }

  /** True when the sweep exists (owned or not). */
  async exists(sweepId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.sweep(sweepId))) === 1;
  }
}

/** The sweep a route's `:id` belongs to (`/v1/sweeps/:id...` or `/v1/trials/:id`), if any. */
function sweepOfRoute(request: FastifyRequest): string | undefined {
  const url = request.routeOptions.url ?? '';
  const id = (request.params as Readonly<Record<string, unknown>> | undefined)?.['id'];
  if (typeof id !== 'string') return undefined;
  if (url.startsWith('/v1/sweeps/:id')) return id;
  if (url.startsWith('/v1/trials/:id')) return parseTrialId(id)?.sweepId;
  return undefined;
}

/**
 * True when a key without `admin` may not reach the sweep: another key submitted it, or it exists
 * without an owner (submitted before ownership). A sweep that does not exist is not refused here.
 */
export async function isOthersSweep(
  owners: SweepOwners,
  sweepId: string,
  principal: Principal,
): Promise<boolean> {
  const owner = await owners.ownerOf(sweepId);
  if (owner === principal.name) return false;
  return owner !== undefined || (await owners.exists(sweepId));
}

/**
 * preHandler: a key without `admin` reaches only its own sweeps (and their trials); another key's
 * sweep answers 403 FORBIDDEN. A sweep that does not exist falls through to the route's 404.
 */
export async function checkSweepOwnership(
  owners: SweepOwners,
  request: FastifyRequest,
  principal: Principal | undefined,
): Promise<void> {
  if (principal === undefined || isAdmin(principal)) return;
  const sweepId = sweepOfRoute(request);
  if (sweepId === undefined) return;
  if (!(await isOthersSweep(owners, sweepId, principal))) return;
  throw new ApiError('FORBIDDEN', {
    keyName: principal.name,
    action: `${request.method} ${request.routeOptions.url ?? request.url}`,
    detail: `sweep ${sweepId} was submitted by another key; only admin keys reach every sweep`,
  });
}
