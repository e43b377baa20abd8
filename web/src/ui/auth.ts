// Sign in and create an account.

import type { App, Cleanup } from '../main';
import { ApiError } from '../api';
import { safeNext } from '../router';
import { h, mount } from './dom';

export function authView(app: App, main: HTMLElement, mode: 'signin' | 'register', notice: string | null): Cleanup {
  const registering = mode === 'register';
  app.title(registering ? 'Create an account' : 'Sign in');
  const next = safeNext(new URLSearchParams(location.search).get('next'));
  const suffix = next === '/' ? '' : `?next=${encodeURIComponent(next)}`;

  const email = h('input', {
    id: 'email',
    name: 'email',
    type: 'email',
    required: true,
    autocomplete: 'email',
    inputmode: 'email',
    placeholder: 'you@example.com',
  });
  const password = h('input', {
    id: 'password',
    name: 'password',
    type: 'password',
    required: true,
    minlength: '8',
    maxlength: '128',
    autocomplete: registering ? 'new-password' : 'current-password',
  });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary wide' }, registering ? 'Create account' : 'Sign in');

  const form = h(
    'form',
    {
      class: 'stack',
      novalidate: true,
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        error.hidden = true;
        const mail = email.value.trim();
        if (!mail || !email.checkValidity()) {
          showError('Enter a valid email address.');
          email.focus();
          return;
        }
        if (password.value.length < 8) {
          showError('The password needs at least 8 characters.');
          password.focus();
          return;
        }
        submit.disabled = true;
        submit.textContent = registering ? 'Creating account…' : 'Signing in…';
        try {
          if (registering) await app.api.register(mail, password.value);
          else await app.api.login(mail, password.value);
          app.go(next, { replace: true });
        } catch (e) {
          const err = e as ApiError;
          if (err.status === 401) showError('Wrong email or password.');
          else if (err.status === 409) showError('An account with this email already exists. Sign in instead.');
          else showError(err.message || 'Something went wrong; try again.');
          submit.disabled = false;
          submit.textContent = registering ? 'Create account' : 'Sign in';
        }
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'email' }, 'Email'), email),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'password' }, 'Password'),
      password,
      registering ? h('small', { class: 'hint' }, 'At least 8 characters.') : null,
    ),
    error,
    submit,
  );

  function showError(text: string) {
    error.textContent = text;
    error.hidden = false;
  }

  mount(
    main,
    h(
      'section',
      { class: 'auth' },
      h(
        'div',
        { class: 'auth-intro' },
        h('h1', null, 'Describe a part. Get a real CAD model.'),
        h(
          'p',
          { class: 'lead' },
          'Type a sentence like “a flange 80 mm across with six 8 mm holes on a 60 mm bolt circle”. ' +
            'CADScribe writes a FreeCAD script, builds the model, shows it in 3D and gives you FCStd, STEP, STL and OBJ files.',
        ),
      ),
      h(
        'div',
        { class: 'card auth-card' },
        h('h2', null, registering ? 'Create your account' : 'Sign in'),
        notice ? h('p', { class: 'notice', role: 'status' }, notice) : null,
        form,
        h(
          'p',
          { class: 'switch' },
          registering ? 'Already have an account? ' : 'New to CADScribe? ',
          h(
            'a',
            { href: (registering ? '/signin' : '/register') + suffix, 'data-link': '' },
            registering ? 'Sign in' : 'Create an account',
          ),
        ),
      ),
    ),
  );
  email.focus();
  return () => {};
}
