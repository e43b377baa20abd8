// The API client: every call of the gateway the web client makes.
//
// Requests carry the bearer token kept by a TokenStore. A 401 on any call
// other than signing in clears the token and calls `onUnauthorized` (the app
// sends the person back to the sign-in page). Every failure is an ApiError
// with the API's `{"error": {"code", "message"}}`; a network failure has
// status 0 and code `network`.

import type {
  Accepted,
  Download,
  ErrorBody,
  Job,
  Logs,
  Message,
  ModelFormat,
  Outputs,
  Page,
  Project,
  ProjectStatusView,
  Scripts,
  SpecView,
  Token,
  User,
} from './types';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details?: unknown;

  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Where the token lives between page loads. */
export interface TokenStore {
  token(): string | null;
  user(): User | null;
  save(token: string, user: User): void;
  clear(): void;
}

export const TOKEN_KEY = 'cadscribe.token';
export const USER_KEY = 'cadscribe.user';

/** The browser's localStorage (or any Storage). */
export function storageTokens(storage: Storage): TokenStore {
  return {
    token: () => storage.getItem(TOKEN_KEY),
    user: () => {
      const raw = storage.getItem(USER_KEY);
      if (!raw) return null;
      try {
        return JSON.parse(raw) as User;
      } catch {
        return null;
      }
    },
    save: (token, user) => {
      storage.setItem(TOKEN_KEY, token);
      storage.setItem(USER_KEY, JSON.stringify(user));
    },
    clear: () => {
      storage.removeItem(TOKEN_KEY);
      storage.removeItem(USER_KEY);
    },
  };
}

/** A TokenStore in memory (tests, or a browser without storage). */
export function memoryTokens(): TokenStore {
  let token: string | null = null;
  let user: User | null = null;
  return {
    token: () => token,
    user: () => user,
    save: (t, u) => {
      token = t;
      user = u;
    },
    clear: () => {
      token = null;
      user = null;
    },
  };
}

export interface ApiOptions {
  /** Prefix of every path; '' for the same origin. */
  base?: string;
  tokens: TokenStore;
  /** Called after a 401 cleared the token. */
  onUnauthorized?: () => void;
  fetch?: typeof fetch;
}

interface RequestOptions {
  body?: unknown;
  /** Send `body` as this content type instead of JSON. */
  contentType?: string;
  query?: Record<string, string | number | undefined>;
  /** The answer is text, not JSON. */
  text?: boolean;
  /** A 401 here is a wrong password, not an expired token. */
  signIn?: boolean;
  signal?: AbortSignal;
}

const enc = encodeURIComponent;

/** Turns a failed response into an ApiError, whatever its body. */
export async function errorOf(res: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // not JSON
  }
  const error = (body as ErrorBody | null)?.error;
  if (error && typeof error.message === 'string') {
    return new ApiError(res.status, error.code ?? 'error', error.message, error.details);
  }
  const fallback: Record<number, string> = {
    401: 'Please sign in again.',
    404: 'Not found.',
    429: 'Too many requests; try again in a moment.',
    502: 'The server is unavailable; try again shortly.',
    503: 'The server is unavailable; try again shortly.',
  };
  return new ApiError(res.status, 'http_' + res.status, fallback[res.status] ?? `The server answered ${res.status}.`);
}

/** The error code of a response, read from a copy so the body stays unread. */
async function codeOf(res: Response): Promise<string | undefined> {
  try {
    const body = (await res.clone().json()) as ErrorBody | null;
    return body?.error?.code;
  } catch {
    return undefined;
  }
}

/** Milliseconds to wait after a 429: its Retry-After (1 to 10 s), else 1 s. */
export function retryDelay(header: string | null): number {
  const secs = Number(header);
  return Number.isFinite(secs) && secs > 0 ? Math.min(secs, 10) * 1000 : 1000;
}

export class Api {
  /** How often a rate-limited request is tried again. */
  retries = 3;
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  private readonly base: string;
  private readonly fetchFn: typeof fetch;
  readonly tokens: TokenStore;
  private readonly onUnauthorized: () => void;

