// Runs a benchmark's child process and hands back its stdout, shared by the benchmarks that start
// one process per measured run.
import { spawn } from 'node:child_process';

/** Runs `command` to completion; its stdout, or an error naming the command and its exit code. */
export function runForStdout(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${command} ${args.join(' ')} exited with ${String(code)}`));
      else resolve(stdout);
    });
  });
}

/** The environment for a child that runs OpenMP: its pool pinned to the thread count under test. */
export function threadEnv(threads: number): NodeJS.ProcessEnv {
  return { ...process.env, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
}
