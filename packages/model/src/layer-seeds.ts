/**
 * Seed of one layer's initialiser, derived from the model seed and the layer's name, so every layer
 * gets its own random stream and a build does not depend on the order layers are created in.
 * FNV-1a over `<seed>/<name>`; 32 bits are plenty for tfjs' seeded generator.
 */
export function layerSeed(modelSeed: number, layerName: string): number {
  let hash = 0x811c9dc5;
  for (const char of `${modelSeed}/${layerName}`) {
    hash ^= char.charCodeAt(0);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
