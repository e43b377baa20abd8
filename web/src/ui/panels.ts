// The three views of a project's selected version: the model (3D view,
// measurements, downloads, parameters), its scripts (code, changes, upload) and its logs.

import type { Cleanup } from '../main';
import type { ApiError } from '../api';
import type { ModelFormat, ModelMetrics } from '../types';
import { MODEL_FORMATS } from '../types';
import type { ProjectCtx } from './project';
import { massByVersion, metricsByVersion, verificationByVersion, viewerFormat } from '../state';
import { area, boxSize, bytes, grams, mm, volume, when } from '../format';
import { foldUnchanged, lineDiff } from '../diff';
import { h, icon, ICONS, mount, toast } from './dom';
import { parametersBox } from './parameters';

type Viewer = import('../viewer').ModelViewer;

const FORMAT_INFO: Record<ModelFormat, { title: string; ext: string }> = {
  FCStd: { title: 'FreeCAD document', ext: 'FCStd' },
  STEP: { title: 'STEP, for any CAD program', ext: 'step' },
  STL: { title: 'STL mesh, for 3D printing', ext: 'stl' },
  OBJ: { title: 'OBJ mesh, for rendering', ext: 'obj' },
  GLB: { title: 'glTF binary, for web viewers and AR', ext: 'glb' },
  '3MF': { title: '3MF, for slicers (millimetres)', ext: '3mf' },
  PNG: { title: 'Picture, isometric view', ext: 'png' },
};

/** Saves a file fetched from `url` under `name`; opens the URL if it cannot be fetched. */
async function saveFrom(url: string, name: string): Promise<void> {
  let blob: Blob;
  try {
    const res = await fetch(url);
    if (!res.ok) throw new Error(String(res.status));
    blob = await res.blob();
  } catch {
    window.location.assign(url);
    return;
  }
  const href = URL.createObjectURL(blob);
  const a = h('a', { href, download: name, hidden: true });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}

