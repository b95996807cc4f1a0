import { type SweepSummary } from '@setrain/protocol';
import { useState } from 'preact/hooks';

import { api } from '../api/client.js';
import { ConfirmButton } from './confirm-button.js';
import { ErrorNote } from './error-note.js';

const FINISHED = new Set(['completed', 'failed', 'cancelled']);

/** Cancel, pause/resume, and parallelism/maxTrials changes, each confirmed first. */
export function SweepControls(props: { sweep: SweepSummary; parallelism: number }) {
  const { sweep } = props;
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState('');
  const [parallelism, setParallelism] = useState(String(props.parallelism));
  const [maxTrials, setMaxTrials] = useState(String(sweep.plannedTrials));
  const finished = FINISHED.has(sweep.status);
  const act = (what: string, run: () => Promise<unknown>) => () => {
    setError(undefined);
    setDone('');
    run().then(() => {
      setDone(what);
    }, setError);
  };
  return (
    <section class="card controls" aria-labelledby="controls-title">
      <h2 id="controls-title">Controls</h2>
      <div class="row">
        <ConfirmButton
          label="Cancel sweep"
          danger
          disabled={finished}
          question={`Cancel sweep ${sweep.id}? Queued trials are removed and running ones stopped.`}
          onConfirm={act('cancel requested', () =>
            api.cancel(sweep.id, 'cancelled from the dashboard'),
          )}
        />
        {sweep.status === 'paused' ? (
          <ConfirmButton
            label="Resume"
            question={`Resume sweep ${sweep.id}?`}
            onConfirm={act('resumed', () => api.resume(sweep.id))}
          />
        ) : (
          <ConfirmButton
            label="Pause"
            disabled={finished}
            question={`Pause sweep ${sweep.id}? Nothing new is enqueued; running trials finish.`}
            onConfirm={act('paused', () => api.pause(sweep.id))}
          />
        )}
      </div>
      <div class="row">
        <label>
          Parallelism{' '}
          <input
            type="number"
            min={1}
            max={256}
            value={parallelism}
            disabled={finished}
            onInput={(e) => {
              setParallelism(e.currentTarget.value);
            }}
          />
        </label>
        <label>
          Max trials{' '}
          <input
            type="number"
            min={1}
            value={maxTrials}
            disabled={finished}
            onInput={(e) => {
              setMaxTrials(e.currentTarget.value);
            }}
          />
        </label>
        <ConfirmButton
          label="Apply"
          disabled={finished}
          question={`Set parallelism ${parallelism} and max trials ${maxTrials} for ${sweep.id}?`}
          onConfirm={act('updated', () =>
            api.update(sweep.id, {
              parallelism: Number(parallelism),
              maxTrials: Number(maxTrials),
            }),
          )}
        />
      </div>
      <ErrorNote error={error} />
      {done !== '' && (
        <p role="status" class="ok">
          Done: {done}.
        </p>
      )}
    </section>
  );
}
