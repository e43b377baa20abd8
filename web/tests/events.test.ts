import { describe, expect, it, vi } from 'vitest';
import { CLOSED, parseStatus, StatusStream } from '../src/events';
import type { EventSourceLike } from '../src/events';
import type { StatusEvent } from '../src/types';

class FakeSource implements EventSourceLike {
  readyState = 0;
  onopen: ((ev: Event) => unknown) | null = null;
  onerror: ((ev: Event) => unknown) | null = null;
  closed = false;
  private listeners = new Map<string, ((ev: MessageEvent) => void)[]>();
  constructor(readonly url: string) {}
  addEventListener(type: string, fn: (ev: MessageEvent) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  close() {
    this.closed = true;
    this.readyState = CLOSED;
  }
  open() {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }
  emit(type: string, data: string) {
    for (const fn of this.listeners.get(type) ?? []) fn(new MessageEvent(type, { data }));
  }
  fail(closed: boolean) {
    this.readyState = closed ? CLOSED : 0;
    this.onerror?.(new Event('error'));
  }
}

const frame = (over: Partial<StatusEvent> = {}) =>
  JSON.stringify({
    job_id: 'job-1',
    project_id: 'project-1',
    slug: 'part',
    stage: 'generating',
    label: 'Generating script…',
    version: null,
    detail: null,
    terminal: false,
    at: '2026-01-01T00:00:00Z',
    ...over,
  });

function setup(onRefused?: () => Promise<boolean> | boolean) {
  const sources: FakeSource[] = [];
  const timers: { fn: () => void; ms: number }[] = [];
  const events: StatusEvent[] = [];
  const states: string[] = [];
  let n = 0;
  const stream = new StatusStream({
    url: () => `/events?ticket=t${++n}`,
    onStatus: (ev) => events.push(ev),
    onConnection: (s) => states.push(s),
    onRefused,
    factory: (url) => {
      const s = new FakeSource(url);
      sources.push(s);
      return s;
    },
    backoff: [10, 20],
    setTimer: (fn, ms) => {
      timers.push({ fn, ms });
      return timers.length;
    },
    clearTimer: () => {},
  });
  return { stream, sources, timers, events, states };
}

describe('parseStatus', () => {
  it('reads a status frame', () => {
    expect(parseStatus(frame({ stage: 'completed', label: 'Model ready', version: 2, terminal: true }))).toMatchObject({
      job_id: 'job-1',
      stage: 'completed',
      label: 'Model ready',
      version: 2,
      terminal: true,
    });
  });
  it('ignores what is not a status', () => {
    expect(parseStatus('not json')).toBeNull();
    expect(parseStatus('{"hello":1}')).toBeNull();
    expect(parseStatus('null')).toBeNull();
  });
});

describe('StatusStream', () => {
  it('delivers status events and says when it is live', () => {
    const { sources, events, states } = setup();
    expect(sources).toHaveLength(1);
    expect(sources[0].url).toBe('/events?ticket=t1');
    sources[0].open();
    sources[0].emit('status', frame());
    sources[0].emit('status', 'garbage');
    sources[0].emit('status', frame({ stage: 'uploading', label: 'Uploading to S3…' }));
    expect(events.map((e) => e.label)).toEqual(['Generating script…', 'Uploading to S3…']);
    expect(states).toEqual(['connecting', 'live']);
  });

  it('leaves a passing network error to EventSource', () => {
    const { sources, timers, states } = setup();
    sources[0].open();
    sources[0].fail(false);
    expect(states[states.length - 1]).toBe('reconnecting');
    expect(sources).toHaveLength(1);
    expect(timers).toHaveLength(0);
  });

  it('reopens a refused stream with a fresh URL after a delay', async () => {
    const onRefused = vi.fn(async () => true);
    const { sources, timers } = setup(onRefused);
    sources[0].fail(true);
    await vi.waitFor(() => expect(timers).toHaveLength(1));
    expect(onRefused).toHaveBeenCalledOnce();
    expect(sources[0].closed).toBe(true);
    expect(timers[0].ms).toBe(10);
    timers[0].fn();
    expect(sources).toHaveLength(2);
    expect(sources[1].url).toBe('/events?ticket=t2');
    sources[1].fail(true);
    await vi.waitFor(() => expect(timers).toHaveLength(2));
    expect(timers[1].ms).toBe(20);
  });

  it('stops when the refusal was a sign-in problem', async () => {
    const onRefused = vi.fn(async () => false);
    const { sources, timers } = setup(onRefused);
    sources[0].fail(true);
    await vi.waitFor(() => expect(onRefused).toHaveBeenCalled());
    await new Promise((r) => setTimeout(r, 0));
    expect(timers).toHaveLength(0);
    expect(sources).toHaveLength(1);
  });

  it('waits for a ticket before it opens, and retries when none comes', async () => {
    const sources: FakeSource[] = [];
    const timers: { fn: () => void; ms: number }[] = [];
    const onRefused = vi.fn(async () => true);
    let n = 0;
    new StatusStream({
      url: async () => {
        n += 1;
        if (n === 1) throw new Error('no ticket');
        return `/events?ticket=async${n}`;
      },
      onStatus: () => {},
      onRefused,
      factory: (url) => {
        const s = new FakeSource(url);
        sources.push(s);
        return s;
      },
      backoff: [10],
      setTimer: (fn, ms) => {
        timers.push({ fn, ms });
        return timers.length;
      },
      clearTimer: () => {},
    });
    await vi.waitFor(() => expect(timers).toHaveLength(1));
    expect(sources).toHaveLength(0);
    expect(onRefused).toHaveBeenCalledOnce();
    timers[0].fn();
    await vi.waitFor(() => expect(sources).toHaveLength(1));
    expect(sources[0].url).toBe('/events?ticket=async2');
  });

  it('closes its source and ignores late events', () => {
    const { stream, sources, events } = setup();
    stream.close();
    expect(sources[0].closed).toBe(true);
    sources[0].emit('status', frame());
    sources[0].fail(true);
    expect(sources).toHaveLength(1);
    expect(events).toHaveLength(0);
  });
});