export function modelPanel(ctx: ProjectCtx, panel: HTMLElement): Cleanup {
  const { app } = ctx;
  const cleanups: Cleanup[] = [];
  const stage = h('div', { class: 'viewer', dataset: { state: 'empty' } });
  const overlay = h('div', { class: 'viewer-overlay', role: 'status' });
  stage.appendChild(overlay);
  let viewer: Viewer | null = null;
  let viewerModule: Promise<typeof import('../viewer')> | null = null;
  let shown = '';
  let loadSeq = 0;

  const toolButton = (label: string, path: string, fn: (v: Viewer) => void, text?: string) =>
    h(
      'button',
      { type: 'button', class: 'tool', 'aria-label': label, title: label, onclick: () => viewer && fn(viewer) },
      icon(path),
      text ? h('span', null, text) : null,
    );
  const toolbar = h(
    'div',
    { class: 'viewer-tools', role: 'toolbar', 'aria-label': 'View' },
    toolButton('Rotate left', ICONS.rotate, (v) => v.rotate(-30)),
    toolButton('Rotate right', ICONS.rotate, (v) => v.rotate(30)),
    toolButton('Zoom in', ICONS.plus, (v) => v.zoom(0.8)),
    toolButton('Zoom out', ICONS.minus, (v) => v.zoom(1.25)),
    toolButton('Fit to view', ICONS.fit, (v) => v.fit(), 'Fit'),
  );
  toolbar.querySelector('button[aria-label="Rotate left"] svg')?.setAttribute('style', 'transform: scaleX(-1)');

  const metricsBox = h('dl', { class: 'metrics', 'aria-label': 'Measurements' });
  const downloads = h('div', { class: 'downloads' });
  const heading = h('h2', { class: 'panel-title' });
  const parameters = h('section', { class: 'parameters', 'aria-label': 'Parameters' });

  mount(
    panel,
    heading,
    h('div', { class: 'viewer-wrap' }, stage, toolbar),
    h('p', { class: 'hint viewer-hint' }, 'Drag to rotate · scroll or pinch to zoom · right-drag to pan · arrow keys pan when the view has focus'),
    h(
      'div',
      { class: 'model-facts' },
      h('section', null, h('h3', null, 'Measurements'), metricsBox),
      h('section', null, h('h3', null, 'Download'), downloads),
      parameters,
    ),
  );
  cleanups.push(parametersBox(ctx, parameters));

  function setOverlay(state: string, text: string) {
    stage.dataset.state = state;
    overlay.textContent = text;
    overlay.hidden = !text;
    toolbar.hidden = state !== 'ready';
  }

  /** While nothing is drawn, says whether a model is on its way. */
  const emptyText = (version: number | null) => {
    const live = Object.values(ctx.jobs.get()).some((j) => !j.terminal);
    if (live) return 'The model is being built…';
    return version == null ? 'No model yet. Describe a part in the chat.' : `Version ${version} has no model. Its logs say why.`;
  };

  async function ensureViewer(): Promise<Viewer | null> {
    if (viewer) return viewer;
    viewerModule ??= import('../viewer');
    const mod = await viewerModule;
    if (!ctx.alive()) return null;
    if (!mod.webglAvailable()) return null;
    viewer ??= new mod.ModelViewer(stage);
    return viewer;
  }

  async function show(version: number) {
    const slug = ctx.project.get().slug;
    const format = viewerFormat(ctx.outputs.get(), version);
    const key = `${version}:${format}`;
    if (key === shown) return;
    shown = key;
    const seq = ++loadSeq;
    if (!format) {
      viewer?.clear();
      setOverlay('empty', emptyText(version));
      return;
    }
    setOverlay('loading', 'Loading the model…');
    try {
      const [v, link] = await Promise.all([ensureViewer(), app.api.download(slug, format, version)]);
      if (seq !== loadSeq) return;
      if (!v) {
        setOverlay('unsupported', 'This browser cannot show 3D graphics (WebGL). The downloads below still work.');
        return;
      }
      const res = await fetch(link.url);
      if (!res.ok) throw new Error(`the file server answered ${res.status}`);
      const data = await res.arrayBuffer();
      const mod = await viewerModule!;
      if (seq !== loadSeq) return;
      const model = await mod.parseModel(format, data);
      if (seq !== loadSeq) return;
      v.show(model);
      stage.dataset.version = String(version);
      stage.dataset.format = format;
      setOverlay('ready', '');
    } catch (e) {
      if (seq !== loadSeq) return;
      shown = '';
      const msg = (e as ApiError).message || String(e);
      setOverlay('error', `The 3D view could not load the model (${msg}). The downloads below still work.`);
      overlay.append(
        h('button', { type: 'button', class: 'secondary small', onclick: () => void show(version) }, icon(ICONS.retry), 'Try again'),
      );
    }
  }

  function drawMetrics(version: number | null) {
    const metrics: ModelMetrics | undefined = version == null ? undefined : metricsByVersion(ctx.jobList.get()).get(version);
    if (!metrics) {
      mount(metricsBox, h('p', { class: 'muted' }, version == null ? 'No model yet.' : 'No measurements for this version.'));
      return;
    }
    const [x0, y0, z0, x1, y1, z1] = metrics.bounding_box;
    const row = (term: string, value: string, title?: string) => [h('dt', null, term), h('dd', { title }, value)];
    mount(
      metricsBox,
      row('Size (X × Y × Z)', boxSize(metrics.bounding_box), `from (${mm(x0)}, ${mm(y0)}, ${mm(z0)}) to (${mm(x1)}, ${mm(y1)}, ${mm(z1)})`),
      row('Volume', volume(metrics.volume)),
      row('Surface area', area(metrics.surface_area)),
      row('Solids', String(metrics.solids)),
      row('Valid solid', metrics.valid ? 'Yes' : 'No — check the script'),
    );
    if (metrics.center_of_mass) {
      const [cx, cy, cz] = metrics.center_of_mass;
      metricsBox.append(...row('Centre of mass', `(${mm(cx)}, ${mm(cy)}, ${mm(cz)})`));
    }
    const mass = version == null ? undefined : massByVersion(ctx.jobList.get()).get(version);
    if (mass) {
      metricsBox.append(
        ...row('Mass', `${grams(mass.grams)} in ${mass.material.name}`, `density ${mass.material.density_g_cm3} g/cm³`),
      );
    }
    const verified = version == null ? undefined : verificationByVersion(ctx.jobList.get()).get(version);
    if (verified) {
      const detail = verified.checks.map((c) => `${c.passed ? '✓' : '✗'} ${c.name}: expected ${c.expected}, measured ${c.measured}`).join('\n');
      metricsBox.append(...row('Verification', verified.summary, detail));
    }
  }

  function drawDownloads(version: number | null) {
    const slug = ctx.project.get().slug;
    const files = ctx.outputs.get().filter((o) => o.version === version);
    if (version == null || !files.length) {
      mount(downloads, h('p', { class: 'muted' }, 'Files appear here when a model is ready.'));
      return;
    }
    mount(
      downloads,
      h(
        'ul',
        { class: 'download-list' },
        MODEL_FORMATS.map((format) => {
          const file = files.find((f) => f.format === format);
          const name = `${slug}_v${version}.${FORMAT_INFO[format].ext}`;
          return h(
            'li',
            null,
            h(
              'button',
              {
                type: 'button',
                class: 'download',
                disabled: !file,
                dataset: { format },
                'aria-label': `Download ${format} of version ${version}`,
                onclick: async (ev: Event) => {
                  const button = ev.currentTarget as HTMLButtonElement;
                  button.disabled = true;
                  try {
                    const link = await app.api.download(slug, format, version);
                    await saveFrom(link.url, name);
                  } catch (e) {
                    toast((e as ApiError).message, 'error');
                  } finally {
                    button.disabled = false;
                  }
                },
              },
              icon(ICONS.download),
              h('span', { class: 'download-format' }, format),
              h('span', { class: 'download-info' }, FORMAT_INFO[format].title, file?.size ? ` · ${bytes(file.size)}` : ''),
            ),
          );
        }),
      ),
    );
  }

  const draw = () => {
    const version = ctx.version.get();
    heading.textContent = version == null ? 'Model' : `Model · version ${version}`;
    drawMetrics(version);
    drawDownloads(version);
    if (version == null) {
      shown = '';
      setOverlay('empty', emptyText(null));
      return;
    }
    void show(version);
  };
  cleanups.push(
    ctx.version.subscribe(draw),
    ctx.outputs.subscribe(draw),
    ctx.jobList.subscribe(draw),
    ctx.jobs.subscribe(() => {
      if (stage.dataset.state === 'empty') setOverlay('empty', emptyText(ctx.version.get()));
    }),
  );
  draw();

  return () => {
    loadSeq++;
    cleanups.forEach((fn) => fn());
    viewer?.dispose();
    viewer = null;
  };
}

