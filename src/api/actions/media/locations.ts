import path from 'node:path';
import { checkUrl, lexicallyInside, transferContext } from '../../../transfer/index.ts';
import { ApiError, ErrorText } from '../../errors.ts';
import type { ActionContext } from '../context.ts';

/**
 * Whether a URL a request names may be used: a source, destination or notify URL passes the
 * scheme and network rules, and a file:// path stays inside the user's file roots.
 */
export function checkLocation(ctx: ActionContext, url: string, role: 'source' | 'destination' | 'notify', where = '', field: string = role): void {
  const transfer = transferContext(ctx.config);
  if (role === 'notify') {
    if (!/^https?:\/\//i.test(url)) throw new ApiError(ErrorText.badValue(field, 'must be an http:// or https:// URL.'));
    const problem = checkUrl(url, 'destination', { allowPrivateNetwork: transfer.allowPrivateNetwork });
    if (problem) throw new ApiError(ErrorText.badValue(field, problem.replace(/^The destination host/, 'names host') + '.'));
    return;
  }
  const problem = checkUrl(url, role, transfer);
  if (problem) throw new ApiError(where + problem);
  if (/^file:/i.test(url)) {
    let file: string;
    try {
      file = path.resolve(decodeURIComponent(new URL(url).pathname));
    } catch {
      throw new ApiError(`${where}The ${role} ${url.slice(0, 200)} is not a valid file:// URL.`);
    }
    const roots = ctx.fileRoots(ctx.user.id);
    const usable = role === 'source' ? [...roots.own, ...roots.shared] : roots.own;
    if (!lexicallyInside(usable, file, roots.denied)) {
      const rule = role === 'source' && roots.shared.length > 0
        ? `may read below ${[...roots.own, ...roots.shared].join(', ')} (ENCODERY_FILE_ROOTS, ENCODERY_SHARED_FILE_ROOTS)`
        : `may ${role === 'source' ? 'read' : 'write'} only below ${roots.own.join(', ') || '(no folder)'} (ENCODERY_FILE_ROOTS)`;
      throw new ApiError(`${where}The ${role} file:// path is outside the allowed file roots: user ${ctx.user.id} ${rule}.`);
    }
  }
}
