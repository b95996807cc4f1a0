// Entry point of the s3rver child process started by startS3() (s3.ts). Plain JS so it starts
// without a TypeScript loader. Usage: node --openssl-legacy-provider s3rver-main.mjs <directory>
// Prints "S3RVER_LISTENING <port>" once it accepts connections.
import S3rver from 's3rver';

const directory = process.argv[2];
if (!directory) {
  console.error('usage: s3rver-main.mjs <directory>');
  process.exit(2);
}
const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true });
const address = await server.run();
console.log(`S3RVER_LISTENING ${address.port}`);
const shutdown = () => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
