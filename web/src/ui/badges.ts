import type { ProcessingStatus } from '../types';
import { h } from './dom';

const TEXT: Record<string, string> = {
  no_scripts: 'No model yet',
  processing: 'Processing',
  completed: 'Ready',
  timeout: 'Last run timed out',
  error: 'Last run failed',
};

export function statusBadge(status: ProcessingStatus | string): HTMLElement {
  return h('span', { class: `badge badge-${status}` }, TEXT[status] ?? status);
}
