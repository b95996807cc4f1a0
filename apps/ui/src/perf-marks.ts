/**
 * Performance marks for profiling (and the dashboard's performance test): one per stream event.
 * The browser keeps user-timing marks until they are cleared, so a page open for hours would
 * collect one per event without end; past MAX_MARKS_PER_NAME a name's marks are cleared.
 */
export const MAX_MARKS_PER_NAME = 50;

const counts = new Map<string, number>();

export function markEvent(name: string): void {
  const count = (counts.get(name) ?? 0) + 1;
  if (count > MAX_MARKS_PER_NAME) {
    performance.clearMarks(name);
    counts.set(name, 1);
  } else {
    counts.set(name, count);
  }
  performance.mark(name);
}