export function scriptsPanel(ctx: ProjectCtx, panel: HTMLElement): Cleanup {
  const { app } = ctx;
  const cleanups: Cleanup[] = [];
  const cache = new Map<number, Promise<string>>();
  const script = (v: number) => {
    let p = cache.get(v);
    if (!p) {
      p = ctx.track(app.api.script(ctx.project.get().slug, v));
      p.catch(() => cache.delete(v));
      cache.set(v, p);
    }
    return p;
  };
  let mode: 'code' | 'diff' = 'code';
  let seq = 0;

  const heading = h('h2', { class: 'panel-title' }, 'Scripts');
  const meta = h('p', { class: 'muted script-meta' });
  const codeButton = h('button', { type: 'button', class: 'seg', 'aria-pressed': 'true', onclick: () => setMode('code') }, 'Code');
  const diffButton = h('button', { type: 'button', class: 'seg', 'aria-pressed': 'false', onclick: () => setMode('diff') }, 'Changes');
  const view = h('div', { class: 'code-view', 'aria-live': 'polite' });
  const versionsList = h('ol', { class: 'version-list', 'aria-label': 'Script versions' });

  // Upload
  const file = h('input', { type: 'file', id: 'upload-file', accept: '.py,text/x-python,text/plain' });
  const text = h('textarea', { id: 'upload-text', rows: '6', spellcheck: 'false', placeholder: 'import FreeCAD as App\nimport Part\n…', class: 'mono' });
  const uploadError = h('div', { class: 'form-error', role: 'alert', hidden: true });
  const uploadButton = h('button', { type: 'submit', class: 'primary' }, icon(ICONS.upload), 'Upload and build');
  let fileName: string | undefined;
  file.addEventListener('change', async () => {
    const f = file.files?.[0];
    if (!f) return;
    fileName = /^[A-Za-z0-9._-]{1,100}$/.test(f.name) && f.name.endsWith('.py') ? f.name : undefined;
    text.value = await f.text();
  });
  const uploadForm = h(
    'form',
    {
      class: 'upload stack',
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        uploadError.hidden = true;
        const source = text.value;
        if (!source.trim()) {
          uploadError.textContent = 'Choose a .py file or paste a script first.';
          uploadError.hidden = false;
          return;
        }
        uploadButton.disabled = true;
        try {
          const accepted = await app.api.uploadScript(ctx.project.get().slug, source, fileName);
          text.value = '';
          file.value = '';
          fileName = undefined;
          toast('Script uploaded. Building the new version…');
          ctx.follow(accepted, 'upload');
        } catch (e) {
          const err = e as ApiError;
          const violations = (err.details as { violations?: { line?: number; message: string }[] } | undefined)?.violations;
          mount(
            uploadError,
            h('p', null, err.message),
            violations?.length
              ? h('ul', null, violations.map((v) => h('li', null, v.line ? `Line ${v.line}: ` : '', v.message)))
              : null,
          );
          uploadError.hidden = false;
        } finally {
          uploadButton.disabled = false;
        }
      },
    },
    h('h3', null, 'Upload your own script'),
    h('p', { class: 'muted' }, 'A FreeCAD Python script becomes the next version and is built like a generated one.'),
    h('div', { class: 'field' }, h('label', { for: 'upload-file' }, 'Script file (.py)'), file),
    h('div', { class: 'field' }, h('label', { for: 'upload-text' }, 'or paste it here'), text),
    uploadError,
    h('div', null, uploadButton),
  );

  mount(
    panel,
    h('div', { class: 'panel-head' }, heading, h('div', { class: 'segmented', role: 'group', 'aria-label': 'Show' }, codeButton, diffButton)),
    meta,
    view,
    h('details', { class: 'versions-box' }, h('summary', null, 'All versions'), versionsList),
    h('hr'),
    uploadForm,
  );

  function setMode(m: 'code' | 'diff') {
    mode = m;
    codeButton.setAttribute('aria-pressed', String(m === 'code'));
    diffButton.setAttribute('aria-pressed', String(m === 'diff'));
    void draw();
  }

  function previousOf(v: number): number | null {
    const older = ctx.scripts
      .get()
      .map((s) => s.version)
      .filter((x) => x < v);
    return older.length ? Math.max(...older) : null;
  }

  async function draw() {
    if (!ctx.alive()) return;
    const v = ctx.version.get();
    const s = seq + 1;
    seq = s;
    const info = ctx.scripts.get().find((x) => x.version === v);
    heading.textContent = v == null ? 'Scripts' : `Script · version ${v}`;
    if (v == null || !info) {
      meta.textContent = '';
      mount(view, h('p', { class: 'muted' }, v == null ? 'No scripts yet.' : 'Loading…'));
      return;
    }
    const by = info.generated_by === 'user' ? 'uploaded by you' : info.generated_by ? `generated by ${info.generated_by.replace(/^cadscribe-ai\//, '')}` : 'stored';
    meta.textContent = `${info.file_name} · ${by} · ${when(info.created_at)}${info.size ? ' · ' + bytes(info.size) : ''}`;
    mount(view, h('p', { class: 'muted' }, 'Loading the script…'));
    const hl = await import('../highlight');
    try {
      if (mode === 'code') {
        const code = await script(v);
        if (s !== seq) return;
        const mark = ctx.mark.get();
        const block = codeBlock(code, hl.highlightPython(code), mark?.version === v ? mark.line : null);
        mount(view, block);
        block.querySelector('.line-mark')?.scrollIntoView({ block: 'center' });
      } else {
        const prev = previousOf(v);
        if (prev == null) {
          mount(view, h('p', { class: 'muted' }, `Version ${v} is the first version; there is nothing to compare it with.`));
          return;
        }
        const [a, b] = await Promise.all([script(prev), script(v)]);
        if (s !== seq) return;
        mount(view, diffBlock(prev, v, a, b, hl.highlightLines));
      }
    } catch (e) {
      if (s !== seq) return;
      mount(view, h('p', { class: 'form-error' }, (e as ApiError).message));
    }
  }

  const drawVersions = () => {
    const current = ctx.version.get();
    mount(
      versionsList,
      ctx.scripts.get().map((s) =>
        h(
          'li',
          null,
          h(
            'button',
            {
              type: 'button',
              class: 'version-item',
              'aria-current': s.version === current ? 'true' : undefined,
              onclick: () => ctx.version.set(s.version),
            },
            h('strong', null, `v${s.version}`),
            h('span', null, s.generated_by === 'user' ? 'your upload' : 'generated'),
            h('span', { class: 'muted' }, when(s.created_at)),
          ),
        ),
      ),
    );
  };
  cleanups.push(
    ctx.version.subscribe(() => {
      drawVersions();
      void draw();
    }),
    ctx.scripts.subscribe(() => {
      drawVersions();
      void draw();
    }),
    // A failure's line to show: the code itself, marked.
    ctx.mark.subscribe((m) => {
      if (m == null) return;
      if (mode !== 'code') setMode('code');
      else void draw();
    }),
  );
  drawVersions();
  void draw();
  return () => {
    seq++;
    cleanups.forEach((fn) => fn());
  };
}

