// One project: its chat with the AI and the live status of its jobs on the
// left, its model, scripts and logs on the right.

import type { App, Cleanup } from '../main';
import type { ApiError } from '../api';
import type { Accepted, Diagnosis, Job, Logs, Message, Output, Project, ScriptVersion } from '../types';
import { StatusStream } from '../events';
import type { Connection } from '../events';
import { applyStatus, FAILURE_CLASSES, jobState, latestJob, LABELS, mergeJob, Store, timeline } from '../state';
import type { JobState, Jobs } from '../state';
import { ago, when } from '../format';
import { h, icon, ICONS, mount, toast } from './dom';
import { confirmDialog, promptDialog } from './dialog';
import { statusBadge } from './badges';
import { logsPanel, modelPanel, scriptsPanel } from './panels';
import { pictureImg } from './picture';

/** What the panels of a project page share. */
export interface ProjectCtx {
  app: App;
  project: Store<Project>;
  messages: Store<Message[]>;
  /** Live state of every job, from the API and the event stream. */
  jobs: Store<Jobs>;
  /** The jobs as the API describes them (history, metrics). */
  jobList: Store<Job[]>;
  outputs: Store<Output[]>;
  scripts: Store<ScriptVersion[]>;
  logs: Store<Logs | null>;
  /** The version the panels show (null: none yet). */
  version: Store<number | null>;
  /** A script line to point at in the Scripts tab (a failure's line). */
  mark: Store<{ version: number; line: number } | null>;
  /** Opens the Scripts tab on `version` with `line` marked. */
  showLine(version: number, line: number): void;
  reload(what: Reload[]): Promise<void>;
  /**
   * Follows a job the person just started (a chat message, a retry, an
   * upload, a parameter edit): it shows as queued at once, the event stream
   * moves it on, and its user message is fetched.
   */
  follow(accepted: Accepted, kind?: string): void;
  alive(): boolean;
  /** Counts `request` as in flight until it settles (see `quiesce`). */
  track<T>(request: Promise<T>): Promise<T>;
  /**
   * Stops every new request of the view and waits for those in flight, so
   * nothing reads the project while it is being deleted.
   */
  quiesce(): Promise<void>;
}

export type Reload = 'project' | 'messages' | 'jobs' | 'outputs' | 'scripts' | 'logs';
type Tab = 'model' | 'scripts' | 'logs';
const TABS: { id: Tab; label: string }[] = [
  { id: 'model', label: 'Model' },
  { id: 'scripts', label: 'Scripts' },
  { id: 'logs', label: 'Logs' },
];

export function projectView(app: App, main: HTMLElement, id: string, initialTab: string): Cleanup {
  app.title('Project');
  let alive = true;
  const cleanups: Cleanup[] = [];
  mount(main, h('p', { class: 'muted loading', role: 'status' }, 'Loading the project…'));

  void (async () => {
    let project: Project;
    try {
      project = await app.api.project(id);
    } catch (e) {
      if (!alive) return;
      const err = e as ApiError;
      mount(
        main,
        h(
          'section',
          { class: 'card narrow' },
          h('h1', null, err.status === 404 ? 'Project not found' : 'Could not open the project'),
          h('p', null, err.status === 404 ? 'It may have been deleted.' : err.message),
          h('p', null, h('a', { href: '/', 'data-link': '' }, 'Back to your projects')),
        ),
      );
      return;
    }
    if (!alive) return;
    const wanted = Number(new URLSearchParams(location.search).get('v')) || null;
    const ctx = createCtx(app, project, () => alive);
    cleanups.push(render(ctx, main, (TABS.some((t) => t.id === initialTab) ? initialTab : 'model') as Tab, wanted));
  })();

  return () => {
    alive = false;
    cleanups.forEach((fn) => fn());
  };
}

