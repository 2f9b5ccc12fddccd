/**
 * The API token of this tab. sessionStorage by default (gone when the tab closes);
 * localStorage when the user asked to be remembered on this browser.
 */
const KEY = 'slipway.token';

export function storedToken(): string | null {
  return sessionStorage.getItem(KEY) ?? localStorage.getItem(KEY);
}

export function storeToken(token: string, remember: boolean): void {
  forgetToken();
  (remember ? localStorage : sessionStorage).setItem(KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);
}
