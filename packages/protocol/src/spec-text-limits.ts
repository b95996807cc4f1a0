import { isAlias, isMap, isPair, isScalar, isSeq, parseDocument, type Node } from 'yaml';

/**
 * Largest spec text (YAML, or JSON sent as text) the API parses; real specs are 1-4 KiB. The
 * `yaml` package needs 35-300 us per key on a busy core, so this keeps a parse under ~0.3 s.
 */
export const MAX_SPEC_TEXT_BYTES = 16 * 1024;
/** Most aliases (`*name`) a spec may use; expanding them is what alias bombs abuse. */
export const MAX_SPEC_ALIASES = 50;
/** Deepest nesting of maps and lists a spec may have (real specs nest 4-5 deep). */
export const MAX_SPEC_DEPTH = 32;

/** Spec text over MAX_SPEC_TEXT_BYTES: answered 413 rather than parsed. */
export class SpecTooLargeError extends Error {
  readonly code = 'SPEC_TOO_LARGE';
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`the spec is ${bytes} bytes; specs may be at most ${limit} bytes`);
    this.name = 'SpecTooLargeError';
  }
}

/** YAML that parses but breaks one of the limits above, or repeats a key. */
export class YamlLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'YamlLimitError';
  }
}

/** Throws SpecTooLargeError when `text` is longer than `limit` bytes (UTF-8). */
export function checkSpecTextSize(text: string, limit = MAX_SPEC_TEXT_BYTES): void {
  // A string of n UTF-16 units is at least n bytes: skip the byte count when it is clearly over.
  if (text.length > limit) throw new SpecTooLargeError(Buffer.byteLength(text, 'utf8'), limit);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > limit) throw new SpecTooLargeError(bytes, limit);
}

/**
 * Parses YAML in time linear in its size. The `yaml` package's own duplicate-key check compares
 * each key with every earlier one (quadratic: 20,000 keys took 11 s), so it is off and
 * `checkYamlNodes` finds duplicates with one Set per map; aliases and nesting depth are capped.
 */
export function parseYamlLinear(text: string): unknown {
  checkFlowDepth(text);
  const doc = parseDocument(text, { uniqueKeys: false });
  const first = doc.errors[0];
  if (first !== undefined) throw first;
  checkYamlNodes(doc.contents);
  return doc.toJS({ maxAliasCount: MAX_SPEC_ALIASES }) as unknown;
}

/**
 * Rejects flow collections (`[[[[...`) nested deeper than MAX_SPEC_DEPTH before the parser, which
 * recurses on them, spends a second reaching a stack overflow. Quoted text is skipped; a stray
 * bracket in a plain scalar counts, which matters only past 32 of them.
 */
function checkFlowDepth(text: string): void {
  let depth = 0;
  let quote: string | undefined;
  for (const char of text) {
    if (char === '\n') {
      // A stray apostrophe (`name: don't`) must not hide the brackets of the lines after it.
      quote = undefined;
    } else if (quote !== undefined) {
      if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (char === '[' || char === '{') {
      if (++depth > MAX_SPEC_DEPTH) {
        throw new YamlLimitError(`nested more than ${MAX_SPEC_DEPTH} levels deep`);
      }
    } else if ((char === ']' || char === '}') && depth > 0) {
      depth--;
    }
  }
}

/** Walks the node tree without recursion: duplicate keys, depth and alias count. */
function checkYamlNodes(root: Node | null): void {
  const stack: { node: unknown; depth: number }[] = [{ node: root, depth: 0 }];
  let aliases = 0;
  while (stack.length > 0) {
    const { node, depth } = stack.pop() ?? { node: null, depth: 0 };
    if (isAlias(node) && ++aliases > MAX_SPEC_ALIASES) {
      throw new YamlLimitError(`more than ${MAX_SPEC_ALIASES} aliases`);
    }
    if (!isMap(node) && !isSeq(node)) continue;
    if (depth >= MAX_SPEC_DEPTH) {
      throw new YamlLimitError(`nested more than ${MAX_SPEC_DEPTH} levels deep`);
    }
    const seen = new Set<string>();
    for (const item of node.items) {
      if (!isPair(item)) {
        stack.push({ node: item, depth: depth + 1 });
        continue;
      }
      const key = isScalar(item.key) ? String(item.key.value) : undefined;
      if (key !== undefined) {
        if (seen.has(key)) throw new YamlLimitError(`duplicate key "${key.slice(0, 80)}"`);
        seen.add(key);
      }
      stack.push({ node: item.key, depth: depth + 1 }, { node: item.value, depth: depth + 1 });
    }
  }
}
