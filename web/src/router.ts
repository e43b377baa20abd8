// Client-side routes on real paths (the gateway answers index.html for any
// path it has no file for, so a reload or a shared link lands here).

export interface Match {
  name: 'signin' | 'register' | 'projects' | 'project' | 'notfound';
  params: Record<string, string>;
}

export function match(pathname: string): Match {
  const path = pathname.replace(/\/+$/, '') || '/';
  if (path === '/') return { name: 'projects', params: {} };
  if (path === '/signin') return { name: 'signin', params: {} };
  if (path === '/register') return { name: 'register', params: {} };
  if (path === '/projects') return { name: 'projects', params: {} };
  const m = /^\/projects\/([^/]+)(?:\/(model|scripts|logs))?$/.exec(path);
  if (m) return { name: 'project', params: { id: decodeURIComponent(m[1]), tab: m[2] ?? 'model' } };
  return { name: 'notfound', params: {} };
}

/** Paths that need no account. */
export function isPublic(name: Match['name']): boolean {
  return name === 'signin' || name === 'register';
}

/** Where to go after signing in: only a path of this site. */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/signin') || next.startsWith('/register')) {
    return '/';
  }
  return next;
}
