/**
 * The S3 layout of datasets and runs (see ARCHITECTURE.md). Every key the system writes is built here.
 *
 *   datasets/<name>/manifest.jsonl, datasets/<name>/classes.json, datasets/<name>/images/...
 *   runs/<sweepId>/sweep.json
 *   runs/<sweepId>/trials/<trialId>/trial.json
 *   runs/<sweepId>/trials/<trialId>/checkpoints/epoch-0003/{model.json,weights.bin,optimizer.bin,state.json}
 *   runs/<sweepId>/trials/<trialId>/final/{model.json,weights.bin,weights.h5,classes.json}  (last epoch)
 *   runs/<sweepId>/trials/<trialId>/best/{model.json,weights.bin,weights.h5,classes.json}   (best epoch)
 *   runs/<sweepId>/archive.json   (a finished sweep's record and trial states)
 */

export const MANIFEST_FILE = 'manifest.jsonl';
export const CLASSES_FILE = 'classes.json';

/** Files of a checkpoint directory. */
export const CHECKPOINT_FILES = {
  modelJson: 'model.json',
  weights: 'weights.bin',
  optimizer: 'optimizer.bin',
  state: 'state.json',
} as const;

/** Files of a trial's final/ directory. */
export const FINAL_FILES = {
  modelJson: 'model.json',
  weights: 'weights.bin',
  kerasH5: 'weights.h5',
  /** The dataset's ordered class names: output unit i is classes[i]. Needed to use the model. */
  classes: 'classes.json',
} as const;

/** Keys of a dataset whose manifest is at `<prefix>/manifest.jsonl`. */
export function datasetKeys(prefix: string) {
  const base = prefix.replace(/\/+$/, '');
  return {
    prefix: base,
    manifest: `${base}/${MANIFEST_FILE}`,
    classes: `${base}/${CLASSES_FILE}`,
    /** Manifest keys are relative to the dataset prefix. */
    image: (relativeKey: string) => `${base}/${relativeKey}`,
  };
}

/** The dataset prefix of a manifest key (`datasets/x/manifest.jsonl` -> `datasets/x`). */
export function datasetPrefixOfManifest(manifestKey: string): string {
  const slash = manifestKey.lastIndexOf('/');
  return slash < 0 ? '' : manifestKey.slice(0, slash);
}

export function epochDirName(epoch: number): string {
  return `epoch-${String(epoch).padStart(4, '0')}`;
}

export function runKeys(sweepId: string) {
  const base = `runs/${sweepId}`;
  return {
    prefix: `${base}/`,
    sweepJson: `${base}/sweep.json`,
    /** A finished sweep's record and trial states, so it answers after its Redis keys expire. */
    archiveJson: `${base}/archive.json`,
    trial(trialId: string) {
      const trialBase = `${base}/trials/${trialId}`;
      return {
        prefix: `${trialBase}/`,
        trialJson: `${trialBase}/trial.json`,
        checkpointsPrefix: `${trialBase}/checkpoints/`,
        /** Directory (with trailing slash) of the checkpoint written after `epoch` (1-based). */
        checkpoint: (epoch: number) => `${trialBase}/checkpoints/${epochDirName(epoch)}/`,
        /** Where PBT copies a donor's checkpoint of `epoch` at this trial's exploit number `exploit`. */
        exploitedCheckpoint: (epoch: number, exploit: number) =>
          `${trialBase}/checkpoints/${epochDirName(epoch)}-pbt-${exploit}/`,
        /** The last epoch's weights (see ARTIFACT_DIRS). */
        final: `${trialBase}/final/`,
        /** The best epoch's weights by the sweep's objective (see ARTIFACT_DIRS). */
        best: `${trialBase}/best/`,
      };
    },
  };
}
