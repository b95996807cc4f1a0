/**
 * V8 heap snapshots of a page through the DevTools protocol, summarised by node type, so a test
 * can tell the page's own objects growing (a leak) from compiled code and the browser's buffers.
 */
import { type CDPSession } from 'puppeteer-core';

/** Bytes and counts of the nodes of each type (`object`, `closure`, `array`, `string`, `code`, ...). */
export type HeapByType = Record<string, { count: number; bytes: number }>;

/** Node types that are the page's own JavaScript values. */
export const JS_VALUE_TYPES = [
  'object',
  'closure',
  'array',
  'string',
  'concatenated string',
  'sliced string',
  'regexp',
  'number',
  'symbol',
  'bigint',
] as const;

interface RawSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
}

/** Collects garbage, takes a snapshot and sums its nodes' self sizes by type. */
export async function heapByType(cdp: CDPSession): Promise<HeapByType> {
  await cdp.send('HeapProfiler.collectGarbage');
  const chunks: string[] = [];
  const onChunk = (event: { chunk: string }): void => void chunks.push(event.chunk);
  cdp.on('HeapProfiler.addHeapSnapshotChunk', onChunk);
  try {
    await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  } finally {
    cdp.off('HeapProfiler.addHeapSnapshotChunk', onChunk);
  }
  const raw = JSON.parse(chunks.join('')) as RawSnapshot;
  const fields = raw.snapshot.meta.node_fields;
  const typeNames = raw.snapshot.meta.node_types[0];
  const typeAt = fields.indexOf('type');
  const sizeAt = fields.indexOf('self_size');
  const byType: HeapByType = {};
  for (let i = 0; i < raw.nodes.length; i += fields.length) {
    const type = typeNames[raw.nodes[i + typeAt] ?? -1] ?? 'unknown';
    const entry = (byType[type] ??= { count: 0, bytes: 0 });
    entry.count += 1;
    entry.bytes += raw.nodes[i + sizeAt] ?? 0;
  }
  return byType;
}

/** Bytes by which the page's own JavaScript values grew from `before` to `after`. */
export function jsValueGrowth(before: HeapByType, after: HeapByType): number {
  return JS_VALUE_TYPES.reduce(
    (sum, type) => sum + (after[type]?.bytes ?? 0) - (before[type]?.bytes ?? 0),
    0,
  );
}
