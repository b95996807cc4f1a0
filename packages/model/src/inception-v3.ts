import { initializers, layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';

import { layerSeed } from './layer-seeds.js';
import { ScaleFreeBatchNormalization } from './scale-free-batch-normalization.js';

/** The Inception modules whose outputs an SE block may follow, with their channel counts. */
export const INCEPTION_V3_BLOCKS = [
  { name: 'mixed0', channels: 256 },
  { name: 'mixed1', channels: 288 },
  { name: 'mixed2', channels: 288 },
  { name: 'mixed3', channels: 768 },
  { name: 'mixed4', channels: 768 },
  { name: 'mixed5', channels: 768 },
  { name: 'mixed6', channels: 768 },
  { name: 'mixed7', channels: 768 },
  { name: 'mixed8', channels: 1280 },
  { name: 'mixed9', channels: 2048 },
  { name: 'mixed10', channels: 2048 },
] as const;
export type InceptionV3BlockName = (typeof INCEPTION_V3_BLOCKS)[number]['name'];

/** Channels of the backbone's final feature map (mixed10). */
export const INCEPTION_V3_FEATURE_CHANNELS = 2048;

/** Layers that carry the backbone's weights, named as in Keras and its ImageNet .h5 file. */
export function isInceptionV3WeightLayer(layerName: string): boolean {
  return /^(conv2d|batch_normalization)_\d+$/.test(layerName);
}

/** Options of buildInceptionV3Backbone. */
export interface InceptionV3BackboneOptions {
  /** Seed of the convolution kernels' initialisers. */
  seed: number;
  /** Called with each Inception module's output; what it returns feeds the next module (used to
   * insert SE blocks). Default: identity. */
  afterBlock?:
    | ((x: SymbolicTensor, block: InceptionV3BlockName, channels: number) => SymbolicTensor)
    | undefined;
}

/** Hands out Keras 2's default layer names (conv2d_1, conv2d_2, ...) in creation order. */
class KerasLayerNamer {
  private readonly counts = new Map<string, number>();

  next(prefix: string): string {
    const n = (this.counts.get(prefix) ?? 0) + 1;
    this.counts.set(prefix, n);
    return `${prefix}_${n}`;
  }
}

/**
 * Keras InceptionV3 with include_top=False, layer for layer (keras/applications/inception_v3.py):
 * the same topology, creation order and default layer names as the official ImageNet .h5 file, so
 * its weights load by name. Returns the mixed10 feature map (or what afterBlock made of it).
 */
export function buildInceptionV3Backbone(
  input: SymbolicTensor,
  options: InceptionV3BackboneOptions,
): SymbolicTensor {
  const namer = new KerasLayerNamer();
  const afterBlock = options.afterBlock ?? ((x) => x);
  const apply = (
    layer: { apply(x: SymbolicTensor | SymbolicTensor[]): unknown },
    x: SymbolicTensor | SymbolicTensor[],
  ) => layer.apply(x) as SymbolicTensor;

  const conv2dBn = (
    x: SymbolicTensor,
    filters: number,
    rows: number,
    cols: number,
    padding: 'same' | 'valid' = 'same',
    strides: [number, number] = [1, 1],
  ): SymbolicTensor => {
    const convName = namer.next('conv2d');
    const conv = layers.conv2d({
      name: convName,
      filters,
      kernelSize: [rows, cols],
      strides,
      padding,
      useBias: false,
      kernelInitializer: initializers.glorotUniform({ seed: layerSeed(options.seed, convName) }),
    });
    const bn = new ScaleFreeBatchNormalization({
      name: namer.next('batch_normalization'),
      axis: 3,
    });
    const relu = layers.activation({ activation: 'relu', name: namer.next('activation') });
    return apply(relu, apply(bn, apply(conv, x)));
  };
  const maxPool = (x: SymbolicTensor) =>
    apply(
      layers.maxPooling2d({
        poolSize: [3, 3],
        strides: [2, 2],
        padding: 'valid',
        name: namer.next('max_pooling2d'),
      }),
      x,
    );
  const avgPool = (x: SymbolicTensor) =>
    apply(
      layers.averagePooling2d({
        poolSize: [3, 3],
        strides: [1, 1],
        padding: 'same',
        name: namer.next('average_pooling2d'),
      }),
      x,
    );
  const concat = (xs: SymbolicTensor[], name?: string) =>
    apply(layers.concatenate({ axis: 3, name: name ?? namer.next('concatenate') }), xs);
  const block = (xs: SymbolicTensor[], name: InceptionV3BlockName) => {
    const channels = INCEPTION_V3_BLOCKS.find((b) => b.name === name)?.channels ?? 0;
    return afterBlock(concat(xs, name), name, channels);
  };

  let x = conv2dBn(input, 32, 3, 3, 'valid', [2, 2]);
  x = conv2dBn(x, 32, 3, 3, 'valid');
  x = conv2dBn(x, 64, 3, 3);
  x = maxPool(x);
  x = conv2dBn(x, 80, 1, 1, 'valid');
  x = conv2dBn(x, 192, 3, 3, 'valid');
  x = maxPool(x);

  // mixed 0, 1, 2: 35 x 35 x 256/288
  for (const [i, poolFilters] of [32, 64, 64].entries()) {
    const branch1x1 = conv2dBn(x, 64, 1, 1);
    let branch5x5 = conv2dBn(x, 48, 1, 1);
    branch5x5 = conv2dBn(branch5x5, 64, 5, 5);
    let branch3x3dbl = conv2dBn(x, 64, 1, 1);
    branch3x3dbl = conv2dBn(branch3x3dbl, 96, 3, 3);
    branch3x3dbl = conv2dBn(branch3x3dbl, 96, 3, 3);
    const branchPool = conv2dBn(avgPool(x), poolFilters, 1, 1);
    x = block(
      [branch1x1, branch5x5, branch3x3dbl, branchPool],
      `mixed${i}` as InceptionV3BlockName,
    );
  }

  // mixed 3: 17 x 17 x 768
  {
    const branch3x3 = conv2dBn(x, 384, 3, 3, 'valid', [2, 2]);
    let branch3x3dbl = conv2dBn(x, 64, 1, 1);
    branch3x3dbl = conv2dBn(branch3x3dbl, 96, 3, 3);
    branch3x3dbl = conv2dBn(branch3x3dbl, 96, 3, 3, 'valid', [2, 2]);
    const branchPool = maxPool(x);
    x = block([branch3x3, branch3x3dbl, branchPool], 'mixed3');
  }

  // mixed 4, 5, 6, 7: 17 x 17 x 768
  for (const [i, width] of [128, 160, 160, 192].entries()) {
    const branch1x1 = conv2dBn(x, 192, 1, 1);
    let branch7x7 = conv2dBn(x, width, 1, 1);
    branch7x7 = conv2dBn(branch7x7, width, 1, 7);
    branch7x7 = conv2dBn(branch7x7, 192, 7, 1);
    let branch7x7dbl = conv2dBn(x, width, 1, 1);
    branch7x7dbl = conv2dBn(branch7x7dbl, width, 7, 1);
    branch7x7dbl = conv2dBn(branch7x7dbl, width, 1, 7);
    branch7x7dbl = conv2dBn(branch7x7dbl, width, 7, 1);
    branch7x7dbl = conv2dBn(branch7x7dbl, 192, 1, 7);
    const branchPool = conv2dBn(avgPool(x), 192, 1, 1);
    x = block(
      [branch1x1, branch7x7, branch7x7dbl, branchPool],
      `mixed${4 + i}` as InceptionV3BlockName,
    );
  }

  // mixed 8: 8 x 8 x 1280
  {
    let branch3x3 = conv2dBn(x, 192, 1, 1);
    branch3x3 = conv2dBn(branch3x3, 320, 3, 3, 'valid', [2, 2]);
    let branch7x7x3 = conv2dBn(x, 192, 1, 1);
    branch7x7x3 = conv2dBn(branch7x7x3, 192, 1, 7);
    branch7x7x3 = conv2dBn(branch7x7x3, 192, 7, 1);
    branch7x7x3 = conv2dBn(branch7x7x3, 192, 3, 3, 'valid', [2, 2]);
    const branchPool = maxPool(x);
    x = block([branch3x3, branch7x7x3, branchPool], 'mixed8');
  }

  // mixed 9, 10: 8 x 8 x 2048
  for (const i of [0, 1]) {
    const branch1x1 = conv2dBn(x, 320, 1, 1);
    const branch3x3 = conv2dBn(x, 384, 1, 1);
    const branch3x3Split = concat(
      [conv2dBn(branch3x3, 384, 1, 3), conv2dBn(branch3x3, 384, 3, 1)],
      `mixed9_${i}`,
    );
    let branch3x3dbl = conv2dBn(x, 448, 1, 1);
    branch3x3dbl = conv2dBn(branch3x3dbl, 384, 3, 3);
    const branch3x3dblSplit = concat([
      conv2dBn(branch3x3dbl, 384, 1, 3),
      conv2dBn(branch3x3dbl, 384, 3, 1),
    ]);
    const branchPool = conv2dBn(avgPool(x), 192, 1, 1);
    x = block(
      [branch1x1, branch3x3Split, branch3x3dblSplit, branchPool],
      `mixed${9 + i}` as InceptionV3BlockName,
    );
  }
  return x;
}