function createCtx(app: App, project: Project, viewAlive: () => boolean): ProjectCtx {
  let quiet = false;
  const inFlight = new Set<Promise<unknown>>();
  const alive = () => viewAlive() && !quiet;
  const ctx: ProjectCtx = {
    app,
    project: new Store(project),
    messages: new Store<Message[]>([]),
    jobs: new Store<Jobs>({}),
    jobList: new Store<Job[]>([]),
    outputs: new Store<Output[]>([]),
    scripts: new Store<ScriptVersion[]>([]),
    logs: new Store<Logs | null>(null),
    version: new Store<number | null>(null),
    mark: new Store<{ version: number; line: number } | null>(null),
    // Replaced by `render` once the tabs exist.
    showLine() {},
    alive,
    track(request) {
      inFlight.add(request);
      const done = () => inFlight.delete(request);
      request.then(done, done);
      return request;
    },
    async quiesce() {
      quiet = true;
      while (inFlight.size) await Promise.allSettled([...inFlight]);
    },
    reload(what) {
      if (!alive()) return Promise.resolve();
      // Changes that come close together (a burst of status events) share one
      // round of requests.
      what.forEach((w) => pending.add(w));
      flush ??= ctx.track(
        new Promise<void>((resolve) => {
          setTimeout(() => {
            const batch = [...pending];
            pending.clear();
            flush = null;
            void (alive() ? fetchAll(batch) : Promise.resolve()).then(resolve);
          }, 60);
        }),
      );
      return flush;
    },
    follow(accepted, kind) {
      ctx.jobs.update((jobs) => {
        const next = applyStatus(jobs, {
          job_id: accepted.job_id,
          project_id: accepted.project_id,
          slug: accepted.slug,
          stage: accepted.stage,
          label: LABELS[accepted.stage],
          version: null,
          detail: null,
          terminal: false,
          at: new Date().toISOString(),
        });
        const job = next[accepted.job_id];
        return kind && job && !job.kind ? { ...next, [accepted.job_id]: { ...job, kind } } : next;
      });
      void ctx.reload(['messages']);
    },
  };
  const pending = new Set<Reload>();
  let flush: Promise<void> | null = null;
  async function fetchAll(what: Reload[]): Promise<void> {
    const p = ctx.project.get();
    const tasks = what.map(async (w) => {
      try {
        switch (w) {
          case 'project':
            ctx.project.set(await app.api.project(p.project_id));
            break;
          case 'messages':
            ctx.messages.set((await app.api.messages(p.project_id)).items);
            break;
          case 'jobs': {
            const list = (await app.api.jobs(p.project_id)).items;
            ctx.jobList.set(list);
            // The API's view wins over older live state, never over newer.
            ctx.jobs.set(list.reduce((jobs, job) => mergeJob(jobs, jobState(job)), ctx.jobs.get()));
            break;
          }
          case 'outputs':
            ctx.outputs.set((await app.api.outputs(p.slug)).outputs);
            break;
          case 'scripts':
            ctx.scripts.set((await app.api.scripts(p.slug)).versions);
            break;
          case 'logs':
            ctx.logs.set(await app.api.logs(p.slug));
            break;
        }
      } catch (e) {
        const err = e as ApiError;
        if (alive() && err.status !== 401) console.warn(`reloading ${w}: ${err.message}`);
      }
    });
    await Promise.all(tasks);
  }
  return ctx;
}

