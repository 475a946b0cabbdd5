import { PostgresAdapter, sql, type ColumnDataType, type ColumnDefinitionBuilder, type Expression, type Kysely, type Migration, type MigrationProvider } from 'kysely';

type DataTypeExpression = ColumnDataType | Expression<unknown>;

/**
 * The same migrations build the SQLite and the PostgreSQL store; the few column types that
 * differ are named here. On SQLite they are exactly what the first SQLite stores were built with.
 */
interface Types {
  /** Row ids: SQLite's rowid alias; on PostgreSQL an identity column (a sequence, so ids stay numeric and unique across API nodes). */
  id: (col: ColumnDefinitionBuilder) => ColumnDefinitionBuilder;
  /** Text compared and sorted byte by byte, as SQLite does, whatever the PostgreSQL database's locale. */
  text: DataTypeExpression;
  /** An 8-byte float: SQLite's REAL; PostgreSQL's `real` would be 4 bytes. */
  real: DataTypeExpression;
}

function typesFor(db: Kysely<any>): Types {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    return { id: (col) => col.primaryKey().generatedByDefaultAsIdentity(), text: sql`text collate "C"`, real: 'double precision' };
  }
  return { id: (col) => col.primaryKey().autoIncrement(), text: 'text', real: 'real' };
}

