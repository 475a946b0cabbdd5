/**
 * The sub-account actions (reference 2.15). Encodery's users are the `id:key` pairs it is
 * configured with: no sub users, names or sign-up dates, so only GetUserInfo is answered, about
 * the caller, with what is known.
 */
import { isFinalMedia } from '../../domain/status.ts';
import * as repo from '../../store/repo.ts';
import { ApiError, ErrorText } from '../errors.ts';
import { scalar } from '../query.ts';
import { subAccountReply, ZERO_DATE } from '../wire/render.ts';
import type { Action } from './context.ts';

/** `action_user_id` (node-encoding-wrapper and wabiloo send the caller's own id) may name only the caller. */
export const getUserInfo: Action = async (ctx) => {
  const asked = scalar(ctx.query, 'action_user_id');
  if (asked && asked !== ctx.user.id) {
    throw new ApiError(ErrorText.badValue('action_user_id', `names user ${asked.slice(0, 40)}, but a user may only ask about itself (${ctx.user.id}); Encodery has no sub users.`));
  }
  const counts = await repo.countMediaByStatus(ctx.db, ctx.user.id);
  const total = counts.reduce((sum, c) => sum + Number(c.n), 0);
  const active = counts.filter((c) => !isFinalMedia(c.status)).reduce((sum, c) => sum + Number(c.n), 0);
  return subAccountReply('GetUserInfo', {
    userid: ctx.user.id,
    // Users come from settings (ENCODERY_USERS or users.json), which keep no creation date.
    created: ZERO_DATE,
    media_count: String(total),
    active_media_count: String(active),
  });
};
