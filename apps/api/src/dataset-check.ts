import { type S3Client } from '@aws-sdk/client-s3';
import {
  datasetKeys,
  datasetPrefixOfManifest,
  formatS3Uri,
  parseS3Uri,
  type SweepSpec,
} from '@setrain/protocol';
import {
  DatasetInvalidError,
  formatDatasetIssue,
  getObjectText,
  headObject,
  keySegmentProblem,
  MAX_CLASSES_JSON_BYTES,
  parseClassesJson,
  S3BucketNotFoundError,
  S3ObjectNotFoundError,
  S3ObjectTooLargeError,
} from '@setrain/storage';

import { ApiError } from './errors.js';

/** The spec field every dataset problem is reported under. */
export const DATASET_FIELD = 'dataset';

function datasetError(uri: string, detail: string, messages: readonly string[]): ApiError {
  return new ApiError(
    'DATASET_INVALID',
    { dataset: uri, detail },
    messages.map((message) => ({ path: DATASET_FIELD, message })),
  );
}

/**
 * Checks that every object a spec makes the service read (the dataset, the backbone weights) lies
 * in an allowed bucket and has a normalised key: the API and workers read them with the service's
 * own credentials, so without this a key holder could read any bucket those credentials reach.
 */
export function checkDataLocations(spec: SweepSpec, allowedBuckets: readonly string[]): void {
  const fields: [string, string | undefined][] = [
    [DATASET_FIELD, spec.dataset],
    ['model.backboneWeights', spec.model.backboneWeights],
  ];
  for (const [field, uri] of fields) {
    if (uri === undefined) continue;
    const location = parseS3Uri(uri);
    if (location === undefined) continue; // The spec schema already reported it.
    if (!allowedBuckets.includes(location.bucket)) {
      throw new ApiError(
        'DATA_BUCKET_NOT_ALLOWED',
        { field, uri, bucket: location.bucket, allowed: allowedBuckets.join(', ') },
        [{ path: field, message: `bucket ${location.bucket} is not allowed` }],
      );
    }
    const problem = keySegmentProblem(location.key, 'the object key');
    if (problem !== undefined) {
      throw new ApiError('SPEC_INVALID', { detail: `${field}: ${problem}` }, [
        { path: field, message: problem },
      ]);
    }
  }
}

/**
 * Checks at submit time that a dataset exists and names its classes: the manifest must exist
 * (HEAD: a large manifest is not read here; workers validate every line) and classes.json next to
 * it must parse. Returns how many classes it names. Throws ApiError DATASET_INVALID naming the
 * object, or S3_UNAVAILABLE.
 */
export async function checkDataset(
  s3: S3Client,
  manifestUri: string,
): Promise<{ numClasses: number }> {
  const location = parseS3Uri(manifestUri);
  if (location === undefined) {
    throw datasetError(manifestUri, 'not an s3:// URI', [`${manifestUri} is not an s3:// URI`]);
  }
  const classesKey = datasetKeys(datasetPrefixOfManifest(location.key)).classes;
  const classesUri = formatS3Uri({ bucket: location.bucket, key: classesKey });
  try {
    const manifest = await headObject(s3, location.bucket, location.key);
    if (manifest === undefined) {
      throw datasetError(manifestUri, 'the manifest does not exist', [
        `manifest ${manifestUri} does not exist`,
      ]);
    }
    const classes = await getObjectText(s3, location.bucket, classesKey, {
      maxBytes: MAX_CLASSES_JSON_BYTES,
    });
    return { numClasses: parseClassesJson(classes.text, classesUri).length };
  } catch (error) {
    if (error instanceof ApiError) throw error;
    if (error instanceof S3BucketNotFoundError) {
      throw datasetError(manifestUri, `bucket ${location.bucket} does not exist`, [
        `bucket ${location.bucket} does not exist`,
      ]);
    }
    if (error instanceof S3ObjectNotFoundError) {
      throw datasetError(manifestUri, 'classes.json is missing', [
        `${classesUri} does not exist (it must sit next to the manifest)`,
      ]);
    }
    if (error instanceof S3ObjectTooLargeError) {
      throw datasetError(manifestUri, 'classes.json is too large', [error.message]);
    }
    if (error instanceof DatasetInvalidError) {
      throw datasetError(
        manifestUri,
        'classes.json is invalid',
        error.issues.map((issue) => formatDatasetIssue(issue)),
      );
    }
    throw new ApiError('S3_UNAVAILABLE', {}, undefined, { cause: error });
  }
}
