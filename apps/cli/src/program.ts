import { ENGINE_NAMES, type EngineName } from '@setrain/engine';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ARTIFACT_EPOCHS, DEFAULT_ARTIFACT_EPOCH, type ArtifactEpoch } from '@setrain/protocol';

import type { CommandContext } from './context.js';
import { datasetUpload, datasetValidate } from './commands/dataset.js';
import { fetchBest } from './commands/fetch-best.js';
import { localDown, localLogs, localStatus, localUp } from './commands/local.js';
import { predict } from './commands/predict.js';
import {
  sweepCancel,
  sweepList,
  sweepPreview,
  sweepStatus,
  sweepSubmit,
} from './commands/sweep.js';
import { CliError, EXIT_CODES } from './errors.js';

/** Global flags, resolved into CliConfig by main before any command runs. */
export interface GlobalFlags {
  apiUrl?: string;
  apiKey?: string;
  config?: string;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65_535)
    throw new InvalidArgumentError('must be a port number (1-65535)');
  return n;
}

function unitInterval(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1)
    throw new InvalidArgumentError('must be between 0 and 1');
  return n;
}

/**
 * The `setrain` command tree. `getContext` is called once a command runs, with the global flags;
 * building clients lazily keeps `--help` and bad-argument errors instant.
 */