function render(ctx: ProjectCtx, main: HTMLElement, firstTab: Tab, wanted: number | null): Cleanup {
  const { app } = ctx;
  const cleanups: Cleanup[] = [];
  const project = ctx.project.get();
  const base = `/projects/${encodeURIComponent(project.project_id)}`;

  // Header
  const title = h('h1', { class: 'project-title' });
  const badge = h('span', { class: 'project-badge' });
  const versionInfo = h('span', { class: 'muted' });
  const head = h(
    'div',
    { class: 'project-head' },
    h('a', { href: '/', 'data-link': '', class: 'back' }, icon(ICONS.back), 'Projects'),
    h('div', { class: 'project-head-main' }, title, h('div', { class: 'project-meta' }, badge, versionInfo)),
    h(
      'div',
      { class: 'project-actions' },
      h('button', { type: 'button', class: 'secondary small', onclick: () => void rename() }, icon(ICONS.edit), 'Rename'),
      h('button', { type: 'button', class: 'secondary small danger', onclick: () => void remove() }, icon(ICONS.trash), 'Delete'),
    ),
  );
  const drawHead = (p: Project) => {
    title.textContent = p.project_name;
    app.title(p.project_name);
    mount(badge, statusBadge(p.processing_status));
    versionInfo.textContent = p.current_version ? `${p.current_version} version${p.current_version === 1 ? '' : 's'} · updated ${ago(p.updated_at)}` : 'no versions yet';
    versionInfo.title = when(p.updated_at);
  };
  cleanups.push(ctx.project.subscribe(drawHead));
  drawHead(project);

  async function rename() {
    const p = ctx.project.get();
    const name = await promptDialog({ title: 'Rename project', label: 'Project name', value: p.project_name, confirm: 'Rename' });
    if (!name || name === p.project_name) return;
    try {
      ctx.project.set(await app.api.renameProject(p.project_id, name));
      toast('Project renamed.');
    } catch (e) {
      toast((e as ApiError).message, 'error');
    }
  }

  async function remove() {
    const p = ctx.project.get();
    const ok = await confirmDialog({
      title: 'Delete project?',
      message: `“${p.project_name}” will be deleted with its chat, every script version, its models and its logs. This cannot be undone.`,
      confirm: 'Delete project',
      danger: true,
    });
    if (!ok) return;
    // Nothing of the view may read the project while it goes away.
    stream.close();
    await ctx.quiesce();
    try {
      await app.api.deleteProject(p.project_id);
      toast('Project deleted.');
      app.go('/');
    } catch (e) {
      toast((e as ApiError).message, 'error');
      // The view starts again on what is left.
      app.go(location.pathname + location.search, { replace: true });
    }
  }

  // Chat
  const chat = chatPanel(ctx, cleanups);

  // Panels with tabs
  let tab: Tab = firstTab;
  const tabButtons = TABS.map((t) =>
    h(
      'button',
      {
        type: 'button',
        role: 'tab',
        id: `tab-${t.id}`,
        'aria-controls': `panel-${t.id}`,
        class: 'tab',
        onclick: () => select(t.id, true),
      },
      t.label,
    ),
  );
  const tablist = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Project views' }, tabButtons);
  tablist.addEventListener('keydown', (ev) => {
    const i = TABS.findIndex((t) => t.id === tab);
    let next = -1;
    if (ev.key === 'ArrowRight') next = (i + 1) % TABS.length;
    else if (ev.key === 'ArrowLeft') next = (i + TABS.length - 1) % TABS.length;
    else if (ev.key === 'Home') next = 0;
    else if (ev.key === 'End') next = TABS.length - 1;
    if (next < 0) return;
    ev.preventDefault();
    select(TABS[next].id, true);
    tabButtons[next].focus();
  });

  const versionSelect = h('select', { id: 'version', 'aria-label': 'Version' });
  // The picked version's picture beside the picker.
  const versionThumb = h('span', { class: 'version-thumb-holder' });
  let thumbFor = '';
  const drawThumb = () => {
    const v = ctx.version.get();
    const has = v != null && ctx.outputs.get().some((o) => o.version === v && o.format === 'PNG');
    const key = has ? String(v) : '';
    if (key === thumbFor) return;
    thumbFor = key;
    mount(versionThumb, has ? pictureImg(app.api, ctx.project.get().slug, v as number, 'version-thumb', `Picture of version ${v}`) : null);
  };
  cleanups.push(ctx.version.subscribe(drawThumb), ctx.outputs.subscribe(drawThumb));
  versionSelect.addEventListener('change', () => ctx.version.set(Number(versionSelect.value) || null));
  const panels: Record<Tab, HTMLElement> = {
    model: h('div', { role: 'tabpanel', id: 'panel-model', 'aria-labelledby': 'tab-model', class: 'panel' }),
    scripts: h('div', { role: 'tabpanel', id: 'panel-scripts', 'aria-labelledby': 'tab-scripts', class: 'panel' }),
    logs: h('div', { role: 'tabpanel', id: 'panel-logs', 'aria-labelledby': 'tab-logs', class: 'panel' }),
  };
  cleanups.push(modelPanel(ctx, panels.model), scriptsPanel(ctx, panels.scripts), logsPanel(ctx, panels.logs));

  function select(t: Tab, user: boolean) {
    tab = t;
    TABS.forEach((x, i) => {
      const on = x.id === t;
      tabButtons[i].setAttribute('aria-selected', String(on));
      tabButtons[i].tabIndex = on ? 0 : -1;
      panels[x.id].hidden = !on;
    });
    if (user) syncUrl();
  }
  function syncUrl() {
    const v = ctx.version.get();
    app.setPath(`${base}${tab === 'model' ? '' : '/' + tab}${v ? `?v=${v}` : ''}`);
  }
  select(tab, false);
  ctx.showLine = (version, line) => {
    ctx.mark.set({ version, line });
    ctx.version.set(version);
    select('scripts', true);
  };

  // The version list: every script version, newest first. A version picked
  // here (not by the person) is picked again once the versions with a model
  // are known: scripts and outputs load separately, in either order.
  let autoPicked: number | null = null;
  const drawVersions = () => {
    const versions = ctx.scripts.get().map((s) => s.version);
    const withModel = new Set(ctx.outputs.get().map((o) => o.version));
    for (const o of withModel) if (!versions.includes(o)) versions.push(o);
    versions.sort((a, b) => b - a);
    const current = ctx.version.get();
    mount(
      versionSelect,
      versions.length
        ? versions.map((v, i) =>
            h(
              'option',
              { value: String(v), selected: v === current },
              `Version ${v}${i === 0 ? ' (latest)' : ''}${withModel.has(v) ? '' : ' · no model'}`,
            ),
          )
        : h('option', { value: '' }, 'No versions yet'),
    );
    versionSelect.disabled = !versions.length;
    const stillAuto = current != null && current === autoPicked && !withModel.has(current) && withModel.size > 0;
    if (current == null || !versions.includes(current) || stillAuto) {
      const pick = (wanted && versions.includes(wanted) ? wanted : null) ?? versions.find((v) => withModel.has(v)) ?? versions[0] ?? null;
      autoPicked = pick;
      if (pick !== current) ctx.version.set(pick);
    }
  };
  cleanups.push(ctx.scripts.subscribe(drawVersions), ctx.outputs.subscribe(drawVersions));
  cleanups.push(
    ctx.version.subscribe((v) => {
      if (v != null) versionSelect.value = String(v);
      syncUrl();
    }),
  );

  const side = h(
    'section',
    { class: 'workbench', 'aria-label': 'Model, scripts and logs' },
    h('div', { class: 'workbench-head' }, tablist, h('label', { class: 'version-pick' }, h('span', { class: 'muted' }, 'Version'), versionSelect, versionThumb)),
    panels.model,
    panels.scripts,
    panels.logs,
  );

  mount(main, head, h('div', { class: 'project-layout' }, chat, side));

  // Live status, then the data.
  const stream = new StatusStream({
    url: () => app.api.eventsUrl(project.project_id),
    onStatus: (ev) => ctx.jobs.update((jobs) => applyStatus(jobs, ev)),
    onConnection: (state) => chat.dataset.connection = state,
    onRefused: async () => {
      if (!ctx.alive()) return false;
      try {
        await app.api.me();
        return true;
      } catch (e) {
        return (e as ApiError).status !== 401;
      }
    },
  });
  cleanups.push(() => stream.close());

  // What a change of a job's stage makes stale.
  let previous: Jobs = {};
  cleanups.push(
    ctx.jobs.subscribe((jobs) => {
      const reload = new Set<Reload>();
      let completedVersion: number | null = null;
      for (const job of Object.values(jobs)) {
        const before = previous[job.job_id];
        if (before && before.stage === job.stage) continue;
        if (!before && job.terminal) continue; // known from the start
        // The assistant's reply is stored when generation ends; a new
        // version exists once processing starts; a finished job has logs.
        if (job.stage === 'uploading' || job.terminal) reload.add('messages');
        if (job.stage === 'processing' || job.terminal) reload.add('scripts').add('project');
        if (job.terminal) reload.add('jobs').add('logs');
        if (job.stage === 'completed') {
          reload.add('outputs');
          completedVersion = job.version;
        }
      }
      previous = jobs;
      if (!reload.size) return;
      void ctx.reload([...reload]).then(() => {
        if (completedVersion != null && ctx.alive()) ctx.version.set(completedVersion);
      });
    }),
  );

  void ctx.reload(['messages', 'jobs', 'outputs', 'scripts', 'logs']).then(() => {
    previous = ctx.jobs.get();
    // A new project: ready to type (not on small screens, where a keyboard would pop up).
    if (!ctx.messages.get().length && window.matchMedia('(min-width: 900px)').matches) {
      chat.querySelector('textarea')?.focus();
    }
    if (!ctx.scripts.get().length && !ctx.outputs.get().length) drawVersions();
  });

  return () => cleanups.forEach((fn) => fn());
}

