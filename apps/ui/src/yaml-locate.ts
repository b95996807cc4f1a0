/**
 * Finds the line of a field path (`search.parameters.dropout.max`, as the API's error issues name
 * fields) in YAML text, so each validation error can be shown at its field. A path that is not in
 * the text (a missing field) is placed at its nearest ancestor that is.
 */
import { isNode, LineCounter, parseDocument } from 'yaml';

export interface Located {
  /** 1-based line, or undefined when not even the root could be placed (unparseable text). */
  readonly line: number | undefined;
  /** The part of the path found in the text. */
  readonly found: string;
}

export function locatePath(text: string, path: string): Located {
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines });
  const segments = path === '' ? [] : path.split('.');
  for (let n = segments.length; n >= 0; n--) {
    const keys = segments.slice(0, n).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    const node: unknown = n === 0 ? document.contents : document.getIn(keys, true);
    if (isNode(node) && node.range) {
      // The key's line reads better than the value's (a nested map starts below its key).
      const pairLine = n === 0 ? undefined : keyLine(document, keys, lines);
      return {
        line: pairLine ?? lines.linePos(node.range[0]).line,
        found: segments.slice(0, n).join('.'),
      };
    }
  }
  return { line: undefined, found: '' };
}

function keyLine(
  document: ReturnType<typeof parseDocument>,
  keys: (string | number)[],
  lines: LineCounter,
): number | undefined {
  const parent: unknown =
    keys.length === 1 ? document.contents : document.getIn(keys.slice(0, -1), true);
  if (parent === null || typeof parent !== 'object' || !('items' in parent)) return undefined;
  const items = (parent as { items: unknown[] }).items;
  for (const item of items) {
    if (item !== null && typeof item === 'object' && 'key' in item) {
      const key = item.key;
      if (isNode(key) && key.range && String(key.toJSON()) === String(keys[keys.length - 1])) {
        return lines.linePos(key.range[0]).line;
      }
    }
  }
  return undefined;
}
