// Modal dialogs on the native <dialog> element: focus is trapped, Escape
// cancels, and focus returns to where it was.

import { h } from './dom';

interface Base {
  title: string;
  confirm: string;
  danger?: boolean;
}

function open<T>(build: (close: (value: T) => void) => { body: HTMLElement[]; focus: HTMLElement }, cancelled: T): Promise<T> {
  return new Promise((resolve) => {
    const previous = document.activeElement as HTMLElement | null;
    const dialog = h('dialog', { class: 'dialog' });
    let done = false;
    const close = (value: T) => {
      if (done) return;
      done = true;
      dialog.close();
      dialog.remove();
      previous?.focus?.();
      resolve(value);
    };
    const { body, focus } = build(close);
    dialog.append(...body);
    dialog.addEventListener('cancel', (ev) => {
      ev.preventDefault();
      close(cancelled);
    });
    dialog.addEventListener('click', (ev) => {
      if (ev.target === dialog) close(cancelled);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    focus.focus();
  });
}

export function confirmDialog(opts: Base & { message: string }): Promise<boolean> {
  return open<boolean>((close) => {
    const ok = h('button', { type: 'button', class: opts.danger ? 'danger-solid' : 'primary', onclick: () => close(true) }, opts.confirm);
    return {
      body: [
        h('h2', null, opts.title),
        h('p', null, opts.message),
        h(
          'div',
          { class: 'dialog-actions' },
          h('button', { type: 'button', class: 'secondary', onclick: () => close(false) }, 'Cancel'),
          ok,
        ),
      ],
      focus: ok,
    };
  }, false);
}

export function promptDialog(opts: Base & { label: string; value: string }): Promise<string | null> {
  return open<string | null>((close) => {
    const input = h('input', { id: 'dialog-input', type: 'text', required: true, maxlength: '200', value: opts.value });
    const form = h(
      'form',
      {
        class: 'stack',
        onsubmit: (ev: Event) => {
          ev.preventDefault();
          const value = input.value.trim();
          if (!value) {
            input.focus();
            return;
          }
          close(value);
        },
      },
      h('h2', null, opts.title),
      h('div', { class: 'field' }, h('label', { for: 'dialog-input' }, opts.label), input),
      h(
        'div',
        { class: 'dialog-actions' },
        h('button', { type: 'button', class: 'secondary', onclick: () => close(null) }, 'Cancel'),
        h('button', { type: 'submit', class: 'primary' }, opts.confirm),
      ),
    );
    setTimeout(() => input.select(), 0);
    return { body: [form], focus: input };
  }, null);
}