export function buildProgram(getContext: (flags: GlobalFlags) => Promise<CommandContext>): Command {
  const program = new Command('setrain')
    .description('Train and tune SE-Inception v3 image classifiers: datasets, sweeps, checkpoints.')
    .option(
      '--api-url <url>',
      'setrain API base URL (env SETRAIN_API_URL; default http://127.0.0.1:8080)',
    )
    .option('--api-key <key>', 'API key (env SETRAIN_API_KEY, or "apiKey" in the config file)')
    .option(
      '--config <file>',
      'config file (env SETRAIN_CONFIG; default ~/.config/setrain/config.json)',
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  const ctx = async () => getContext(program.opts<GlobalFlags>());

  const dataset = program.command('dataset').description('upload and check datasets in S3');
  dataset
    .command('upload <dir> <s3-uri>')
    .description(
      'upload a folder (labels.csv, or one subfolder per class) as manifest.jsonl + classes.json + images; resumable',
    )
    .option('--concurrency <n>', 'images uploaded at once', positiveInt)
    .option('--json', 'print the result as JSON')
    .action(async (dir: string, uri: string, opts: { json?: boolean; concurrency?: number }) =>
      datasetUpload(await ctx(), dir, uri, opts),
    );
  dataset
    .command('validate <s3-uri>')
    .description('check a dataset in S3: manifest lines, labels, classes')
    .option('--json', 'print the result as JSON')
    .action(async (uri: string, opts: { json?: boolean }) =>
      datasetValidate(await ctx(), uri, opts),
    );

  const sweep = program.command('sweep').description('submit and follow hyperparameter sweeps');
  sweep
    .command('submit <spec>')
    .description('submit a sweep spec (YAML or JSON file; - reads stdin)')
    .option('--watch', 'follow the sweep until it ends')
    .option('--interval <seconds>', 'refresh interval with --watch', positiveInt, 2)
    .option('--json', 'print the created sweep as JSON')
    .action(async (spec: string, opts: { watch?: boolean; interval: number; json?: boolean }) =>
      sweepSubmit(await ctx(), spec, opts),
    );
  sweep
    .command('preview <spec>')
    .description('the first configurations a sweep spec would run (nothing is submitted)')
    .option('-n, --count <n>', 'how many configurations', positiveInt, 10)
    .option('--json', 'print as JSON')
    .action(async (spec: string, opts: { count: number; json?: boolean }) =>
      sweepPreview(await ctx(), spec, opts),
    );
  sweep
    .command('list')
    .description('list sweeps, newest first')
    .option('--limit <n>', 'how many', positiveInt, 20)
    .option('--json', 'print as JSON')
    .action(async (opts: { limit: number; json?: boolean }) => sweepList(await ctx(), opts));
  sweep
    .command('status <sweepId>')
    .description("a table of the sweep's trials: params, epoch, metrics, status, best marked")
    .option('--watch', 'refresh until the sweep ends')
    .option('--interval <seconds>', 'refresh interval with --watch', positiveInt, 2)
    .option('--json', 'print as JSON')
    .action(async (id: string, opts: { watch?: boolean; interval: number; json?: boolean }) =>
      sweepStatus(await ctx(), id, opts),
    );
  sweep
    .command('cancel <sweepId>')
    .description('cancel a sweep: queued trials are dropped, running ones stop within seconds')
    .option('--json', 'print as JSON')
    .action(async (id: string, opts: { json?: boolean }) => sweepCancel(await ctx(), id, opts));

  program
    .command('fetch-best <sweepId>')
    .description(
      "download the best trial's weights (its best epoch by default), verify every sha256, write model-card.json",
    )
    .requiredOption('-o, --output <dir>', 'a new or empty folder to write the checkpoint into')
    .addOption(
      new Option('--epoch <which>', "the best epoch's weights or the last epoch's")
        .choices([...ARTIFACT_EPOCHS])
        .default(DEFAULT_ARTIFACT_EPOCH),
    )
    .option(
      '--trial <n>',
      "fetch trial n's weights instead of the best trial's (any finished trial; how a multi-objective sweep's Pareto front trials are fetched)",
      positiveInt,
    )
    .option('--force', 'write into a non-empty folder, replacing only the files fetch-best writes')
    .option('--json', 'print the model card as JSON')
    .action(
      async (
        id: string,
        opts: {
          output: string;
          epoch: ArtifactEpoch;
          trial?: number;
          force?: boolean;
          json?: boolean;
        },
      ) => fetchBest(await ctx(), id, opts),
    );

  program
    .command('predict <checkpointDir> <images...>')
    .description('top labels with scores for image files, from a folder written by fetch-best')
    .option('--top <k>', 'labels shown per image', positiveInt)
    .addOption(
      new Option('--threshold <p>', 'score at which a multi-label model reports a label').argParser(
        unitInterval,
      ),
    )
    .addOption(new Option('--engine <name>', 'tfjs engine').choices(ENGINE_NAMES).default('auto'))
    .option('--json', 'print as JSON')
    .action(
      async (
        dir: string,
        images: string[],
        opts: { json?: boolean; top?: number; threshold?: number; engine?: EngineName },
      ) => predict(await ctx(), dir, images, opts),
    );

  const local = program
    .command('local')
    .description(
      'a persistent stack on this machine (Redis, S3, API, workers) under SETRAIN_HOME (default ~/.local/share/setrain)',
    );
  local
    .command('up')
    .description('start it and supervise it; Ctrl-C (or `setrain local down`) stops it cleanly')
    .option('--detach', 'run in the background (output in SETRAIN_HOME/logs/supervisor.log)')
    .option('--workers <n>', 'worker processes (default: one per core, at most 4)', positiveInt)
    .option('--api-port <port>', 'API port on 127.0.0.1 (default 8080)', port)
    .option('--s3-port <port>', 'S3 port on 127.0.0.1 (default 9000)', port)
    .option('--redis-port <port>', 'Redis port on 127.0.0.1 (default 6390)', port)
    .option(
      '--metrics-port <port>',
      "first worker's metrics port (default 9464; then +1 each)",
      port,
    )
    .action(
      async (opts: {
        detach?: boolean;
        workers?: number;
        apiPort?: number;
        s3Port?: number;
        redisPort?: number;
        metricsPort?: number;
      }) => localUp(await ctx(), opts),
    );
  local
    .command('down')
    .description('stop it: workers give their trials back to the queue, Redis saves its AOF')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => localDown(await ctx(), opts));
  local
    .command('status')
    .description('whether it runs, each service with its pid and restarts, the URLs')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => localStatus(await ctx(), opts));
  local
    .command('logs [service]')
    .description("the last lines of each service's log (redis, s3, api, worker-1, ...)")
    .option('-n, --lines <n>', 'lines per log', positiveInt, 40)
    .action(async (service: string | undefined, opts: { lines: number }) =>
      localLogs(await ctx(), service, opts),
    );

  return program;
}

export { CliError, EXIT_CODES };
