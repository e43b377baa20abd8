// The CADScribe web client: one page, real paths, no framework.

import './styles.css';
import { Api, memoryTokens, storageTokens } from './api';
import type { TokenStore } from './api';
import { isPublic, match, safeNext } from './router';
import { h, mount } from './ui/dom';
import { authView } from './ui/auth';
import { projectsView } from './ui/projects';
import { projectView } from './ui/project';

export interface App {
  api: Api;
  /** Goes to a path of the client (pushes history unless `replace`). */
  go(path: string, opts?: { replace?: boolean }): void;
  /** Sets the page title ("… · CADScribe"). */
  title(text: string): void;
  /** Replaces the path shown without re-rendering (tabs). */
  setPath(path: string): void;
}

export type Cleanup = () => void;

function tokenStore(): TokenStore {
  try {
    const probe = '__cadscribe_probe';
    window.localStorage.setItem(probe, '1');
    window.localStorage.removeItem(probe);
    return storageTokens(window.localStorage);
  } catch {
    return memoryTokens();
  }
}

const root = document.getElementById('app') as HTMLElement;
let cleanup: Cleanup | null = null;
let signInNotice: string | null = null;

const api = new Api({
  tokens: tokenStore(),
  onUnauthorized: () => {
    if (isPublic(match(location.pathname).name)) return;
    signInNotice = 'Please sign in again to continue.';
    const next = location.pathname + location.search;
    app.go(`/signin?next=${encodeURIComponent(next)}`, { replace: true });
  },
});

const app: App = {
  api,
  go(path, opts = {}) {
    if (path === location.pathname + location.search && !opts.replace) return;
    if (opts.replace) history.replaceState(null, '', path);
    else history.pushState(null, '', path);
    render();
  },
  title(text) {
    document.title = text ? `${text} · CADScribe` : 'CADScribe';
  },
  setPath(path) {
    history.replaceState(null, '', path);
  },
};

function header(): HTMLElement {
  const user = api.tokens.user();
  return h(
    'header',
    { class: 'topbar' },
    h(
      'a',
      { class: 'brand', href: '/', 'data-link': '' },
      h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '◆'),
      h('span', null, 'CADScribe'),
    ),
    user
      ? h(
          'div',
          { class: 'account' },
          h('span', { class: 'account-email', title: user.email }, user.email),
          h(
            'button',
            {
              type: 'button',
              class: 'ghost small',
              onclick: () => {
                api.signOut();
                app.go('/signin');
              },
            },
            'Sign out',
          ),
        )
      : null,
  );
}

function render(): void {
  cleanup?.();
  cleanup = null;
  const route = match(location.pathname);
  if (!isPublic(route.name) && !api.signedIn()) {
    const next = location.pathname === '/' ? '' : `?next=${encodeURIComponent(location.pathname + location.search)}`;
    history.replaceState(null, '', `/signin${next}`);
    render();
    return;
  }
  if (isPublic(route.name) && api.signedIn()) {
    history.replaceState(null, '', safeNext(new URLSearchParams(location.search).get('next')));
    render();
    return;
  }
  const main = h('main', { id: 'main', class: `page page-${route.name}`, tabindex: '-1' });
  mount(root, h('a', { class: 'skip', href: '#main' }, 'Skip to content'), header(), main);
  switch (route.name) {
    case 'signin':
    case 'register': {
      const notice = signInNotice;
      signInNotice = null;
      cleanup = authView(app, main, route.name, notice);
      break;
    }
    case 'projects':
      cleanup = projectsView(app, main);
      break;
    case 'project':
      cleanup = projectView(app, main, route.params.id, route.params.tab);
      break;
    default:
      app.title('Not found');
      mount(
        main,
        h(
          'section',
          { class: 'card narrow' },
          h('h1', null, 'Page not found'),
          h('p', null, h('a', { href: '/', 'data-link': '' }, 'Back to your projects')),
        ),
      );
  }
}

// Links marked data-link navigate inside the client.
document.addEventListener('click', (ev) => {
  const a = (ev.target as Element | null)?.closest?.('a[data-link]') as HTMLAnchorElement | null;
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const url = new URL(a.href);
  if (url.origin !== location.origin) return;
  ev.preventDefault();
  app.go(url.pathname + url.search);
});

window.addEventListener('popstate', render);
render();
