/** Invalid environment: the message names every bad variable. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly issues: readonly { variable: string; message: string }[]) {
    super(
      `invalid configuration:\n  ${issues.map((i) => `${i.variable} ${i.message}`).join('\n  ')}`,
    );
    this.name = 'ConfigError';
  }
}
