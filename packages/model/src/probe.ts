import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '@setrain/engine';
import { buildSeInceptionV3 } from './index.js';
const info = await initEngine({ backend: 'wasm' });
console.log(info.backend, info.description);
const m = buildSeInceptionV3({ numClasses: 3, inputSize: 75, dropout: 0, seed: 1 });
m.compile({ optimizer: tf.train.adam(1e-3), loss: 'binaryCrossentropy' });
const x = tf.randomUniform([4, 75, 75, 3], 0, 255, 'float32', 1);
const y = tf.tensor2d([
  [1, 0, 0],
  [0, 1, 0],
  [0, 0, 1],
  [1, 1, 0],
]);
for (let i = 0; i < 6; i++) {
  const t = Date.now();
  const loss = await m.trainOnBatch(x, y);
  console.log('step', i, loss, Date.now() - t, 'ms', tf.memory().numTensors);
}
let t = Date.now();
const m299 = buildSeInceptionV3({ numClasses: 3 });
console.log('build', Date.now() - t);
t = Date.now();
const p = m299.predict(tf.zeros([1, 299, 299, 3])) as tf.Tensor;
await p.data();
console.log('predict299', Date.now() - t);
