import { runKeys, type ArtifactEpoch, type Artifact, type TrialRecord } from '@setrain/protocol';

/** The files of one artifact set (best/ or final/) of a trial, as its trial.json records them. */
export interface ArtifactSelection {
  readonly weights: ArtifactEpoch;
  /** The epoch whose weights the files hold (null when the record does not say). */
  readonly epoch: number | null;
  readonly artifacts: readonly Artifact[];
}

/** Why a trial's record cannot answer for the requested weights (the route answers 404). */
export class ArtifactSelectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArtifactSelectionError';
  }
}

/**
 * Picks the artifacts of `weights` from a trial record, only those under the set's own directory.
 * Records written before best/ existed tag no set: their final/ holds the last epoch, which is also
 * the best one only when bestEpoch is the last epoch.
 */
export function selectArtifacts(record: TrialRecord, weights: ArtifactEpoch): ArtifactSelection {
  const keys = runKeys(record.sweepId).trial(record.trialId);
  const dir = weights === 'best' ? keys.best : keys.final;
  const lastEpoch = record.epochs.at(-1)?.epoch ?? null;
  const tagged = record.artifacts.some((a) => a.set !== undefined);
  let artifacts: Artifact[];
  let epoch: number | null;
  if (tagged) {
    artifacts = record.artifacts.filter((a) => a.set === weights && a.key.startsWith(dir));
    epoch = artifacts[0]?.epoch ?? (weights === 'best' ? record.bestEpoch : lastEpoch);
  } else {
    const finals = record.artifacts.filter((a) => a.key.startsWith(keys.final));
    if (weights === 'best' && record.bestEpoch !== lastEpoch) {
      throw new ArtifactSelectionError(
        `trial ${record.trialId} was recorded before best/ existed and its final/ holds epoch ` +
          `${String(lastEpoch)}, not its best epoch ${String(record.bestEpoch)}; ask for ?epoch=last`,
      );
    }
    artifacts = finals;
    epoch = lastEpoch;
  }
  if (artifacts.length === 0) {
    throw new ArtifactSelectionError(
      `trial ${record.trialId}'s trial.json lists no ${weights === 'best' ? 'best/' : 'final/'} artifacts`,
    );
  }
  return { weights, epoch, artifacts };
}
