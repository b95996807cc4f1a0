/**
 * The real API (buildApp + listen on 127.0.0.1) over a real Redis and no S3, for tests whose sweep
 * state is written straight into Redis (test/ui/synthetic-sweep.ts): nothing they do reaches S3.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { buildApp, type ApiApp, type AppDeps } from '@setrain/api';
import { type Redis } from 'ioredis';

export async function listenRedisOnlyApi(
  redis: Redis,
  keyPrefix: string,
  apiKey: string,
  events: AppDeps['events'],
): Promise<{ app: ApiApp; base: string }> {
  const app = await buildApp({
    redis,
    // A closed port: any S3 call would fail loudly instead of reaching something.
    s3: new S3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' }),
    keyPrefix,
    artifactsBucket: 'unused',
    apiKeys: [apiKey],
    metrics: false,
    events,
  });
  return { app, base: await app.listen({ host: '127.0.0.1', port: 0 }) };
}
