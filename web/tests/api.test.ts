import { describe, expect, it, vi } from 'vitest';
import { Api, ApiError, memoryTokens, retryDelay, storageTokens, TOKEN_KEY } from '../src/api';

type Call = { url: string; init: RequestInit };

function fakeFetch(responses: Array<Response | Error>) {
  const calls: Call[] = [];
  const fn = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} });
    const next = responses.shift();
    if (!next) throw new Error('no more responses');
    if (next instanceof Error) throw next;
    return next;
  });
  return { fn: fn as unknown as typeof fetch, calls };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

const user = { user_id: 'user-1', email: 'ada@example.com', role: 'user', created_at: null };

describe('Api', () => {
  it('signs in, keeps the token and sends it as a bearer token', async () => {
    const tokens = memoryTokens();
    const { fn, calls } = fakeFetch([
      json(200, { access_token: 'tok-123', token_type: 'bearer', expires_in: 3600, user }),
      json(200, { items: [], total: 0, limit: 200, offset: 0 }),
    ]);
    const api = new Api({ tokens, fetch: fn });
    await api.login('ada@example.com', 'correct horse');
    expect(tokens.token()).toBe('tok-123');
    expect(tokens.user()?.email).toBe('ada@example.com');
    expect(calls[0].url).toBe('/api/auth/login');
    expect(calls[0].init.method).toBe('POST');
    expect(JSON.parse(String(calls[0].init.body))).toEqual({ email: 'ada@example.com', password: 'correct horse' });
    expect((calls[0].init.headers as Record<string, string>)['content-type']).toBe('application/json');

    await api.projects();
    expect(calls[1].url).toBe('/api/projects?limit=200&offset=0');
    expect((calls[1].init.headers as Record<string, string>).authorization).toBe('Bearer tok-123');
  });

  it('turns the error shape into an ApiError', async () => {
    const { fn } = fakeFetch([json(400, { error: { code: 'bad_request', message: 'email: is not a valid email address' } })]);
    const api = new Api({ tokens: memoryTokens(), fetch: fn });
    const err = await api.register('nope', 'password1').catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(400);
    expect(err.code).toBe('bad_request');
    expect(err.message).toBe('email: is not a valid email address');
  });

  it('keeps the details of a rejected script', async () => {
    const details = { violations: [{ line: 3, kind: 'Import', message: 'import of os is not allowed' }] };
    const { fn } = fakeFetch([json(422, { error: { code: 'unprocessable', message: 'the script breaks 1 rule(s)', details } })]);
    const api = new Api({ tokens: memoryTokens(), fetch: fn });
    const err = await api.uploadScript('my-part', 'import os').catch((e) => e);
    expect(err.status).toBe(422);
    expect(err.details).toEqual(details);
  });

  it('clears the token and reports a 401 outside signing in', async () => {
    const tokens = memoryTokens();
    tokens.save('expired', user);
    const onUnauthorized = vi.fn();
    const { fn } = fakeFetch([json(401, { error: { code: 'unauthorized', message: 'token expired' } })]);
    const api = new Api({ tokens, fetch: fn, onUnauthorized });
    await expect(api.me()).rejects.toMatchObject({ status: 401 });
    expect(tokens.token()).toBeNull();
    expect(onUnauthorized).toHaveBeenCalledOnce();
  });

  it('does not treat a wrong password as an expired token', async () => {
    const tokens = memoryTokens();
    const onUnauthorized = vi.fn();
    const { fn } = fakeFetch([json(401, { error: { code: 'unauthorized', message: 'wrong email or password' } })]);
    const api = new Api({ tokens, fetch: fn, onUnauthorized });
    await expect(api.login('ada@example.com', 'wrong-password')).rejects.toMatchObject({ status: 401 });
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it('reports a network failure as status 0', async () => {
    const { fn } = fakeFetch([new TypeError('Failed to fetch')]);
    const api = new Api({ tokens: memoryTokens(), fetch: fn });
    await expect(api.projects()).rejects.toMatchObject({ status: 0, code: 'network' });
  });

  it('gives an error for a non-JSON failure', async () => {
    const { fn } = fakeFetch([new Response('bad gateway', { status: 502 })]);
    const api = new Api({ tokens: memoryTokens(), fetch: fn });
    await expect(api.projects()).rejects.toMatchObject({ status: 502, message: expect.stringContaining('unavailable') });
  });

  it('waits out a rate limit on reads and on writes it refused, not a quota', async () => {
    const limited = () => new Response(JSON.stringify({ error: { code: 'rate_limited', message: 'too many requests; try again in 2 s' } }), { status: 429, headers: { 'retry-after': '2' } });
    const quota = () => new Response(JSON.stringify({ error: { code: 'quota_exceeded', message: '3 jobs in flight' } }), { status: 429, headers: { 'retry-after': '30' } });
    const { fn, calls } = fakeFetch([
      limited(),
      limited(),
      json(200, { items: [], total: 0, limit: 200, offset: 0 }),
      limited(),
      new Response(null, { status: 204 }),
      quota(),
    ]);
    const api = new Api({ tokens: memoryTokens(), fetch: fn });
    const waits: number[] = [];
    api.sleep = async (ms) => {
      waits.push(ms);
    };
    expect((await api.projects()).total).toBe(0);
    expect(calls).toHaveLength(3);
    expect(waits).toEqual([2000, 2000]);
    // The limiter refuses before anything is done: the delete is asked again.
    await api.deleteProject('project-1');
    expect(calls).toHaveLength(5);
    expect(calls[4].init.method).toBe('DELETE');
    expect(waits).toEqual([2000, 2000, 2000]);
    // A quota is said at once.
    await expect(api.chat('a cube 10 mm')).rejects.toMatchObject({ status: 429, code: 'quota_exceeded', message: '3 jobs in flight' });
    expect(calls).toHaveLength(6);
  });

  it('gives up on a read after a few rate-limited tries', async () => {
    const limited = () => new Response('{}', { status: 429 });
    const { fn, calls } = fakeFetch([limited(), limited(), limited(), limited()]);
    const api = new Api({ tokens: memoryTokens(), fetch: fn });
    api.sleep = async () => {};
    await expect(api.me()).rejects.toMatchObject({ status: 429 });
    expect(calls).toHaveLength(4);
  });

  it('builds the paths of the scripts, downloads and jobs', async () => {
    const { fn, calls } = fakeFetch([
      new Response('import Part\n', { status: 200, headers: { 'content-type': 'text/x-python' } }),
      json(200, { url: 'http://s3/x', expires_in: 900, expires_at: '', format: 'STL', version: 2, file_name: 'x' }),
      json(202, { job_id: 'j1', project_id: 'project-1', slug: 's', stage: 'queued', published: true, links: {} }),
      json(200, {}),
      json(202, {}),
    ]);
    const api = new Api({ tokens: memoryTokens(), fetch: fn });
    expect(await api.script('my-part', 3)).toBe('import Part\n');
    expect(calls[0].url).toBe('/api/projects/my-part/script/3');
    expect((await api.download('my-part', 'STL', 2)).url).toBe('http://s3/x');
    expect(calls[1].url).toBe('/api/projects/my-part/download/STL?version=2');
    await api.chat('a washer M8', 'project-1');
    expect(calls[2].url).toBe('/api/ai/chat');
    expect(JSON.parse(String(calls[2].init.body))).toEqual({ message: 'a washer M8', project_id: 'project-1' });
    await api.cancelJob('j1');
    expect(calls[3]).toMatchObject({ url: '/api/jobs/j1/cancel', init: { method: 'POST' } });
    await api.retryJob('j1');
    expect(calls[4].url).toBe('/api/jobs/j1/retry');
  });

  it('reads a version\'s spec and edits its parameters', async () => {
    const spec = { version: 2, part: 'flange', spec: {}, parameters: [{ name: 'height', value: 15, kind: 'length', label: 'thickness' }] };
    const { fn, calls } = fakeFetch([
      json(200, spec),
      json(202, { job_id: 'j2', project_id: 'project-1', slug: 'my-part', stage: 'queued', published: true, links: {} }),
      json(400, { error: { code: 'bad_request', message: 'values.height: The thickness must be positive, not -2 mm.' } }),
      json(404, { error: { code: 'no_spec', message: 'version 1 was not built from a part spec' } }),
    ]);
    const api = new Api({ tokens: memoryTokens(), fetch: fn });
    expect((await api.spec('my-part', 2)).parameters[0].label).toBe('thickness');
    expect(calls[0].url).toBe('/api/projects/my-part/spec?version=2');
    expect((await api.editParameters('my-part', { height: 12 }, 2)).job_id).toBe('j2');
    expect(calls[1]).toMatchObject({ url: '/api/projects/my-part/parameters', init: { method: 'POST' } });
    expect(JSON.parse(String(calls[1].init.body))).toEqual({ values: { height: 12 }, base_version: 2 });
    await expect(api.editParameters('my-part', { height: -2 })).rejects.toMatchObject({
      status: 400,
      message: 'values.height: The thickness must be positive, not -2 mm.',
    });
    expect(JSON.parse(String(calls[2].init.body))).toEqual({ values: { height: -2 } });
    await expect(api.spec('my-part', 1)).rejects.toMatchObject({ status: 404, code: 'no_spec' });
  });

  it('opens the event stream with a ticket, never the token in the URL', async () => {
    const tokens = memoryTokens();
    tokens.save('a b+c', user);
    const ticket = 'ab'.repeat(32);
    const { fn, calls } = fakeFetch([
      json(201, { ticket, expires_in: 60, url: `/api/projects/project-9/events?ticket=${ticket}` }),
    ]);
    const api = new Api({ tokens, base: 'http://gw/', fetch: fn });
    const url = await api.eventsUrl('project-9');
    expect(url).toBe(`http://gw/api/projects/project-9/events?ticket=${ticket}`);
    expect(url).not.toContain('a%20b');
    expect(calls[0]).toMatchObject({ url: 'http://gw/api/projects/project-9/events/ticket', init: { method: 'POST' } });
  });
});

describe('storageTokens', () => {
  it('keeps the token and user in localStorage', () => {
    localStorage.clear();
    const tokens = storageTokens(localStorage);
    tokens.save('tok', user);
    expect(localStorage.getItem(TOKEN_KEY)).toBe('tok');
    expect(storageTokens(localStorage).user()).toEqual(user);
    tokens.clear();
    expect(localStorage.getItem(TOKEN_KEY)).toBeNull();
    expect(tokens.user()).toBeNull();
  });
});

describe('retryDelay', () => {
  it('follows Retry-After within bounds', () => {
    expect(retryDelay('3')).toBe(3000);
    expect(retryDelay('120')).toBe(10000);
    expect(retryDelay(null)).toBe(1000);
    expect(retryDelay('soon')).toBe(1000);
  });
});
