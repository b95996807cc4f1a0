import { ApiRequestError } from '../api/client.js';

/** An error said plainly, with the API's code when there is one. */
export function ErrorNote({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  const text =
    error instanceof ApiRequestError
      ? `${error.message} (${error.code})`
      : error instanceof Error
        ? error.message
        : JSON.stringify(error);
  return (
    <p class="error" role="alert">
      {text}
    </p>
  );
}