/** The script with line numbers; `mark` (1-based) is the line a failure points at. */
function codeBlock(code: string, html: string, mark: number | null = null): HTMLElement {
  const lines = code.replace(/\n$/, '').split('\n').length;
  const marked = mark != null && mark >= 1 && mark <= lines ? mark : null;
  const numbers = Array.from({ length: lines }, (_, i) =>
    i + 1 === marked ? h('span', { class: 'marked' }, `${i + 1}\n`) : `${i + 1}\n`,
  );
  const gutter = h('pre', { class: 'gutter', 'aria-hidden': 'true' }, numbers);
  const body = h('code', { class: 'hljs language-python' });
  body.innerHTML = html;
  const source = h('pre', { class: 'source' }, body);
  if (marked != null) {
    source.append(h('div', { class: 'line-mark', style: `--line: ${marked}`, title: `The run failed at line ${marked}`, dataset: { line: String(marked) } }));
  }
  return h('div', { class: 'code', tabindex: '0', 'aria-label': 'Script source' }, gutter, source);
}

function diffBlock(from: number, to: number, a: string, b: string, highlight: (lines: string[]) => string[]): HTMLElement {
  const diff = lineDiff(a, b);
  const summary = h(
    'p',
    { class: 'diff-summary' },
    `Changes from version ${from} to version ${to}: `,
    h('span', { class: 'added' }, `+${diff.added}`),
    ' ',
    h('span', { class: 'removed' }, `−${diff.removed}`),
    diff.added + diff.removed === 0 ? ' (identical)' : '',
  );
  const table = h('div', { class: 'diff', role: 'table', 'aria-label': `Changes from version ${from} to ${to}` });
  const draw = (context: number) => {
    const rows = foldUnchanged(diff.rows, context);
    const html = highlight(rows.map((r) => r.text));
    table.replaceChildren();
    rows.forEach((r, i) => {
      if (r.kind === 'fold') {
        table.appendChild(
          h(
            'div',
            { class: 'diff-row fold', role: 'row' },
            h('button', { type: 'button', role: 'cell', onclick: () => draw(Number.MAX_SAFE_INTEGER) }, `⋯ ${r.hidden} unchanged lines (show all)`),
          ),
        );
        return;
      }
      const sign = r.kind === 'add' ? '+' : r.kind === 'del' ? '−' : ' ';
      const code = h('code', { class: 'diff-code', role: 'cell' });
      code.innerHTML = html[i] || ' ';
      table.appendChild(
        h(
          'div',
          { class: `diff-row ${r.kind}`, role: 'row' },
          h('span', { class: 'ln', role: 'cell' }, r.oldNo ?? ''),
          h('span', { class: 'ln', role: 'cell' }, r.newNo ?? ''),
          h('span', { class: 'sign', role: 'cell', 'aria-label': r.kind === 'add' ? 'added' : r.kind === 'del' ? 'removed' : undefined }, sign),
          code,
        ),
      );
    });
  };
  draw(3);
  return h('div', null, summary, h('div', { class: 'diff-scroll', tabindex: '0' }, table));
}

