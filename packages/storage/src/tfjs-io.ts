import { type S3Client } from '@aws-sdk/client-s3';
import { CHECKPOINT_FILES, formatS3Uri } from '@setrain/protocol';
import type { io } from '@tensorflow/tfjs-core';
import { ChecksumMismatchError } from './errors/checksum-mismatch-error.js';
import { ModelArtifactsInvalidError } from './errors/model-artifacts-invalid-error.js';
import {
  getObjectBytes,
  putObject,
  uploadLarge,
  type PutObjectResult,
  type UploadOptions,
} from './objects.js';
import { joinKey } from './s3-uri.js';
import { sha256Hex } from './sha256.js';

// Only tfjs-core *types* are used here: apps may load tfjs through @tensorflow/tfjs-node or
// tfjs-backend-*, and a second runtime copy of tfjs-core would register a second engine.

/** model.json `format` when the artifacts name none (LayersModel.save names "layers-model"). */
export const DEFAULT_MODEL_FORMAT = 'layers-model';
export const DEFAULT_MODEL_JSON_FILE = CHECKPOINT_FILES.modelJson;
export const DEFAULT_WEIGHTS_FILE = CHECKPOINT_FILES.weights;

export interface S3ModelFilesOptions {
  /** Name of the topology file under the prefix; default `model.json`. */
  readonly modelJsonFile?: string;
  /** Name of the weights file under the prefix; default `weights.bin`. */
  readonly weightsFile?: string;
}

export interface S3SaveHandlerOptions
  extends S3ModelFilesOptions, Pick<UploadOptions, 'partSizeBytes' | 'queueSize' | 'signal'> {}

export interface S3LoadHandlerOptions extends S3ModelFilesOptions {
  /** Check each file against its `sha256` metadata when it has one. Default true. */
  readonly verifySha256?: boolean;
  readonly signal?: AbortSignal;
}

/** tfjs's SaveResult plus what was written, with the sha256 of each file. */
export interface S3SaveResult extends io.SaveResult {
  readonly files: {
    readonly modelJson: PutObjectResult;
    readonly weights: PutObjectResult;
  };
}

/** An IOHandler whose save() says what it wrote (model.save(handler) returns this at runtime). */
export interface S3SaveHandler extends io.IOHandler {
  save(modelArtifacts: io.ModelArtifacts): Promise<S3SaveResult>;
}

export interface S3LoadHandler extends io.IOHandler {
  load(): Promise<io.ModelArtifacts>;
}

/** Joins tfjs's WeightData (one buffer, or several for models above 2 GiB) into one byte array. */
function weightBytes(weightData: io.WeightData | undefined): Uint8Array {
  if (weightData === undefined) return new Uint8Array(0);
  const buffers = Array.isArray(weightData) ? weightData : [weightData];
  const total = buffers.reduce((sum, buffer) => sum + buffer.byteLength, 0);
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const buffer of buffers) {
    joined.set(new Uint8Array(buffer), offset);
    offset += buffer.byteLength;
  }
  return joined;
}

