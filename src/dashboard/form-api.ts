/**
 * What the dashboard's format editor needs from the server: the field registry (the editor is
 * generated from it, so a field added there shows up in the form), and a dry run of AddMedia or
 * SavePreset, whose error is the API's own, naming the field, with nothing stored; and the
 * media list's source durations.
 */
import { z } from 'zod';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FieldMap } from '../domain/fields.ts';
import { FIELDS, hasRole, sectionOf } from '../domain/field-registry.ts';
import { SUPPORTED_OUTPUTS } from '../domain/format.ts';
import type { Session } from './session.ts';
import type { Db } from '../store/db.ts';
import { sourceDurations } from '../store/overview.ts';

export interface FormApiOptions {
  /** The signed-in session (CSRF checked for POSTs), or null once the reply is sent. */
  guard: (request: FastifyRequest, reply: FastifyReply) => Session | null;
  /** Runs the dry run of the query's action (credentials included); the JSON reply text. */
  check: (query: FieldMap) => Promise<string>;
  /** The `file://` URL an upload of that name would be saved as, for checking a form before its upload. */
  uploadTarget: (session: Session, name: string) => string;
  db: Db;
}

/** A field as the editor shows it; refused fields are left out, since the form must not offer them. */
export interface EditorField {
  name: string;
  /** Where it may be given: `query`, `format`, `stream`, or a block's name. */
  in: readonly string[];
  group: string;
  doc: string;
  state: 'honoured' | 'inert';
  /** Why an inert field changes nothing. */
  reason?: string;
  /** The outputs it applies to; absent: all. */
  outputs?: readonly string[];
  /** `fields`: a block of its own fields; `free`: free-form, written as JSON. */
  block?: 'fields' | 'free';
  secret: boolean;
  url: boolean;
}

const EDITOR_FIELDS: readonly EditorField[] = FIELDS.flatMap((d): EditorField[] => d.state === 'refused' ? [] : [{
  name: d.name,
  in: d.in,
  group: sectionOf(d),
  doc: d.doc,
  state: d.state,
  ...(d.reason ? { reason: d.reason } : {}),
  ...(d.outputs ? { outputs: d.outputs } : {}),
  ...(d.block ? { block: d.block } : {}),
  secret: hasRole(d, 'secret'),
  url: hasRole(d, 'url'),
}]);

const CheckBody = z.object({
  query: z.record(z.string(), z.unknown()),
  /** The name of a file the form will upload as the source: checked as the source it will become. */
  upload: z.string().max(255).optional(),
});

const DurationsQuery = z.object({ ids: z.string().regex(/^\d{1,12}(,\d{1,12}){0,99}$/) });

export function registerFormApi(app: FastifyInstance, { guard, check, uploadTarget, db }: FormApiOptions): void {
  /** The media list's duration column: each listed media's source seconds, once probed. */
  app.get('/api/durations', async (request, reply) => {
    const session = guard(request, reply);
    if (!session) return reply;
    const q = DurationsQuery.safeParse(request.query);
    if (!q.success) return reply.code(400).send({ error: 'give ids=1,2,3 (at most 100 media ids)' });
    const found = await sourceDurations(db, session.user.id, q.data.ids.split(',').map(Number));
    return { durations: Object.fromEntries(found) };
  });

  app.get('/api/fields', async (request, reply) => {
    if (!guard(request, reply)) return reply;
    return { outputs: SUPPORTED_OUTPUTS, fields: EDITOR_FIELDS };
  });

  app.post('/api/check', async (request, reply) => {
    const session = guard(request, reply);
    if (!session) return reply;
    const body = CheckBody.safeParse(request.body);
    if (!body.success) return reply.code(400).send({ error: 'send {"query": {...}} as JSON' });
    const { userid: _id, userkey: _key, ...rest } = body.data.query;
    const query: FieldMap = { ...(rest as FieldMap), userid: session.user.id, userkey: session.user.key };
    if (body.data.upload !== undefined) {
      try {
        query.source = uploadTarget(session, body.data.upload);
      } catch {
        return reply.code(400).send({ error: 'this server has no folder to upload into' });
      }
    }
    return reply.type('application/json; charset=utf-8').send(await check(query));
  });
}
