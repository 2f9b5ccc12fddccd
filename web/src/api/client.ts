import { forgetToken, storedToken } from './auth.js';

/** An error answer of the API: its stable code and the message meant for the user. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

type Listener = () => void;
const signedOutListeners = new Set<Listener>();

/** Called when the server refused the token (401): the app shows the sign-in form. */
export function onSignedOut(listener: Listener): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

export function authHeaders(token = storedToken()): Record<string, string> {
  return token === null ? {} : { authorization: `Bearer ${token}` };
}

async function failure(response: Response): Promise<ApiError> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { code?: string; message?: string };
    return new ApiError(response.status, body.code ?? 'HTTP', body.message ?? `HTTP ${response.status}`);
  } catch {
    return new ApiError(response.status, 'HTTP', text === '' ? `HTTP ${response.status}` : text.slice(0, 300));
  }
}

/** Sends a request with the token; resolves with the JSON answer, or throws an ApiError. */
export async function request(method: string, path: string, body?: unknown, options: { token?: string; signal?: AbortSignal } = {}): Promise<Response> {
  const response = await fetch(path, {
    method,
    headers: { ...authHeaders(options.token ?? storedToken()), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  if (response.status === 401 && options.token === undefined) {
    forgetToken();
    for (const listener of signedOutListeners) listener();
  }
  if (!response.ok) throw await failure(response);
  return response;
}

export async function api<T>(method: string, path: string, body?: unknown, options: { token?: string; signal?: AbortSignal } = {}): Promise<T> {
  const response = await request(method, path, body, options);
  const text = await response.text();
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

export const get = <T>(path: string, signal?: AbortSignal): Promise<T> => api<T>('GET', path, undefined, signal === undefined ? {} : { signal });

/** Like get, but null when the server answers 404 (nothing kept, such as a job's artifacts). */
export async function getUnlessMissing<T>(path: string, signal?: AbortSignal): Promise<T | null> {
  try {
    return await get<T>(path, signal);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

/** Downloads a file that needs the token: a plain link can't send the Authorization header. */
export async function download(path: string, fileName: string): Promise<void> {
  const response = await request('GET', path);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export const q = (params: Record<string, string | number | null | undefined>): string => {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== null && value !== undefined && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
};

export const enc = encodeURIComponent;
