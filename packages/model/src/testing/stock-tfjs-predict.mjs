// Loads a model folder (model.json + weights) with stock @tensorflow/tfjs only, over HTTP as a
// browser would, and writes its predictions on the inputs of a JSON file.
// Usage: node stock-tfjs-predict.mjs <model-dir> <inputs.json> <out.json>
// It imports nothing from setrain, so a model.json that needs a setrain layer fails here.
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs';

const [dir, inputsPath, outPath] = process.argv.slice(2);
if (dir === undefined || inputsPath === undefined || outPath === undefined) {
  throw new Error('usage: stock-tfjs-predict.mjs <model-dir> <inputs.json> <out.json>');
}

const server = createServer((request, response) => {
  const name = (request.url ?? '/').slice(1);
  if (!/^[\w.-]+$/.test(name)) {
    response.writeHead(404).end();
    return;
  }
  readFile(join(dir, name)).then(
    (bytes) => response.writeHead(200).end(bytes),
    () => response.writeHead(404).end(),
  );
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
const address = server.address();
if (address === null || typeof address === 'string') throw new Error('no server address');
try {
  const model = await tf.loadLayersModel(`http://127.0.0.1:${address.port}/model.json`);
  const { shape, values } = JSON.parse(await readFile(inputsPath, 'utf8'));
  const output = tf.tidy(() => model.predict(tf.tensor(values, shape)));
  await writeFile(
    outPath,
    JSON.stringify({
      backend: tf.getBackend(),
      layerClasses: [...new Set(model.layers.map((layer) => layer.getClassName()))].sort(),
      shape: output.shape,
      values: Array.from(await output.data()),
    }),
  );
} finally {
  server.close();
}
