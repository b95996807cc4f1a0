import { z } from 'zod';

import {
  HEAD_ACTIVATIONS,
  MAX_INPUT_SIZE,
  MAX_SE_RATIO,
  MIN_INPUT_SIZE,
  MIN_SE_RATIO,
  PREPROCESSINGS,
  SE_PLACEMENTS,
} from './model-args.js';

/** Model arguments in a spec. numClasses is not given: it comes from the dataset's classes.json. */
export const modelSpecSchema = z
  .strictObject({
    inputSize: z.number().int().min(MIN_INPUT_SIZE).max(MAX_INPUT_SIZE).optional(),
    seRatio: z.number().int().min(MIN_SE_RATIO).max(MAX_SE_RATIO).optional(),
    dropout: z.number().min(0).lt(1).optional(),
    sePlacement: z.enum(SE_PLACEMENTS).optional(),
    headActivation: z.enum(HEAD_ACTIVATIONS).optional(),
    preprocessing: z.enum(PREPROCESSINGS).optional(),
    /** Where to load ImageNet backbone weights from (s3:// URI of the Keras notop .h5); none by default. */
    backboneWeights: z
      .string()
      .regex(/^s3:\/\/.+\.h5$/, 'must be an s3:// URI of a Keras .h5 file')
      .optional(),
  })
  .default({});
export type ModelSpec = z.infer<typeof modelSpecSchema>;