export function logsPanel(ctx: ProjectCtx, panel: HTMLElement): Cleanup {
  const cleanups: Cleanup[] = [];
  const body = h('div', { class: 'logs' });
  const heading = h('h2', { class: 'panel-title' }, 'Logs');
  mount(panel, heading, body);

  const draw = () => {
    const v = ctx.version.get();
    heading.textContent = v == null ? 'Processing logs' : `Processing logs · version ${v}`;
    const logs = ctx.logs.get();
    if (v == null) {
      mount(body, h('p', { class: 'muted' }, 'No runs yet.'));
      return;
    }
    const records = (logs?.items ?? []).filter((l) => l.version === v);
    const files = (logs?.log_files ?? []).filter((f) => f.version === v);
    const jobs = ctx.jobList.get().filter((j) => j.version === v);
    const parts: HTMLElement[] = [];
    if (records.length) {
      parts.push(
        h(
          'ul',
          { class: 'log-records' },
          records.map((r) => {
            const m = (r.metadata ?? {}) as Record<string, unknown>;
            const facts = [
              typeof m.processing_time === 'number' ? `FreeCAD run ${m.processing_time.toFixed(2)} s` : null,
              m.exit_code != null ? `exit code ${m.exit_code}` : null,
              m.worker_id ? `worker ${m.worker_id}` : null,
            ].filter(Boolean);
            return h(
              'li',
              { class: 'log-record' },
              h('div', { class: 'log-head' }, h('time', { datetime: r.timestamp }, when(r.timestamp)), h('span', { class: 'muted' }, facts.join(' · '))),
              h('pre', { class: 'log-text' }, r.log_summary),
            );
          }),
        ),
      );
    }
    for (const job of jobs) {
      parts.push(
        h(
          'section',
          { class: 'job-history' },
          h('h3', null, `${job.kind === 'upload' ? 'Upload' : 'Generation'} job`, h('span', { class: 'muted' }, ` · ${job.label}`)),
          h(
            'ol',
            { class: 'history' },
            job.history.map((e) =>
              h(
                'li',
                { class: `history-${e.stage}` },
                h('time', { datetime: e.at }, new Date(e.at).toLocaleTimeString('en-US', { hour12: false })),
                h('strong', null, e.label),
                e.detail ? h('pre', { class: 'log-text' }, e.detail) : null,
              ),
            ),
          ),
        ),
      );
    }
    if (files.length) {
      parts.push(
        h(
          'section',
          null,
          h('h3', null, 'Run log files'),
          h(
            'ul',
            { class: 'log-files' },
            files.map((f) => {
              const url = f.url;
              return h('li', null, url ? h('a', { href: url, target: '_blank', rel: 'noopener' }, f.file_name) : h('code', null, f.file_name), ' ', h('span', { class: 'muted' }, bytes(f.size)));
            }),
          ),
        ),
      );
    }
    mount(body, parts.length ? parts : h('p', { class: 'muted' }, logs ? `No logs for version ${v} yet.` : 'Loading the logs…'));
  };
  cleanups.push(ctx.version.subscribe(draw), ctx.logs.subscribe(draw), ctx.jobList.subscribe(draw));
  draw();
  return () => cleanups.forEach((fn) => fn());
}
