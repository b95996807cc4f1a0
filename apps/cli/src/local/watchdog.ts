/**
 * Runs a service under `sh`, which holds a pipe from its parent on fd 3: when the parent dies for
 * any reason (SIGKILL included) the pipe closes, `read` returns, and the watcher TERMs the
 * service, after `delay` seconds: Redis and S3 wait until the workers have given their trials
 * back. Node has no parent-death signal, so this is what keeps a killed supervisor (or test
 * runner) from leaving orphaned servers. A TERM to the shell is passed on at once, and the shell
 * exits only after the service has, so the shell's exit means the service is gone.
 *
 * Spawn as `sh -c WATCHDOG_SCRIPT <name> <delay-seconds> <command> <args...>` with stdin a pipe.
 */
export const WATCHDOG_SCRIPT = [
  'delay=$1',
  'shift',
  'exec 3<&0',
  '"$@" </dev/null &',
  'service=$!',
  `trap 'kill -TERM "$service" 2>/dev/null' TERM INT HUP`,
  '{ while read -r _; do :; done; sleep "$delay"; kill -TERM "$service" 2>/dev/null; } <&3 &',
  'watcher=$!',
  'exec 3<&-',
  'wait "$service"',
  'status=$?',
  'while kill -0 "$service" 2>/dev/null; do wait "$service"; status=$?; done',
  'kill "$watcher" 2>/dev/null',
  'exit "$status"',
].join('\n');
