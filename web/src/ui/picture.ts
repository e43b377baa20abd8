// The picture of a version: the PNG the worker draws of every model
// (isometric, shaded, edges drawn, transparent background), shown in the
// project list, the chat and beside the version picker. Its link is a
// pre-signed download, asked once per version and reused until shortly
// before it expires.

import type { Api } from '../api';
import { h } from './dom';

const links = new Map<string, { url: string; until: number }>();
/** Seconds before a link's expiry at which it is asked again. */
const MARGIN_SECS = 60;

/** A link to the picture of `version` (the latest with one when omitted), or null when there is none. */
export async function pictureUrl(api: Api, slug: string, version?: number): Promise<string | null> {
  const key = `${slug}:${version ?? 'latest'}`;
  const known = links.get(key);
  if (known && known.until > Date.now()) return known.url;
  try {
    const link = await api.download(slug, 'PNG', version);
    links.set(key, { url: link.url, until: Date.now() + Math.max(0, link.expires_in - MARGIN_SECS) * 1000 });
    return link.url;
  } catch {
    return null;
  }
}

/**
 * An image of the version's picture: hidden until it has loaded, and left
 * hidden when the version has none (an older model, a failed run).
 */
export function pictureImg(api: Api, slug: string, version: number | undefined, className: string, alt: string): HTMLImageElement {
  const img = h('img', { class: `picture ${className}`, alt, hidden: true, decoding: 'async', loading: 'lazy', width: 512, height: 512 });
  img.addEventListener('load', () => (img.hidden = false));
  img.addEventListener('error', () => (img.hidden = true));
  void pictureUrl(api, slug, version).then((url) => {
    if (url) img.src = url;
  });
  return img;
}
