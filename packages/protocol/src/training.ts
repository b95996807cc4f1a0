import { z } from 'zod';

export const OPTIMIZERS = ['adam', 'sgd', 'rmsprop'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

export const DEFAULT_EPOCHS = 10;
export const DEFAULT_BATCH_SIZE = 16;
export const DEFAULT_OPTIMIZER: OptimizerName = 'adam';
export const DEFAULT_LEARNING_RATE = 1e-3;
export const DEFAULT_MOMENTUM = 0.9;
export const DEFAULT_VALIDATION_SPLIT = 0.2;
export const DEFAULT_SEED = 0;
/** A random crop keeps this fraction of each side before resizing back to the input size. */
export const DEFAULT_CROP_FRACTION = 0.875;

export const augmentationSchema = z
  .strictObject({
    /** Random horizontal flips. */
    flip: z.boolean().default(true),
    /** Random crops of `cropFraction` of each side, resized back to the input size. */
    crop: z.boolean().default(true),
    cropFraction: z.number().gt(0.5).max(1).default(DEFAULT_CROP_FRACTION),
  })
  .default({ flip: true, crop: true, cropFraction: DEFAULT_CROP_FRACTION });
export type Augmentation = z.infer<typeof augmentationSchema>;

/** Training arguments; every field has a default, so `training: {}` is a valid spec section. */
export const trainingSpecSchema = z
  .strictObject({
    epochs: z.number().int().min(1).max(10_000).default(DEFAULT_EPOCHS),
    batchSize: z.number().int().min(1).max(4096).default(DEFAULT_BATCH_SIZE),
    optimizer: z.enum(OPTIMIZERS).default(DEFAULT_OPTIMIZER),
    learningRate: z.number().gt(0).max(10).default(DEFAULT_LEARNING_RATE),
    /** Momentum for sgd and rmsprop; ignored by adam. */
    momentum: z.number().min(0).lt(1).default(DEFAULT_MOMENTUM),
    /** Fraction of the dataset held out for validation, split deterministically from the seed. */
    validationSplit: z.number().gt(0).lt(1).default(DEFAULT_VALIDATION_SPLIT),
    augmentation: augmentationSchema,
    /** Seeds weight init, the split, shuffling and augmentation. Trials derive their own from it. */
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .default(DEFAULT_SEED),
  })
  .default({
    epochs: DEFAULT_EPOCHS,
    batchSize: DEFAULT_BATCH_SIZE,
    optimizer: DEFAULT_OPTIMIZER,
    learningRate: DEFAULT_LEARNING_RATE,
    momentum: DEFAULT_MOMENTUM,
    validationSplit: DEFAULT_VALIDATION_SPLIT,
    augmentation: { flip: true, crop: true, cropFraction: DEFAULT_CROP_FRACTION },
    seed: DEFAULT_SEED,
  });
export type TrainingSpec = z.infer<typeof trainingSpecSchema>;

/** Metrics a trial reports after each epoch (validation metrics on the held-out split). */
export const METRIC_NAMES = ['val_loss', 'val_accuracy', 'val_auc', 'loss', 'accuracy'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];
export const GOALS = ['minimize', 'maximize'] as const;
export type Goal = (typeof GOALS)[number];

export const objectiveSchema = z
  .strictObject({
    metric: z.enum(METRIC_NAMES).default('val_loss'),
    goal: z.enum(GOALS).default('minimize'),
  })
  .default({ metric: 'val_loss', goal: 'minimize' });
export type Objective = z.infer<typeof objectiveSchema>;

/** True when `a` is a better objective value than `b` under `goal`. */
export function isBetter(goal: Goal, a: number, b: number): boolean {
  return goal === 'minimize' ? a < b : a > b;
}