function utf8Length(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/** Same numbers as tfjs's getModelArtifactsInfoForJSON, without a runtime tfjs-core import. */
function artifactsInfo(
  artifacts: io.ModelArtifacts,
  weightDataBytes: number,
): io.ModelArtifactsInfo {
  return {
    dateSaved: new Date(),
    modelTopologyType: 'JSON',
    modelTopologyBytes:
      artifacts.modelTopology === undefined ? 0 : utf8Length(artifacts.modelTopology),
    weightSpecsBytes: artifacts.weightSpecs === undefined ? 0 : utf8Length(artifacts.weightSpecs),
    weightDataBytes,
  };
}

function checkFileName(name: string, field: string): void {
  if (name === '' || name.includes('/') || name === '.' || name === '..') {
    throw new RangeError(`${field} must be a plain file name, got ${JSON.stringify(name)}`);
  }
}

/**
 * A tfjs save handler writing `<prefix>/weights.bin` (multipart when large) and then
 * `<prefix>/model.json` (last, so a present model.json means a complete save), each with its
 * sha256 as metadata. Layout matches tfjs-node's file:// handler: one weights group, one path.
 */
export function s3SaveHandler(
  client: S3Client,
  bucket: string,
  prefix: string,
  options: S3SaveHandlerOptions = {},
): S3SaveHandler {
  const modelJsonFile = options.modelJsonFile ?? DEFAULT_MODEL_JSON_FILE;
  const weightsFile = options.weightsFile ?? DEFAULT_WEIGHTS_FILE;
  checkFileName(modelJsonFile, 'modelJsonFile');
  checkFileName(weightsFile, 'weightsFile');
  const modelJsonKey = joinKey(prefix, modelJsonFile);
  const weightsKey = joinKey(prefix, weightsFile);
  return {
    async save(artifacts: io.ModelArtifacts): Promise<S3SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new ModelArtifactsInvalidError(
          formatS3Uri({ bucket, key: modelJsonKey }),
          'binary (protobuf) topologies are not supported; save a LayersModel',
        );
      }
      const weights = weightBytes(artifacts.weightData);
      const weightsManifest: io.WeightsManifestConfig = [
        { paths: [weightsFile], weights: artifacts.weightSpecs ?? [] },
      ];
      const modelJson: io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        weightsManifest,
        format: artifacts.format ?? DEFAULT_MODEL_FORMAT,
        ...(artifacts.generatedBy !== undefined ? { generatedBy: artifacts.generatedBy } : {}),
        ...(artifacts.convertedBy != null ? { convertedBy: artifacts.convertedBy } : {}),
        ...(artifacts.trainingConfig !== undefined
          ? { trainingConfig: artifacts.trainingConfig }
          : {}),
        ...(artifacts.signature !== undefined ? { signature: artifacts.signature } : {}),
        ...(artifacts.userDefinedMetadata !== undefined
          ? { userDefinedMetadata: artifacts.userDefinedMetadata }
          : {}),
        ...(artifacts.modelInitializer !== undefined
          ? { modelInitializer: artifacts.modelInitializer }
          : {}),
        ...(artifacts.initializerSignature !== undefined
          ? { initializerSignature: artifacts.initializerSignature }
          : {}),
      };
      const uploadOptions = {
        contentType: 'application/octet-stream',
        ...(options.partSizeBytes !== undefined ? { partSizeBytes: options.partSizeBytes } : {}),
        ...(options.queueSize !== undefined ? { queueSize: options.queueSize } : {}),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      };
      const weightsResult = await uploadLarge(client, bucket, weightsKey, weights, uploadOptions);
      const modelJsonResult = await putObject(
        client,
        bucket,
        modelJsonKey,
        JSON.stringify(modelJson),
        {
          contentType: 'application/json',
          ...(options.signal !== undefined ? { signal: options.signal } : {}),
        },
      );
      return {
        modelArtifactsInfo: artifactsInfo(artifacts, weights.byteLength),
        files: { modelJson: modelJsonResult, weights: weightsResult },
      };
    },
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks the parts of model.json that load() relies on; tfjs checks the topology itself. */
function checkModelJson(value: unknown, uri: string): io.ModelJSON {
  if (!isRecord(value))
    throw new ModelArtifactsInvalidError(uri, 'model.json is not a JSON object');
  if (!isRecord(value['modelTopology'])) {
    throw new ModelArtifactsInvalidError(uri, 'modelTopology is missing or not an object');
  }
  const manifest = value['weightsManifest'];
  if (!Array.isArray(manifest)) {
    throw new ModelArtifactsInvalidError(uri, 'weightsManifest is missing or not an array');
  }
  manifest.forEach((group: unknown, index) => {
    if (
      !isRecord(group) ||
      !Array.isArray(group['paths']) ||
      !Array.isArray(group['weights']) ||
      !group['paths'].every((path): path is string => typeof path === 'string')
    ) {
      throw new ModelArtifactsInvalidError(
        uri,
        `weightsManifest[${index}] must have string array "paths" and array "weights"`,
      );
    }
    for (const path of group['paths']) {
      if (path === '' || path.startsWith('/') || path.split('/').includes('..')) {
        throw new ModelArtifactsInvalidError(
          uri,
          `weightsManifest[${index}] path ${JSON.stringify(path)} must be relative to model.json, without '..'`,
        );
      }
    }
  });
  // Shape checked above for what we read; the topology's contents are tfjs's to validate.
  return value as unknown as io.ModelJSON;
}

