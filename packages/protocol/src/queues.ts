/** The BullMQ queue that carries trials from the controller to workers. */
export const TRIALS_QUEUE = 'trials';
/** Default BullMQ/Redis key prefix. The braces are a Redis Cluster hash tag: every key of the
 * system lands in one slot, so BullMQ's multi-key scripts never raise CROSSSLOT. */
export const DEFAULT_KEY_PREFIX = '{setrain}';

/** Redis keys outside BullMQ's own, all under the same prefix (and so the same cluster slot). */
export function redisKeys(prefix: string = DEFAULT_KEY_PREFIX) {
  return {
    /** Sorted set of sweep ids scored by creation time (ms). */
    sweeps: `${prefix}:sweeps`,
    /** Set of the sweeps the controller still looks after (unfinished, or trials still ending). */
    activeSweeps: `${prefix}:sweeps:active`,
    /** JSON of a sweep's controller state. */
    sweep: (sweepId: string) => `${prefix}:sweep:${sweepId}`,
    /** Hash trialId -> JSON TrialState of a sweep's trials. */
    sweepTrials: (sweepId: string) => `${prefix}:sweep:${sweepId}:trials`,
    /** List of JSON EpochMetrics of a trial, in epoch order. */
    trialEpochs: (trialId: string) => `${prefix}:trial:${trialId}:epochs`,
    /** Lock a controller holds while it advances a sweep. */
    sweepLock: (sweepId: string) => `${prefix}:sweep:${sweepId}:lock`,
    /** Pub/sub channel for ControlMessages (cancel reaches the worker that holds a trial). */
    controlChannel: `${prefix}:control`,
    /** Hash workerId -> JSON heartbeat of live workers. */
    workers: `${prefix}:workers`,
    /**
     * Hash of durable stop requests of a sweep: field trialId (one trial) or SWEEP_STOP_FIELD (every
     * trial of the sweep) -> JSON StopRequest. The controller writes it *before* publishing the
     * pub/sub cancel (the fast path), and workers read it before starting a trial, at batch
     * boundaries and before each checkpoint, so a lost pub/sub message never loses a stop.
     */
    sweepStops: (sweepId: string) => `${prefix}:sweep:${sweepId}:stops`,
    /** List of JSON WebhookDelivery attempts of a sweep, newest first (capped). */
    sweepWebhooks: (sweepId: string) => `${prefix}:sweep:${sweepId}:webhooks`,
    /** Hash sweepId -> name of the API key that submitted it (keys with scopes, see auth). */
    sweepOwners: `${prefix}:sweep-owners`,
    /** Sorted set of the sweep ids one key submitted, scored by creation time (ms). */
    ownerSweeps: (keyName: string) => `${prefix}:owner:${keyName}:sweeps`,
  };
}

/** The field of `redisKeys().sweepStops` that stops every trial of the sweep. */
export const SWEEP_STOP_FIELD = '*';