function chatPanel(ctx: ProjectCtx, cleanups: Cleanup[]): HTMLElement {
  const { app } = ctx;
  const list = h('ol', { class: 'messages', 'aria-label': 'Conversation' });
  const status = h('div', { class: 'job-status-slot' });
  const scroller = h('div', { class: 'chat-scroll' }, list, status);
  const input = h('textarea', {
    id: 'chat-input',
    rows: '2',
    maxlength: '2000',
    placeholder: 'Describe a part, or a change: “make it 15 mm thick”',
    'aria-label': 'Message',
  });
  const send = h('button', { type: 'submit', class: 'primary', 'aria-label': 'Send' }, icon(ICONS.send), h('span', { class: 'send-text' }, 'Send'));
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const form = h(
    'form',
    {
      class: 'composer',
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        const text = input.value.trim();
        error.hidden = true;
        if (!text) {
          input.focus();
          return;
        }
        send.disabled = true;
        const p = ctx.project.get();
        // Shown at once; replaced by the stored message on the next reload.
        ctx.messages.update((ms) => [
          ...ms,
          {
            message_id: 'pending-' + Date.now(),
            project_id: p.project_id,
            user_id: app.api.tokens.user()?.user_id ?? '',
            role: 'user',
            content: text,
            timestamp: new Date().toISOString(),
            job_id: null,
            metadata: null,
          },
        ]);
        try {
          const accepted = await app.api.chat(text, p.project_id);
          input.value = '';
          ctx.follow(accepted);
        } catch (e) {
          error.textContent = (e as ApiError).message;
          error.hidden = false;
          void ctx.reload(['messages']);
        } finally {
          send.disabled = false;
          input.focus();
        }
      },
    },
    h('div', { class: 'composer-row' }, input, send),
    error,
    h('small', { class: 'hint' }, 'Enter sends · Shift+Enter for a new line'),
  );
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });

  const atBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  const stick = (was: boolean) => {
    if (was) scroller.scrollTop = scroller.scrollHeight;
  };

  const drawMessages = (messages: Message[]) => {
    const was = atBottom();
    if (!messages.length) {
      mount(
        list,
        h(
          'li',
          { class: 'message system' },
          h('p', null, 'Describe the part you want in one sentence, with its dimensions — for example “a flange 80 mm across with six 8 mm holes on a 60 mm bolt circle”.'),
        ),
      );
    } else {
      mount(
        list,
        messages.map((m) =>
          h(
            'li',
            { class: `message ${m.role}`, dataset: { role: m.role } },
            h('div', { class: 'message-who' }, m.role === 'user' ? 'You' : m.role === 'assistant' ? 'CADScribe' : 'System', h('time', { datetime: m.timestamp, title: when(m.timestamp) }, ago(m.timestamp))),
            h('div', { class: 'message-text' }, m.content),
          ),
        ),
      );
    }
    stick(was);
  };
  cleanups.push(ctx.messages.subscribe(drawMessages));
  drawMessages([]);

  const drawStatus = (jobs: Jobs) => {
    const was = atBottom();
    const job = latestJob(jobs);
    mount(status, job ? statusCard(ctx, job) : null);
    stick(was);
  };
  cleanups.push(ctx.jobs.subscribe(drawStatus));

  return h(
    'section',
    { class: 'chat', 'aria-label': 'Chat' },
    scroller,
    form,
  );
}