/**
 * A tfjs load handler reading `<prefix>/model.json` and the weight files its manifest names
 * (relative to the prefix), verifying each against its `sha256` metadata.
 */
export function s3LoadHandler(
  client: S3Client,
  bucket: string,
  prefix: string,
  options: S3LoadHandlerOptions = {},
): S3LoadHandler {
  const modelJsonFile = options.modelJsonFile ?? DEFAULT_MODEL_JSON_FILE;
  checkFileName(modelJsonFile, 'modelJsonFile');
  const modelJsonKey = joinKey(prefix, modelJsonFile);
  const verify = options.verifySha256 !== false;
  const requestOptions = options.signal !== undefined ? { signal: options.signal } : {};

  const readVerified = async (key: string): Promise<Uint8Array> => {
    const object = await getObjectBytes(client, bucket, key, requestOptions);
    if (verify && object.sha256 !== undefined) {
      const actual = sha256Hex(object.bytes);
      if (actual !== object.sha256) {
        throw new ChecksumMismatchError(formatS3Uri({ bucket, key }), object.sha256, actual);
      }
    }
    return object.bytes;
  };

  return {
    async load(): Promise<io.ModelArtifacts> {
      const uri = formatS3Uri({ bucket, key: modelJsonKey });
      const modelJsonBytes = await readVerified(modelJsonKey);
      let parsed: unknown;
      try {
        parsed = JSON.parse(new TextDecoder().decode(modelJsonBytes));
      } catch (cause) {
        throw new ModelArtifactsInvalidError(uri, `model.json is not JSON: ${String(cause)}`);
      }
      const modelJson = checkModelJson(parsed, uri);
      const weightSpecs: io.WeightsManifestEntry[] = [];
      const parts: Uint8Array[] = [];
      for (const group of modelJson.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const path of group.paths) parts.push(await readVerified(joinKey(prefix, path)));
      }
      const total = parts.reduce((sum, part) => sum + part.byteLength, 0);
      const weightData = new Uint8Array(total);
      let offset = 0;
      for (const part of parts) {
        weightData.set(part, offset);
        offset += part.byteLength;
      }
      return {
        modelTopology: modelJson.modelTopology,
        weightSpecs,
        weightData: weightData.buffer,
        ...(modelJson.format !== undefined ? { format: modelJson.format } : {}),
        ...(modelJson.generatedBy !== undefined ? { generatedBy: modelJson.generatedBy } : {}),
        ...(modelJson.convertedBy != null ? { convertedBy: modelJson.convertedBy } : {}),
        ...(modelJson.trainingConfig !== undefined
          ? { trainingConfig: modelJson.trainingConfig }
          : {}),
        ...(modelJson.signature !== undefined ? { signature: modelJson.signature } : {}),
        ...(modelJson.userDefinedMetadata !== undefined
          ? { userDefinedMetadata: modelJson.userDefinedMetadata }
          : {}),
        ...(modelJson.modelInitializer !== undefined
          ? { modelInitializer: modelJson.modelInitializer }
          : {}),
        ...(modelJson.initializerSignature !== undefined
          ? { initializerSignature: modelJson.initializerSignature }
          : {}),
      };
    },
  };
}
