/** Formatting shared by the pages. */
/** Trial and sweep statuses with their own colour (styles.css); any other (a status added later,
 * such as `stalled`) is drawn generically. */
const KNOWN_STATUSES = new Set<string>([
  'queued',
  'running',
  'paused',
  'completed',
  'early-stopped',
  'failed',
  'diverged',
  'cancelled',
]);

export function statusClass(status: string): string {
  return KNOWN_STATUSES.has(status) ? `status status-${status}` : 'status status-other';
}

/** Where a trial stopped short: marked on the curves. */
export const STOPPED_SHORT = new Set(['early-stopped', 'failed', 'diverged', 'cancelled']);

export function num(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e5)) return value.toExponential(2);
  return Number(value.toFixed(digits)).toString();
}

export function param(value: number | string | undefined): string {
  return typeof value === 'number' ? num(value) : (value ?? '—');
}

export function age(iso: string | undefined, now = Date.now()): string {
  if (iso === undefined) return '—';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d`;
}

/** A byte count for people (B, KiB, MiB). */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1048576).toFixed(1)} MiB`;
}

/** What a weights file is, by its name. */
export function fileKind(key: string): string {
  if (key.endsWith('.h5')) return 'Keras .h5';
  if (key.endsWith('optimizer.bin')) return 'optimizer state';
  if (key.endsWith('model.json') || key.endsWith('.bin')) return 'tfjs';
  return 'file';
}