  constructor(opts: ApiOptions) {
    this.base = (opts.base ?? '').replace(/\/$/, '');
    this.tokens = opts.tokens;
    this.onUnauthorized = opts.onUnauthorized ?? (() => {});
    this.fetchFn = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** The URL of `path` with `query` (undefined values left out). */
  url(path: string, query?: Record<string, string | number | undefined>): string {
    let url = this.base + path;
    const pairs = Object.entries(query ?? {}).filter(([, v]) => v !== undefined && v !== '');
    if (pairs.length) url += '?' + pairs.map(([k, v]) => `${enc(k)}=${enc(String(v))}`).join('&');
    return url;
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { accept: opts.text ? 'text/plain, */*' : 'application/json' };
    const token = this.tokens.token();
    if (token) headers.authorization = `Bearer ${token}`;
    let body: BodyInit | undefined;
    if (opts.body !== undefined) {
      if (opts.contentType) {
        headers['content-type'] = opts.contentType;
        body = opts.body as BodyInit;
      } else {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(opts.body);
      }
    }
    let res: Response;
    for (let attempt = 1; ; attempt++) {
      try {
        res = await this.fetchFn(this.url(path, opts.query), { method, headers, body, signal: opts.signal });
      } catch (e) {
        if ((e as Error)?.name === 'AbortError') throw e;
        throw new ApiError(0, 'network', 'Cannot reach the CADScribe server. Check your connection and try again.');
      }
      // Wait as long as a rate limit says, a few times, and ask again: for a
      // read, and for any request the rate limiter refused (it refuses before
      // anything is done, so a write is not made twice). A quota is not
      // waited out: the person is told.
      if (res.status !== 429 || attempt > this.retries) break;
      if (method !== 'GET' && (await codeOf(res)) !== 'rate_limited') break;
      await this.sleep(retryDelay(res.headers.get('retry-after')));
    }
    if (!res.ok) {
      const err = await errorOf(res);
      if (res.status === 401 && !opts.signIn) {
        this.tokens.clear();
        this.onUnauthorized();
      }
      throw err;
    }
    if (opts.text) return (await res.text()) as T;
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  // Accounts

  async register(email: string, password: string): Promise<Token> {
    const token = await this.request<Token>('POST', '/api/auth/register', { body: { email, password }, signIn: true });
    this.tokens.save(token.access_token, token.user);
    return token;
  }

  async login(email: string, password: string): Promise<Token> {
    const token = await this.request<Token>('POST', '/api/auth/login', { body: { email, password }, signIn: true });
    this.tokens.save(token.access_token, token.user);
    return token;
  }

  me(): Promise<User> {
    return this.request('GET', '/api/auth/me');
  }

  signOut(): void {
    this.tokens.clear();
  }

  signedIn(): boolean {
    return !!this.tokens.token();
  }

  // Projects

  projects(limit = 200, offset = 0): Promise<Page<Project>> {
    return this.request('GET', '/api/projects', { query: { limit, offset } });
  }

  createProject(project_name: string, description?: string): Promise<Project> {
    return this.request('POST', '/api/projects', { body: description ? { project_name, description } : { project_name } });
  }

  project(key: string): Promise<Project> {
    return this.request('GET', `/api/projects/${enc(key)}`);
  }

  renameProject(key: string, project_name: string): Promise<Project> {
    return this.request('PUT', `/api/projects/${enc(key)}`, { body: { project_name } });
  }

  deleteProject(key: string): Promise<unknown> {
    return this.request('DELETE', `/api/projects/${enc(key)}`);
  }

  messages(key: string): Promise<Page<Message>> {
    return this.request('GET', `/api/projects/${enc(key)}/messages`, { query: { limit: 200 } });
  }

  logs(key: string): Promise<Logs> {
    return this.request('GET', `/api/projects/${enc(key)}/logs`, { query: { limit: 200 } });
  }

  status(slug: string): Promise<ProjectStatusView> {
    return this.request('GET', `/api/projects/${enc(slug)}/status`);
  }

  // Scripts and models

  scripts(slug: string): Promise<Scripts> {
    return this.request('GET', `/api/projects/${enc(slug)}/scripts`);
  }

  script(slug: string, version: number): Promise<string> {
    return this.request('GET', `/api/projects/${enc(slug)}/script/${version}`, { text: true });
  }

  uploadScript(slug: string, script: string, file_name?: string): Promise<Accepted> {
    return this.request('POST', `/api/projects/${enc(slug)}/upload-script`, {
      body: file_name ? { script, file_name } : { script },
    });
  }

  outputs(slug: string): Promise<Outputs> {
    return this.request('GET', `/api/projects/${enc(slug)}/outputs`);
  }

  download(slug: string, format: ModelFormat, version?: number): Promise<Download> {
    return this.request('GET', `/api/projects/${enc(slug)}/download/${format}`, { query: { version } });
  }

  /** The part spec of a version (the current one when absent); 404 `no_spec` when it was not built from one. */
  spec(slug: string, version?: number): Promise<SpecView> {
    return this.request('GET', `/api/projects/${enc(slug)}/spec`, { query: { version } });
  }

  /** Builds the next version from `base_version`'s spec with these values changed. */
  editParameters(slug: string, values: Record<string, number>, base_version?: number): Promise<Accepted> {
    return this.request('POST', `/api/projects/${enc(slug)}/parameters`, {
      body: base_version == null ? { values } : { values, base_version },
    });
  }

  // Generation and jobs

  chat(message: string, project_id?: string): Promise<Accepted> {
    return this.request('POST', '/api/ai/chat', { body: project_id ? { message, project_id } : { message } });
  }

  job(id: string): Promise<Job> {
    return this.request('GET', `/api/jobs/${enc(id)}`);
  }

  jobs(project: string): Promise<Page<Job>> {
    return this.request('GET', '/api/jobs', { query: { project, limit: 200 } });
  }

  cancelJob(id: string): Promise<Job> {
    return this.request('POST', `/api/jobs/${enc(id)}/cancel`);
  }

  retryJob(id: string): Promise<Accepted> {
    return this.request('POST', `/api/jobs/${enc(id)}/retry`);
  }

  /**
   * The live status stream of a project, with a new single-use ticket: an
   * EventSource cannot send headers, and the long-lived token must not go
   * into a URL.
   */
  async eventsUrl(projectId: string): Promise<string> {
    const ticket = await this.request<{ url: string }>('POST', `/api/projects/${enc(projectId)}/events/ticket`);
    return this.url(ticket.url);
  }
}
