import { useState } from 'preact/hooks';

import { storeApiKey } from '../api/auth.js';

/** Asks for the API key (first visit, or after a 401); it is kept in sessionStorage. */
export function KeyDialog({ onKey }: { onKey: () => void }) {
  const [key, setKey] = useState('');
  return (
    <form
      class="card key-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (key.trim() === '') return;
        storeApiKey(key.trim());
        onKey();
      }}
    >
      <h1>API key</h1>
      <p>
        The dashboard sends this key as a bearer token with every request. It is kept in this tab
        only (sessionStorage) and asked for again if the API refuses it.
      </p>
      <label for="api-key">API key</label>
      <input
        id="api-key"
        type="password"
        autocomplete="off"
        value={key}
        onInput={(e) => {
          setKey(e.currentTarget.value);
        }}
        autoFocus
      />
      <button type="submit">Continue</button>
    </form>
  );
}