function statusCard(ctx: ProjectCtx, job: JobState): HTMLElement {
  const { app } = ctx;
  const failed = job.stage === 'failed' || job.stage === 'timeout' || job.stage === 'cancelled';
  const steps = timeline(job);
  const actions: HTMLElement[] = [];
  if (failed) {
    actions.push(
      h(
        'button',
        {
          type: 'button',
          class: 'primary small retry',
          onclick: async (ev: Event) => {
            (ev.currentTarget as HTMLButtonElement).disabled = true;
            try {
              ctx.follow(await app.api.retryJob(job.job_id));
            } catch (e) {
              toast((e as ApiError).message, 'error');
              (ev.currentTarget as HTMLButtonElement | null)?.removeAttribute('disabled');
            }
          },
        },
        icon(ICONS.retry),
        'Retry',
      ),
    );
  } else if (!job.terminal) {
    actions.push(
      h(
        'button',
        {
          type: 'button',
          class: 'ghost small',
          onclick: async () => {
            try {
              await app.api.cancelJob(job.job_id);
            } catch (e) {
              toast((e as ApiError).message, 'error');
            }
          },
        },
        'Cancel',
      ),
    );
  } else if (job.stage === 'completed' && job.version != null) {
    const version = job.version;
    actions.push(
      h(
        'button',
        { type: 'button', class: 'picture-button', 'aria-label': `Show version ${version}`, onclick: () => ctx.version.set(version) },
        pictureImg(ctx.app.api, ctx.project.get().slug, version, 'chat-picture', `Picture of version ${version}`),
      ),
    );
    actions.push(
      h(
        'button',
        { type: 'button', class: 'secondary small', onclick: () => ctx.version.set(job.version) },
        `Show version ${job.version}`,
      ),
    );
  }
  return h(
    'div',
    {
      class: `job-status stage-${job.stage}`,
      dataset: { stage: job.stage, job: job.job_id },
      role: 'status',
      'aria-live': 'polite',
    },
    h(
      'div',
      { class: 'job-status-head' },
      job.terminal ? null : h('span', { class: 'spinner', 'aria-hidden': 'true' }),
      h('strong', { class: 'status-label' }, job.label),
      job.version ? h('span', { class: 'muted' }, `version ${job.version}`) : null,
    ),
    job.stage === 'needs_input'
      ? h('p', { class: 'status-question' }, job.question?.text ?? job.detail ?? 'The request needs a dimension.', h('span', { class: 'muted' }, ' Answer in the chat to continue.'))
      : null,
    job.stage === 'needs_input' ? null : h(
      'ol',
      { class: `steps steps-${steps.length}`, 'aria-label': 'Progress' },
      steps.map((s) => h('li', { class: `step ${s.state}`, dataset: { stage: s.stage } }, h('span', { class: 'dot', 'aria-hidden': 'true' }), h('span', null, s.label), h('span', { class: 'sr-only' }, ` (${s.state})`))),
    ),
    failed && job.diagnosis ? diagnosisBlock(ctx, job) : null,
    failed && job.detail && !job.diagnosis ? h('pre', { class: 'status-detail' }, job.detail) : null,
    !failed && job.detail && !job.terminal && job.stage !== 'needs_input' ? h('p', { class: 'muted status-note' }, job.detail) : null,
    actions.length ? h('div', { class: 'job-actions' }, actions) : null,
  );
}

