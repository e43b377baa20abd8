// The list of a person's projects, and where a new part starts.

import type { App, Cleanup } from '../main';
import type { ApiError } from '../api';
import type { Project } from '../types';
import { sortProjects } from '../state';
import { ago, when } from '../format';
import { h, icon, ICONS, mount, toast } from './dom';
import { confirmDialog, promptDialog } from './dialog';
import { statusBadge } from './badges';
import { pictureImg } from './picture';

export const EXAMPLES = [
  'a flange 80 mm across with six 8 mm holes on a 60 mm bolt circle',
  'a 40 x 20 x 10 mm plate with a 6 mm through hole',
  'spur gear module 2 with 20 teeth 10 mm thick bore 8 mm',
  'L-bracket 50 x 40 x 30 mm 5 mm thick with 2 holes 5 mm',
  'M8 hex nut',
  'tube outer diameter 30 mm inner diameter 24 mm length 80 mm',
];

export function projectsView(app: App, main: HTMLElement): Cleanup {
  app.title('Your projects');
  let alive = true;

  const prompt = h('textarea', {
    id: 'new-prompt',
    rows: '2',
    maxlength: '2000',
    placeholder: 'e.g. a flange 80 mm across with six 8 mm holes on a 60 mm bolt circle',
    'aria-describedby': 'new-prompt-hint',
  });
  const generate = h('button', { type: 'submit', class: 'primary' }, icon(ICONS.send), 'Generate model');
  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const list = h('div', { class: 'project-list', 'aria-live': 'polite', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading your projects…'));
  const count = h('span', { class: 'muted count' });

  const startForm = h(
    'form',
    {
      class: 'card start',
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        const text = prompt.value.trim();
        formError.hidden = true;
        if (!text) {
          formError.textContent = 'Describe the part you want first.';
          formError.hidden = false;
          prompt.focus();
          return;
        }
        generate.disabled = true;
        try {
          const accepted = await app.api.chat(text);
          app.go(`/projects/${encodeURIComponent(accepted.project_id)}`);
        } catch (e) {
          formError.textContent = (e as ApiError).message;
          formError.hidden = false;
          generate.disabled = false;
        }
      },
    },
    h('h1', null, h('label', { for: 'new-prompt' }, 'Describe a part')),
    h(
      'p',
      { id: 'new-prompt-hint', class: 'muted' },
      'One sentence with its dimensions. A new project is created for it; you can refine it in the project’s chat.',
    ),
    h('div', { class: 'start-row' }, prompt, generate),
    formError,
    h(
      'div',
      { class: 'examples' },
      h('span', { class: 'muted' }, 'Try:'),
      EXAMPLES.slice(0, 4).map((ex) =>
        h(
          'button',
          {
            type: 'button',
            class: 'chip',
            onclick: () => {
              prompt.value = ex;
              prompt.focus();
            },
          },
          ex,
        ),
      ),
    ),
  );
  prompt.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      startForm.requestSubmit();
    }
  });

  mount(
    main,
    startForm,
    h(
      'section',
      { class: 'projects', 'aria-labelledby': 'projects-title' },
      h(
        'div',
        { class: 'section-head' },
        h('h2', { id: 'projects-title' }, 'Your projects ', count),
        h('button', { type: 'button', class: 'secondary', onclick: () => void newEmpty() }, icon(ICONS.plus), 'New project'),
      ),
      list,
    ),
  );

  async function newEmpty() {
    const name = await promptDialog({
      title: 'New project',
      label: 'Project name',
      value: '',
      confirm: 'Create project',
    });
    if (!name) return;
    try {
      const project = await app.api.createProject(name);
      app.go(`/projects/${encodeURIComponent(project.project_id)}`);
    } catch (e) {
      toast((e as ApiError).message, 'error');
    }
  }

  async function load() {
    try {
      const page = await app.api.projects();
      if (!alive) return;
      draw(sortProjects(page.items), page.total);
    } catch (e) {
      if (!alive) return;
      list.setAttribute('aria-busy', 'false');
      mount(
        list,
        h('p', { class: 'form-error', role: 'alert' }, (e as ApiError).message),
        h('button', { type: 'button', class: 'secondary', onclick: () => void load() }, 'Try again'),
      );
    }
  }

  function draw(projects: Project[], total: number) {
    list.setAttribute('aria-busy', 'false');
    count.textContent = total ? `(${total})` : '';
    if (!projects.length) {
      mount(list, h('p', { class: 'empty' }, 'No projects yet. Describe a part above and your first model will be ready in a few seconds.'));
      return;
    }
    mount(list, h('ul', { class: 'cards' }, projects.map(card)));
  }

  function card(p: Project): HTMLElement {
    const href = `/projects/${encodeURIComponent(p.project_id)}`;
    return h(
      'li',
      { class: 'project-card', dataset: { project: p.project_id } },
      p.current_version
        ? h('a', { href, 'data-link': '', class: 'project-thumb-link', tabindex: '-1', 'aria-hidden': 'true' },
            pictureImg(app.api, p.slug, undefined, 'project-thumb', `Picture of ${p.project_name}`))
        : null,
      h(
        'div',
        { class: 'project-card-main' },
        h('a', { href, 'data-link': '', class: 'project-name' }, p.project_name),
        h(
          'div',
          { class: 'project-meta' },
          statusBadge(p.processing_status),
          h('span', null, p.current_version ? `v${p.current_version}` : 'no versions yet'),
          h('span', { title: when(p.updated_at) }, 'updated ', ago(p.updated_at)),
        ),
      ),
      h(
        'div',
        { class: 'project-actions' },
        h(
          'button',
          { type: 'button', class: 'ghost icon-only', 'aria-label': `Rename ${p.project_name}`, title: 'Rename', onclick: () => void rename(p) },
          icon(ICONS.edit),
        ),
        h(
          'button',
          { type: 'button', class: 'ghost icon-only danger', 'aria-label': `Delete ${p.project_name}`, title: 'Delete', onclick: () => void remove(p) },
          icon(ICONS.trash),
        ),
      ),
    );
  }

  async function rename(p: Project) {
    const name = await promptDialog({ title: 'Rename project', label: 'Project name', value: p.project_name, confirm: 'Rename' });
    if (!name || name === p.project_name) return;
    try {
      await app.api.renameProject(p.project_id, name);
      toast('Project renamed.');
      await load();
    } catch (e) {
      toast((e as ApiError).message, 'error');
    }
  }

  async function remove(p: Project) {
    const ok = await confirmDialog({
      title: 'Delete project?',
      message: `“${p.project_name}” will be deleted with its chat, every script version, its models and its logs. This cannot be undone.`,
      confirm: 'Delete project',
      danger: true,
    });
    if (!ok) return;
    try {
      await app.api.deleteProject(p.project_id);
      toast('Project deleted.');
      await load();
    } catch (e) {
      toast((e as ApiError).message, 'error');
    }
  }

  void load();
  prompt.focus();
  return () => {
    alive = false;
  };
}
