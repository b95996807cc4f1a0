import type { Writable } from 'node:stream';

/** A one-line progress bar on a TTY; on other streams, a line every `everyPercent`. */
export class ProgressBar {
  private lastPercentPrinted = -1;
  private readonly isTty: boolean;

  constructor(
    private readonly out: Writable & { isTTY?: boolean; columns?: number },
    private readonly label: string,
    private readonly total: number,
    private readonly everyPercent = 25,
  ) {
    this.isTty = out.isTTY === true;
  }

  update(done: number, note = ''): void {
    const percent = this.total === 0 ? 100 : Math.floor((done / this.total) * 100);
    if (this.isTty) {
      const width = 30;
      const filled = Math.round((percent / 100) * width);
      const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
      this.out.write(
        `\r${this.label} [${bar}] ${done}/${this.total} ${note}`.slice(
          0,
          (this.out.columns ?? 120) - 1,
        ),
      );
      return;
    }
    const step = Math.floor(percent / this.everyPercent) * this.everyPercent;
    if (step > this.lastPercentPrinted || done === this.total) {
      if (done === this.total && this.lastPercentPrinted === 100) return;
      this.lastPercentPrinted = done === this.total ? 100 : step;
      this.out.write(`${this.label}: ${done}/${this.total}${note ? ` ${note}` : ''}\n`);
    }
  }

  finish(note = ''): void {
    this.update(this.total, note);
    if (this.isTty) this.out.write('\n');
  }
}