/** Why a run failed: class, line and its text, suggestion, FreeCAD's console. */
function diagnosisBlock(ctx: ProjectCtx, job: JobState): HTMLElement {
  const d = job.diagnosis as Diagnosis;
  const version = job.version;
  const where =
    d.line != null
      ? version != null
        ? h('button', { type: 'button', class: 'link diagnosis-line', onclick: () => ctx.showLine(version, d.line as number) }, `line ${d.line}`)
        : h('span', { class: 'diagnosis-line' }, `line ${d.line}`)
      : null;
  return h(
    'div',
    { class: 'status-detail diagnosis', dataset: { class: d.class } },
    h('p', { class: 'diagnosis-head' }, h('strong', { class: 'diagnosis-class' }, FAILURE_CLASSES[d.class] ?? d.class), where ? ' at ' : null, where),
    h('p', { class: 'diagnosis-message' }, d.message),
    d.code ? h('pre', { class: 'diagnosis-code' }, d.code) : null,
    h('p', { class: 'diagnosis-suggestion' }, h('strong', null, 'Try: '), d.suggestion),
    d.console?.length
      ? h('details', { class: 'diagnosis-console' }, h('summary', null, `FreeCAD console (${d.console.length})`), h('pre', null, d.console.join('\n')))
      : null,
  );
}

export type { Connection };