/** Frozen in time: migrations take Kysely<any> and never import application code. */
const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<any>) {
      const { id, text, real } = typesFor(db);
      await db.schema
        .createTable('media')
        .addColumn('id', 'integer', id)
        .addColumn('user_id', text, (c) => c.notNull())
        .addColumn('status', text, (c) => c.notNull())
        .addColumn('prev_status', text)
        .addColumn('sources', text, (c) => c.notNull())
        .addColumn('options', text, (c) => c.notNull())
        .addColumn('notify_url', text)
        .addColumn('benchmark', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('deleted', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('description', text)
        .addColumn('version', text, (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('started_at', 'bigint')
        .addColumn('finished_at', 'bigint')
        .addColumn('downloaded_at', 'bigint')
        .addColumn('uploaded_at', 'bigint')
        .addColumn('progress', real, (c) => c.notNull().defaultTo(0))
        .addColumn('progress_current', real, (c) => c.notNull().defaultTo(0))
        .addColumn('time_left', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('time_left_current', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('probe', text)
        .addColumn('source_bytes', 'bigint')
        .execute();
      await db.schema.createIndex('media_user_idx').on('media').columns(['user_id', 'deleted', 'id']).execute();
      await db.schema.createIndex('media_status_idx').on('media').columns(['status']).execute();

      await db.schema
        .createTable('task')
        .addColumn('id', 'integer', id)
        .addColumn('media_id', 'integer', (c) => c.notNull().references('media.id').onDelete('cascade'))
        .addColumn('position', 'integer', (c) => c.notNull())
        .addColumn('output', text, (c) => c.notNull())
        .addColumn('format', text, (c) => c.notNull())
        .addColumn('status', text, (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('started_at', 'bigint')
        .addColumn('finished_at', 'bigint')
        .addColumn('progress', real, (c) => c.notNull().defaultTo(0))
        .addColumn('time_left', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('converted_size', 'bigint')
        .addColumn('description', text)
        .addColumn('command', text)
        .addColumn('cpu_sec', real)
        .addColumn('speed', real)
        .addColumn('outputs', text)
        .addColumn('download_token', text)
        .execute();
      await db.schema.createIndex('task_media_idx').on('task').columns(['media_id', 'position']).execute();
      await db.schema.createIndex('task_token_idx').on('task').columns(['download_token']).execute();

      await db.schema
        .createTable('destination')
        .addColumn('id', 'integer', id)
        .addColumn('task_id', 'integer', (c) => c.notNull().references('task.id').onDelete('cascade'))
        .addColumn('position', 'integer', (c) => c.notNull())
        .addColumn('url', text, (c) => c.notNull())
        .addColumn('status', text, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('destination_task_idx').on('destination').columns(['task_id', 'position']).execute();

      await db.schema
        .createTable('task_log')
        .addColumn('id', 'integer', id)
        .addColumn('task_id', 'integer', (c) => c.notNull().references('task.id').onDelete('cascade'))
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('message', text, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('task_log_task_idx').on('task_log').columns(['task_id', 'id']).execute();

      await db.schema
        .createTable('notification')
        .addColumn('id', 'integer', id)
        .addColumn('media_id', 'integer', (c) => c.notNull())
        .addColumn('kind', text, (c) => c.notNull())
        .addColumn('url', text, (c) => c.notNull())
        .addColumn('format', text, (c) => c.notNull())
        .addColumn('body_format', text, (c) => c.notNull())
        .addColumn('document', text, (c) => c.notNull())
        .addColumn('state', text, (c) => c.notNull())
        .addColumn('attempts', text, (c) => c.notNull())
        .addColumn('next_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('notification_state_idx').on('notification').columns(['state', 'next_at']).execute();
    },
  },
  '0002_presets': {
    async up(db: Kysely<any>) {
      const { id, text } = typesFor(db);
      await db.schema
        .createTable('preset')
        .addColumn('id', 'integer', id)
        .addColumn('user_id', text, (c) => c.notNull())
        .addColumn('name', text, (c) => c.notNull())
        .addColumn('output', text, (c) => c.notNull())
        .addColumn('format', text, (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('preset_user_name_key', ['user_id', 'name'])
        .execute();
    },
  },
  '0003_notification_attempts': {
    async up(db: Kysely<any>) {
      const { id, text } = typesFor(db);
      // notify_upload notifications belong to one task and destination; GetStatus lists them there.
      await db.schema.alterTable('notification').addColumn('task_id', 'integer').execute();
      await db.schema.alterTable('notification').addColumn('destination_id', 'integer').execute();
      await db.schema
        .createTable('notification_attempt')
        .addColumn('id', 'integer', id)
        .addColumn('notification_id', 'integer', (c) => c.notNull().references('notification.id').onDelete('cascade'))
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('http_status', 'integer')
        .addColumn('error', text)
        .addColumn('duration_ms', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('notification_attempt_idx').on('notification_attempt').columns(['notification_id', 'id']).execute();
      await db.schema.createIndex('notification_media_idx').on('notification').columns(['media_id', 'id']).execute();
      // The attempts kept so far as JSON on each row move to their own rows, in order.
      const rows = await db.selectFrom('notification').select(['id', 'attempts']).execute();
      for (const row of rows as { id: number; attempts: string }[]) {
        let list: { at?: string; status?: number | null; durationMs?: number; error?: string | null }[] = [];
        try {
          list = JSON.parse(row.attempts) as typeof list;
        } catch {
          // an unreadable history is dropped, not fatal
        }
        for (const a of Array.isArray(list) ? list : []) {
          const at = Date.parse(String(a.at ?? ''));
          await db
            .insertInto('notification_attempt')
            .values({
              notification_id: row.id,
              at: Number.isFinite(at) ? at : 0,
              http_status: typeof a.status === 'number' ? a.status : null,
              error: typeof a.error === 'string' ? a.error : null,
              duration_ms: typeof a.durationMs === 'number' ? Math.round(a.durationMs) : 0,
            })
            .execute();
        }
      }
      await db.schema.alterTable('notification').dropColumn('attempts').execute();
    },
  },
  '0004_notification_claims': {
    async up(db: Kysely<any>) {
      const { text } = typesFor(db);
      // Several nodes deliver from one outbox: a node sends only what it has claimed, until
      // claimed_until; a node that dies mid-send leaves a claim that expires.
      await db.schema.alterTable('notification').addColumn('claimed_by', text).execute();
      await db.schema.alterTable('notification').addColumn('claimed_until', 'bigint').execute();
    },
  },
  '0005_qc_children': {
    async up(db: Kysely<any>) {
      const { text } = typesFor(db);
      // A QC child media checks one output task of its parent; both ids stay after the parent
      // is restarted, so a child's history keeps naming what it checked.
      await db.schema.alterTable('media').addColumn('parent_media_id', 'integer').execute();
      await db.schema.alterTable('media').addColumn('parent_task_id', 'integer').execute();
      // All three equality columns of the lookup: with only parent_media_id, SQLite's planner (no
      // statistics) prefers media_user_idx and scans every media of the user on each GetStatus.
      await db.schema.createIndex('media_parent_idx').on('media').columns(['parent_media_id', 'user_id', 'deleted', 'id']).execute();
      // The child's QC report (checks and metrics), JSON.
      await db.schema.alterTable('task').addColumn('qc_report', text).execute();
    },
  },
  '0006_task_quality': {
    async up(db: Kysely<any>) {
      const { text } = typesFor(db);
      // The quality report of an encoded output, stored as JSON so GetStatus only reads it.
      await db.schema.alterTable('task').addColumn('quality', text).execute();
    },
  },
  '0007_media_lease': {
    async up(db: Kysely<any>) {
      const { text } = typesFor(db);
      // The worker running a media holds it here too, renewing lease_until while it runs: the
      // queue's lock lives in Redis and is lost with it, this one says who really has the media.
      await db.schema.alterTable('media').addColumn('worker_id', text).execute();
      await db.schema.alterTable('media').addColumn('lease_until', 'bigint').execute();
    },
  },
  '0008_task_progress_current': {
    async up(db: Kysely<any>) {
      const { real } = typesFor(db);
      // A task's figures for its current status (reference 3.4), beside those of its whole run.
      await db.schema.alterTable('task').addColumn('progress_current', real, (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('task').addColumn('time_left_current', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    },
  },
  '0009_media_change': {
    async up(db: Kysely<any>) {
      const { id } = typesFor(db);
      // A change feed for the dashboard's live updates: every write that changes what a media
      // shows appends its id here, whichever process made it (a cluster's workers write the
      // store, the API nodes only read it). Triggers do the appending, so no writer can forget;
      // readers follow `seq` as a cursor (store/changes.ts). Inserts only: no lock on the media row.
      await db.schema
        .createTable('media_change')
        .addColumn('seq', 'integer', id)
        .addColumn('media_id', 'integer', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('media_change_at_idx').on('media_change').columns(['at']).execute();
      // Every media column but the lease, which a worker renews every few seconds without changing anything shown.
      const shown = ['status', 'prev_status', 'sources', 'options', 'notify_url', 'deleted', 'description', 'version', 'started_at', 'finished_at',
        'downloaded_at', 'uploaded_at', 'progress', 'progress_current', 'time_left', 'time_left_current', 'probe', 'source_bytes'];
      if (db.getExecutor().adapter instanceof PostgresAdapter) {
        // `SET search_path FROM CURRENT`: the tables are found in this schema whatever the writer's connection says.
        await sql`create function media_change_append() returns trigger language plpgsql set search_path from current as $$
          declare changed bigint;
          begin
            if tg_table_name = 'media' then changed := new.id;
            elsif tg_table_name = 'task' then changed := new.media_id;
            else select media_id into changed from task where id = new.task_id;
            end if;
            insert into media_change (media_id, at) values (changed, (extract(epoch from clock_timestamp()) * 1000)::bigint);
            return null;
          end $$`.execute(db);
        const differs = sql.raw(shown.map((c) => `old.${c} is distinct from new.${c}`).join(' or '));
        await sql`create trigger media_change_media_insert after insert on media for each row execute function media_change_append()`.execute(db);
        await sql`create trigger media_change_media_update after update on media for each row when (${differs}) execute function media_change_append()`.execute(db);
        await sql`create trigger media_change_task after insert or update on task for each row execute function media_change_append()`.execute(db);
        await sql`create trigger media_change_destination after update on destination for each row execute function media_change_append()`.execute(db);
        return;
      }
      const now = sql.raw(`cast((julianday('now') - 2440587.5) * 86400000 as integer)`);
      const differs = sql.raw(shown.map((c) => `old.${c} is not new.${c}`).join(' or '));
      await sql`create trigger media_change_media_insert after insert on media begin insert into media_change (media_id, at) values (new.id, ${now}); end`.execute(db);
      await sql`create trigger media_change_media_update after update on media when ${differs} begin insert into media_change (media_id, at) values (new.id, ${now}); end`.execute(db);
      await sql`create trigger media_change_task_insert after insert on task begin insert into media_change (media_id, at) values (new.media_id, ${now}); end`.execute(db);
      await sql`create trigger media_change_task_update after update on task begin insert into media_change (media_id, at) values (new.media_id, ${now}); end`.execute(db);
      await sql`create trigger media_change_destination after update on destination begin
        insert into media_change (media_id, at) select media_id, ${now} from task where id = new.task_id; end`.execute(db);
    },
  },
  '0010_idempotency_key': {
    async up(db: Kysely<any>) {
      const { text } = typesFor(db);
      // AddMedia's idempotency_key: a retried request answers the media the first one added. The
      // primary key is what makes two concurrent retries add one media, on either store.
      await db.schema
        .createTable('idempotency_key')
        .addColumn('user_id', text, (c) => c.notNull())
        .addColumn('key', text, (c) => c.notNull())
        .addColumn('request_hash', text, (c) => c.notNull())
        .addColumn('media_id', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_key_pk', ['user_id', 'key'])
        .execute();
    },
  },
  '0011_media_change_by_media': {
    async up(db: Kysely<any>) {
      // GetStatus reads a media's newest change on every request to know whether its cached
      // reply still holds (store/changes.ts mediaVersion): one index seek, not a scan of the feed.
      await db.schema.createIndex('media_change_media_idx').on('media_change').columns(['media_id', 'seq']).execute();
    },
  },
  '0012_output_cache': {
    async up(db: Kysely<any>) {
      const { text } = typesFor(db);
      // The output cache's index (pipeline/cache/): in the store, so every node of a cluster
      // finds what any node encoded. A row is written only once its files are all in place.
      await db.schema
        .createTable('output_cache')
        .addColumn('key', text, (c) => c.primaryKey())
        .addColumn('user_id', text, (c) => c.notNull())
        .addColumn('folder', text, (c) => c.notNull())
        .addColumn('bytes', 'bigint', (c) => c.notNull())
        .addColumn('entry', text, (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('used_at', 'bigint', (c) => c.notNull())
        .addColumn('reading_until', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex('output_cache_used_idx').on('output_cache').columns(['used_at']).execute();
      await db.schema.alterTable('task').addColumn('cache_key', text).execute();
      await db.schema.alterTable('task').addColumn('cache_state', text).execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
