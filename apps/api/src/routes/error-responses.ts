import { apiErrorBodySchema } from '@setrain/protocol';

/** Error responses every authenticated route may give, for the OpenAPI document. */
export const COMMON_ERROR_RESPONSES = {
  400: apiErrorBodySchema,
  401: apiErrorBodySchema,
  404: apiErrorBodySchema,
  503: apiErrorBodySchema,
} as const;
