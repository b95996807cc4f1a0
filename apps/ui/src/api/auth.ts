/** The API key: entered once per browser tab, kept in sessionStorage (gone when the tab closes). */
const STORAGE_KEY = 'setrain.apiKey';

export function storedApiKey(): string | undefined {
  return sessionStorage.getItem(STORAGE_KEY) ?? undefined;
}

export function storeApiKey(key: string): void {
  sessionStorage.setItem(STORAGE_KEY, key);
}

export function forgetApiKey(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}
