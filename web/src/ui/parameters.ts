// The Parameters box of the model view: the named dimensions of the shown
// version's part spec, editable. Applying sends only the changed values with
// the shown version as the base; the server builds the next version from the
// edited spec (no language model) and the job is followed like a chat
// message's. A version not built from a spec (an upload, a language-model
// script) has nothing to edit and says so.

import type { Cleanup } from '../main';
import type { ApiError } from '../api';
import type { SpecView } from '../types';
import type { ProjectCtx } from './project';
import { changedValues, formatValue, labelOf, parameterOfError, unitOf } from '../parameters';
import { h, mount } from './dom';

export function parametersBox(ctx: ProjectCtx, box: HTMLElement): Cleanup {
  const { app } = ctx;
  // A version's spec never changes once stored.
  const specs = new Map<number, SpecView>();
  let shown = '';
  let seq = 0;

  const body = h('div', { class: 'parameters-body' });
  mount(box, h('h3', null, 'Parameters'), body);

  function drawForm(view: SpecView) {
    const inputs = new Map<string, HTMLInputElement>();
    const error = h('div', { class: 'form-error', role: 'alert', hidden: true });
    const note = h('p', { class: 'muted parameters-note', role: 'status' });
    const apply = h('button', { type: 'submit', class: 'primary small' }, 'Apply');
    const fields = view.parameters.map((p) => {
      const id = `param-${p.name}`;
      const unit = unitOf(p.kind);
      const input = h('input', {
        type: 'number',
        id,
        name: p.name,
        step: p.kind === 'count' ? '1' : 'any',
        inputmode: p.kind === 'count' ? 'numeric' : 'decimal',
        value: formatValue(p.value),
        dataset: { kind: p.kind },
      });
      input.addEventListener('input', () => input.removeAttribute('aria-invalid'));
      inputs.set(p.name, input);
      return h(
        'div',
        { class: 'field parameter' },
        h('label', { for: id }, labelOf(p)),
        h('div', { class: 'parameter-input' }, input, h('span', { class: 'unit', 'aria-hidden': 'true' }, unit)),
      );
    });
    const fail = (message: string, name: string | null) => {
      error.textContent = message;
      error.hidden = false;
      const input = name ? inputs.get(name) : undefined;
      if (input) {
        input.setAttribute('aria-invalid', 'true');
        input.focus();
      }
    };
    const reset = () => {
      for (const p of view.parameters) {
        const input = inputs.get(p.name);
        if (input) {
          input.value = formatValue(p.value);
          input.removeAttribute('aria-invalid');
        }
      }
      error.hidden = true;
    };
    const form = h(
      'form',
      {
        class: 'parameters-form',
        // The server says what a value may be (positive, whole, fits the part).
        novalidate: true,
        onsubmit: async (ev: Event) => {
          ev.preventDefault();
          error.hidden = true;
          note.textContent = '';
          inputs.forEach((input) => input.removeAttribute('aria-invalid'));
          const entered = Object.fromEntries([...inputs].map(([name, input]) => [name, input.value]));
          const changes = changedValues(view.parameters, entered);
          if (!changes.ok) {
            fail(changes.message, changes.name);
            return;
          }
          if (!Object.keys(changes.values).length) {
            fail('Change a value first: every value is the one of this version.', null);
            return;
          }
          apply.disabled = true;
          try {
            const accepted = await app.api.editParameters(ctx.project.get().slug, changes.values, view.version);
            ctx.follow(accepted);
            note.textContent = `Building the next version from version ${view.version} with your change…`;
          } catch (e) {
            const err = e as ApiError;
            fail(err.message, parameterOfError(err.message));
          } finally {
            apply.disabled = false;
          }
        },
      },
      h('p', { class: 'muted' }, `The named dimensions of version ${view.version}. Change any of them and apply: the next version is built from this one with the new values.`),
      h('div', { class: 'parameter-grid' }, fields),
      error,
      h(
        'div',
        { class: 'parameters-actions' },
        apply,
        h('button', { type: 'button', class: 'ghost small', onclick: reset }, 'Reset'),
        note,
      ),
    );
    mount(body, form);
  }

  async function draw() {
    const version = ctx.version.get();
    const script = version == null ? undefined : ctx.scripts.get().find((s) => s.version === version);
    const key = version == null ? '' : `${version}:${script ? (script.spec_url ?? 'none') : ctx.scripts.get().length ? 'none' : 'unknown'}`;
    if (key === shown) return;
    shown = key;
    const s = ++seq;
    box.hidden = version == null;
    if (version == null) return;
    if (!script && !ctx.scripts.get().length) {
      mount(body, h('p', { class: 'muted' }, 'Loading…'));
      return;
    }
    if (!script?.spec_url) {
      mount(body, h('p', { class: 'muted' }, `Version ${version} was not built from a part description (it is an uploaded or a language-model script), so it has no named dimensions to edit.`));
      return;
    }
    let view = specs.get(version);
    if (!view) {
      mount(body, h('p', { class: 'muted' }, 'Loading the parameters…'));
      try {
        view = await app.api.spec(ctx.project.get().slug, version);
      } catch (e) {
        if (s !== seq) return;
        shown = '';
        mount(body, h('p', { class: 'form-error' }, (e as ApiError).message));
        return;
      }
      if (s !== seq) return;
      specs.set(version, view);
    }
    if (!view.parameters.length) {
      mount(body, h('p', { class: 'muted' }, `Version ${version} has no named dimensions.`));
      return;
    }
    drawForm(view);
  }

  const cleanups = [ctx.version.subscribe(() => void draw()), ctx.scripts.subscribe(() => void draw())];
  void draw();
  return () => {
    seq++;
    cleanups.forEach((fn) => fn());
  };
}
