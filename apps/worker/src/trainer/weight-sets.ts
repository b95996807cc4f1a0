import type { S3Client } from '@aws-sdk/client-s3';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { exportKerasWeights, portableSaveHandler } from '@setrain/model';
import {
  allSettledOrThrow,
  FINAL_FILES,
  type ArtifactEpoch,
  type TrialRecord,
} from '@setrain/protocol';
import {
  copyObject,
  joinKey,
  putObject,
  s3SaveHandler,
  uploadLarge,
  type S3SaveResult,
} from '@setrain/storage';

type Artifacts = TrialRecord['artifacts'];

/** One artifact set: where, which weights, which epoch. */
interface ArtifactSet {
  readonly prefix: string;
  readonly set: ArtifactEpoch;
  readonly epoch: number;
}

/** Where final/ and best/ go and which epochs they hold. */
export interface WeightSetsPlan {
  readonly client: S3Client;
  readonly bucket: string;
  readonly finalPrefix: string;
  readonly bestPrefix: string;
  /** The epoch whose weights the model holds on entry: final/'s. */
  readonly lastEpoch: number;
  /** The best epoch by the objective: best/'s. */
  readonly bestEpoch: number;
  /** Puts the best epoch's weights into the model; called only when it is not the last epoch. */
  loadBestWeights(model: LayersModel): Promise<void>;
}

const classesJson = (classes: readonly string[]): string => `${JSON.stringify(classes)}\n`;

/**
 * Writes an artifact set: model.json (portable: loads in stock tfjs and Keras) + weights.bin,
 * weights.h5 (Keras) and classes.json, each recorded with its set and epoch. The three uploads are
 * independent, so they run side by side; model.json still lands after weights.bin (the save
 * handler's order), so a present model.json means a complete model.
 */
async function writeArtifactSet(
  plan: WeightSetsPlan,
  target: ArtifactSet,
  model: LayersModel,
  classes: readonly string[],
): Promise<Artifacts> {
  const { client, bucket } = plan;
  const { prefix } = target;
  const [saved, h5, classesFile] = await allSettledOrThrow([
    model.save(portableSaveHandler(s3SaveHandler(client, bucket, prefix))) as Promise<S3SaveResult>,
    exportKerasWeights(model).then((bytes) =>
      uploadLarge(client, bucket, joinKey(prefix, FINAL_FILES.kerasH5), bytes, {
        contentType: 'application/x-hdf5',
      }),
    ),
    putObject(client, bucket, joinKey(prefix, FINAL_FILES.classes), classesJson(classes), {
      contentType: 'application/json',
    }),
  ]);
  return [saved.files.modelJson, saved.files.weights, h5, classesFile].map((file) => ({
    key: file.key,
    bytes: file.size,
    sha256: file.sha256,
    set: target.set,
    epoch: target.epoch,
  }));
}

/**
 * Copies a written artifact set to `target` server-side (CopyObject keeps bytes and sha256
 * metadata): the records are those an upload of the same weights would give, under the new keys.
 * model.json is copied last, after the others, as the save handler writes it.
 */
async function copyArtifactSet(
  plan: WeightSetsPlan,
  from: { readonly prefix: string; readonly artifacts: Artifacts },
  target: ArtifactSet,
): Promise<Artifacts> {
  const base = `${joinKey(from.prefix)}/`;
  const copies = from.artifacts.map((artifact) => {
    if (!artifact.key.startsWith(base)) {
      throw new Error(`artifact ${artifact.key} is not under ${base}, the set being copied`);
    }
    const name = artifact.key.slice(base.length);
    return { artifact, name, key: joinKey(target.prefix, name) };
  });
  const copy = (entry: (typeof copies)[number]): Promise<void> =>
    copyObject(plan.client, plan.bucket, entry.artifact.key, entry.key, {
      sourceBytes: entry.artifact.bytes,
    });
  await allSettledOrThrow(copies.filter((c) => c.name !== FINAL_FILES.modelJson).map(copy));
  await allSettledOrThrow(copies.filter((c) => c.name === FINAL_FILES.modelJson).map(copy));
  return copies.map(({ artifact, key }) => ({
    ...artifact,
    key,
    set: target.set,
    epoch: target.epoch,
  }));
}

/**
 * Writes final/ (the last epoch's weights) and best/ (the best epoch's). When the best epoch is the
 * last, best/ is a server-side copy of final/: the same bytes, not serialised and uploaded twice.
 * `model` holds the last epoch's weights on entry and may hold the best's after.
 */
export async function writeWeightSets(
  plan: WeightSetsPlan,
  model: LayersModel,
  classes: readonly string[],
): Promise<Artifacts> {
  const { lastEpoch, bestEpoch } = plan;
  const finalSet = { prefix: plan.finalPrefix, set: 'last', epoch: lastEpoch } as const;
  const bestSet = { prefix: plan.bestPrefix, set: 'best', epoch: bestEpoch } as const;
  const last = await writeArtifactSet(plan, finalSet, model, classes);
  if (bestEpoch === lastEpoch) {
    return [
      ...last,
      ...(await copyArtifactSet(plan, { prefix: finalSet.prefix, artifacts: last }, bestSet)),
    ];
  }
  await plan.loadBestWeights(model);
  return [...last, ...(await writeArtifactSet(plan, bestSet, model, classes))];
}
