/** Hash routes (#/sweeps, #/sweeps/<id>, #/trials/<id>, #/submit): the API serves one index.html. */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'sweeps' }
  | { page: 'sweep'; sweepId: string }
  | { page: 'trial'; trialId: string }
  | { page: 'submit' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  if (parts[0] === 'sweeps' && parts[1]) return { page: 'sweep', sweepId: parts[1] };
  if (parts[0] === 'trials' && parts[1]) return { page: 'trial', trialId: parts[1] };
  if (parts[0] === 'submit') return { page: 'submit' };
  return { page: 'sweeps' };
}

export const href = {
  sweeps: () => '#/sweeps',
  sweep: (id: string) => `#/sweeps/${encodeURIComponent(id)}`,
  trial: (id: string) => `#/trials/${encodeURIComponent(id)}`,
  submit: () => '#/submit',
};

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = (): void => {
      setRoute(parseRoute(location.hash));
    };
    addEventListener('hashchange', update);
    return () => {
      removeEventListener('hashchange', update);
    };
  }, []);
  return route;
}
