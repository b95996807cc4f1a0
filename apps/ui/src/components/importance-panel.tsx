import { type TrialSummary } from '@setrain/protocol';
import { useEffect, useState } from 'preact/hooks';

import { importanceSteps, MIN_IMPORTANCE_SAMPLES, type ParamImportance } from '../importance.js';

/** Lets the page paint before the forest (tens of ms) is fitted. */
const IMPORTANCE_DELAY_MS = 50;

/** Parameter importance bars (permutation importance on a random forest; see importance.ts). */
export function ImportancePanel(props: {
  /** Trials with an objective value (a new array only when that set grows). */
  trials: readonly TrialSummary[];
}) {
  const [ranked, setRanked] = useState<ParamImportance[]>([]);
  const finished = props.trials;
  useEffect(() => {
    // Off the render path, one tree per task, so the page stays responsive while it is fitted.
    const steps = importanceSteps(
      finished.map((t) => ({ params: t.params, value: t.objectiveValue ?? Number.NaN })),
    );
    let timer: ReturnType<typeof setTimeout>;
    const step = (): void => {
      const next = steps.next();
      if (next.done === true) setRanked(next.value);
      else timer = setTimeout(step, 0);
    };
    timer = setTimeout(step, IMPORTANCE_DELAY_MS);
    return () => {
      clearTimeout(timer);
    };
  }, [finished]);
  return (
    <section aria-labelledby="importance-title" class="card">
      <h2 id="importance-title">Parameter importance</h2>
      <p class="muted">
        Permutation importance on a random forest (50 regression trees fitted to the trials'
        objective values): how much the forest's out-of-bag error grows when a parameter's values
        are shuffled, as a share of the total.
      </p>
      {finished.length < MIN_IMPORTANCE_SAMPLES ? (
        <p>
          Needs at least {MIN_IMPORTANCE_SAMPLES} trials with an objective value ({finished.length}{' '}
          so far).
        </p>
      ) : ranked.length === 0 ? (
        <p>No parameter changes the objective measurably yet.</p>
      ) : (
        <ul class="bars">
          {ranked.map((r) => (
            <li key={r.name}>
              <span class="bar-label">{r.name}</span>
              <span class="bar" style={{ width: `${(r.share * 100).toFixed(1)}%` }} />
              <span class="bar-value">{(r.share * 100).toFixed(0)}%</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
