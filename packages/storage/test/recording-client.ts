import { after } from 'node:test';
import { type S3Client } from '@aws-sdk/client-s3';
import { createS3Client, type S3Config } from '@setrain/storage';

/**
 * A client on the given server that records the name of every command it sends (to tell a
 * multipart upload from a single put); destroyed after the test that made it.
 */
export function recordingClient(config: S3Config): { client: S3Client; commands: string[] } {
  const client = createS3Client(config);
  const commands: string[] = [];
  client.middlewareStack.add(
    (next, context) => (args) => {
      commands.push(context.commandName ?? '?');
      return next(args);
    },
    { step: 'initialize', name: 'recordCommands' },
  );
  after(() => {
    client.destroy();
  });
  return { client, commands };
}
