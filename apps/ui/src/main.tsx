import 'uplot/dist/uPlot.min.css';
import './styles.css';

import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';

import { forgetApiKey, storedApiKey } from './api/auth.js';
import { setUnauthorizedHandler } from './api/client.js';
import { KeyDialog } from './components/key-dialog.js';
import { SubmitPage } from './pages/submit.js';
import { SweepPage } from './pages/sweep.js';
import { SweepsPage } from './pages/sweeps.js';
import { TrialPage } from './pages/trial.js';
import { href, useRoute, type Route } from './router.js';

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'sweeps':
      return <SweepsPage />;
    case 'sweep':
      return <SweepPage key={route.sweepId} sweepId={route.sweepId} />;
    case 'trial':
      return <TrialPage key={route.trialId} trialId={route.trialId} />;
    case 'submit':
      return <SubmitPage />;
  }
}

function App() {
  const route = useRoute();
  const [hasKey, setHasKey] = useState(() => storedApiKey() !== undefined);
  /** Bumped when a key is entered, so pages load again with it. */
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    setUnauthorizedHandler(() => {
      forgetApiKey();
      setHasKey(false);
    });
  });
  return (
    <>
      <header class="top">
        <a class="brand" href={href.sweeps()}>
          setrain
        </a>
        <nav aria-label="Main">
          <a href={href.sweeps()} aria-current={route.page === 'sweeps' ? 'page' : undefined}>
            Sweeps
          </a>
          <a href={href.submit()} aria-current={route.page === 'submit' ? 'page' : undefined}>
            Submit
          </a>
        </nav>
      </header>
      <main id="main">
        {hasKey ? (
          <Page key={generation} route={route} />
        ) : (
          <KeyDialog
            onKey={() => {
              setHasKey(true);
              setGeneration((g) => g + 1);
            }}
          />
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
