import { type ApiIssue, type PreviewResponse } from '@setrain/protocol';
import { useMemo, useState } from 'preact/hooks';

import { api, ApiRequestError } from '../api/client.js';
import { ErrorNote } from '../components/error-note.js';
import { param } from '../format.js';
import { href } from '../router.js';
import { locatePath } from '../yaml-locate.js';
import { GridHead } from '../components/grid-head.js';

const EXAMPLE = `name: my-sweep
dataset: s3://my-bucket/datasets/shapes/manifest.jsonl
model:
  inputSize: 75
training:
  epochs: 2
  batchSize: 4
search:
  strategy: random
  parameters:
    learningRate: { type: log_uniform, min: 0.0001, max: 0.1 }
objective: { metric: val_loss, goal: minimize }
maxTrials: 4
parallelism: 2
`;

/** Submit a sweep: paste or upload YAML, preview its first configurations, see errors at their fields. */
export function SubmitPage() {
  const [text, setText] = useState(EXAMPLE);
  const [preview, setPreview] = useState<PreviewResponse | undefined>();
  const [issues, setIssues] = useState<readonly ApiIssue[]>([]);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const fail = (e: unknown) => {
    setPreview(undefined);
    if (e instanceof ApiRequestError && e.issues.length > 0) {
      setIssues(e.issues);
      setError(undefined);
    } else {
      setIssues([]);
      setError(e);
    }
  };
  const run = (action: () => Promise<void>) => {
    setBusy(true);
    action()
      .catch(fail)
      .finally(() => {
        setBusy(false);
      });
  };
  const located = useMemo(() => {
    const byLine = new Map<number, { issue: ApiIssue; found: string }[]>();
    const unplaced: ApiIssue[] = [];
    for (const issue of issues) {
      const where = locatePath(text, issue.path);
      if (where.line === undefined) unplaced.push(issue);
      else
        byLine.set(where.line, [...(byLine.get(where.line) ?? []), { issue, found: where.found }]);
    }
    return { byLine, unplaced };
  }, [issues]);

  return (
    <section aria-labelledby="submit-title">
      <h1 id="submit-title">Submit a sweep</h1>
      <div class="toolbar">
        <label>
          Upload a spec file{' '}
          <input
            type="file"
            accept=".yaml,.yml,.json,text/yaml,application/json"
            onChange={(e) => {
              const file = e.currentTarget.files?.[0];
              if (file)
                void file.text().then((t) => {
                  setText(t);
                  setIssues([]);
                  setPreview(undefined);
                });
            }}
          />
        </label>
      </div>
      <label for="spec-text">Sweep spec (YAML or JSON)</label>
      <textarea
        id="spec-text"
        rows={18}
        spellcheck={false}
        value={text}
        aria-invalid={issues.length > 0}
        aria-describedby={issues.length > 0 ? 'spec-errors' : undefined}
        onInput={(e) => {
          setText(e.currentTarget.value);
          setIssues([]);
          setPreview(undefined);
        }}
      />
      <div class="row">
        <button
          type="button"
          disabled={busy}
          onClick={() => {
            run(async () => {
              setPreview(await api.preview(text, 10));
              setIssues([]);
              setError(undefined);
            });
          }}
        >
          Preview
        </button>
        <button
          type="button"
          class="primary"
          disabled={busy}
          onClick={() => {
            run(async () => {
              const created = await api.submit(text);
              location.hash = href.sweep(created.id);
            });
          }}
        >
          Submit sweep
        </button>
      </div>
      <ErrorNote error={error} />
      {issues.length > 0 && (
        <div id="spec-errors" role="alert">
          <h2>{issues.length === 1 ? '1 problem' : `${issues.length} problems`} in the spec</h2>
          <ol class="yaml-lines" aria-label="Spec with its problems">
            {text.split('\n').map((line, i) => {
              const here = located.byLine.get(i + 1) ?? [];
              return (
                <li key={i} id={`line-${i + 1}`} class={here.length > 0 ? 'has-error' : undefined}>
                  <code>{line || ' '}</code>
                  {here.map(({ issue, found }) => (
                    <div class="field-error" data-path={issue.path}>
                      <strong>{issue.path || '(spec)'}</strong>: {issue.message}
                      {found !== issue.path && issue.path !== '' && ' (field missing here)'}
                    </div>
                  ))}
                </li>
              );
            })}
          </ol>
          {located.unplaced.map((issue) => (
            <p class="field-error" data-path={issue.path}>
              <strong>{issue.path || '(spec)'}</strong>: {issue.message}
            </p>
          ))}
        </div>
      )}
      {preview && (
        <section aria-labelledby="preview-title">
          <h2 id="preview-title">
            Preview: {preview.strategy}, {preview.plannedTrials} trials planned
          </h2>
          <table class="grid" aria-label="First configurations">
            <GridHead columns={['Trial', 'Parameters', 'Depends on results']} />
            <tbody>
              {preview.configurations.map((c) => (
                <tr key={c.trialNumber}>
                  <td>#{c.trialNumber}</td>
                  <td>
                    {Object.entries(c.params)
                      .map(([k, v]) => `${k}=${param(v)}`)
                      .join(', ') || '(no searched parameters)'}
                  </td>
                  <td>{c.dependsOnResults ? 'yes' : 'no'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </section>
  );
}
