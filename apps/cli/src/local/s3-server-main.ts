/**
 * An S3-compatible server: s3rver over a data folder. Usage:
 *   node --openssl-legacy-provider s3-server-main.js <dir> <port> [bucket|-] [address]
 * Port 0 lets the OS choose; the line `s3rver listening on <address>:<port>` says which. The bucket
 * (`-` for none) is created when missing; objects survive restarts. Address: 127.0.0.1 by default.
 * s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 offers only through
 * the legacy provider. Run by `setrain local`, by the test harness (startS3) and, through Node
 * 24's type stripping, by the offline compose image (infra/offline/s3.Dockerfile, on 0.0.0.0).
 */
import S3rver from 's3rver';

const [directory, portText, bucket = '-', address = '127.0.0.1'] = process.argv.slice(2);
const port = Number(portText);
if (!directory || !Number.isInteger(port)) {
  console.error('usage: s3-server-main <directory> <port> [bucket|-] [address]');
  process.exit(2);
}
const server = new S3rver({
  address,
  port,
  directory,
  silent: true,
  // Path-style only: with virtual-host buckets on, a request to http://minio:9000/... (a compose
  // service name) would be read as one to the bucket "minio".
  vhostBuckets: false,
  configureBuckets: bucket === '-' ? [] : [{ name: bucket, configs: [] }],
});
const listening = await server.run();
console.log(`s3rver listening on ${address}:${listening.port}, data in ${directory}`);
const shutdown = () => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
