// The live status of a project's jobs, from the gateway's Server-Sent Events
// (`GET /api/projects/{id}/events`, frames `event: status`). No polling: the
// browser's EventSource keeps the stream open and reconnects by itself after
// a network hiccup. When the stream is refused (the server answered an error,
// e.g. 401 for an expired token or a used ticket), EventSource gives up;
// `onRefused` then lets the app find out why (an API call that answers 401
// sends the person to sign in), and the stream is opened again, with a new
// URL (a new ticket), after a growing delay.

import type { StatusEvent } from './types';

/** What the stream needs of EventSource (tests pass a fake). */
export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((ev: Event) => unknown) | null;
  onerror: ((ev: Event) => unknown) | null;
  addEventListener(type: string, listener: (ev: MessageEvent) => void): void;
  close(): void;
}

export type EventSourceFactory = (url: string) => EventSourceLike;

export const CLOSED = 2;

/** Parses the data of one `status` frame; null when it is not one. */
export function parseStatus(data: string): StatusEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  const ev = value as Partial<StatusEvent> | null;
  if (!ev || typeof ev !== 'object' || typeof ev.job_id !== 'string' || typeof ev.stage !== 'string') return null;
  return {
    job_id: ev.job_id,
    project_id: String(ev.project_id ?? ''),
    slug: String(ev.slug ?? ''),
    stage: ev.stage,
    label: typeof ev.label === 'string' ? ev.label : ev.stage,
    version: ev.version ?? null,
    detail: ev.detail ?? null,
    terminal: !!ev.terminal,
    at: String(ev.at ?? ''),
  };
}

export type Connection = 'connecting' | 'live' | 'reconnecting';

export interface StreamOptions {
  /** The URL, computed again on every (re)connect so a new ticket is used. */
  url: () => string | Promise<string>;
  onStatus: (ev: StatusEvent) => void;
  onConnection?: (state: Connection) => void;
  /** The server refused the stream; resolve to false to stop trying. */
  onRefused?: () => Promise<boolean> | boolean;
  factory?: EventSourceFactory;
  /** Delays between attempts after a refusal, in ms (the last one repeats). */
  backoff?: number[];
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

export class StatusStream {
  private source: EventSourceLike | null = null;
  private timer: unknown = null;
  private attempts = 0;
  private stopped = false;
  private readonly opts: Required<Omit<StreamOptions, 'onConnection' | 'onRefused'>> &
    Pick<StreamOptions, 'onConnection' | 'onRefused'>;

  constructor(opts: StreamOptions) {
    this.opts = {
      factory: (url) => new EventSource(url) as unknown as EventSourceLike,
      backoff: [1000, 2000, 5000, 10000, 30000],
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
      ...opts,
    };
    this.open();
  }

  private open(): void {
    if (this.stopped) return;
    this.opts.onConnection?.(this.attempts === 0 ? 'connecting' : 'reconnecting');
    let url: string | Promise<string>;
    try {
      url = this.opts.url();
    } catch {
      void this.refused();
      return;
    }
    if (typeof url === 'string') this.connect(url);
    else url.then((u) => this.connect(u), () => void this.refused());
  }

  private connect(url: string): void {
    if (this.stopped) return;
    const source = this.opts.factory(url);
    this.source = source;
    source.onopen = () => {
      this.attempts = 0;
      this.opts.onConnection?.('live');
    };
    source.addEventListener('status', (msg: MessageEvent) => {
      if (this.stopped || this.source !== source) return;
      const ev = parseStatus(String(msg.data));
      if (ev) this.opts.onStatus(ev);
    });
    source.onerror = () => {
      if (this.stopped || this.source !== source) return;
      if (source.readyState !== CLOSED) {
        // EventSource retries on its own.
        this.opts.onConnection?.('reconnecting');
        return;
      }
      source.close();
      this.source = null;
      void this.refused();
    };
  }

  private async refused(): Promise<void> {
    this.opts.onConnection?.('reconnecting');
    let again = true;
    try {
      again = (await this.opts.onRefused?.()) ?? true;
    } catch {
      again = true;
    }
    if (!again || this.stopped) return;
    const delays = this.opts.backoff;
    const delay = delays[Math.min(this.attempts, delays.length - 1)];
    this.attempts += 1;
    this.timer = this.opts.setTimer(() => {
      this.timer = null;
      this.open();
    }, delay);
  }

  close(): void {
    this.stopped = true;
    if (this.timer !== null) this.opts.clearTimer(this.timer);
    this.timer = null;
    this.source?.close();
    this.source = null;
  }
}
