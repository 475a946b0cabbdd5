/**
 * Formats, presets and media options stored before secret fields were sealed (issue 17) keep
 * them in clear; an API process seals them once at start. Rows are picked by a text match on the
 * secret field names that skips sealed values, so a start with nothing left to seal parses no JSON.
 */
import { sql } from 'kysely';
import type { Db } from './db.ts';
import { namesWithRole } from '../domain/field-registry.ts';
import type { FieldMap } from '../domain/fields.ts';
import { hasClearSecrets, sealSecrets, type SealingKey } from '../domain/sealed.ts';

const COLUMNS = [
  { table: 'task', column: 'format' },
  { table: 'preset', column: 'format' },
  { table: 'media', column: 'options' },
] as const;

/** How many rows of each table had clear secrets sealed. */
export async function sealClearSecrets(db: Db, key: SealingKey): Promise<Record<(typeof COLUMNS)[number]['table'], number>> {
  const names = namesWithRole('secret');
  const counts = { task: 0, preset: 0, media: 0 };
  for (const { table, column } of COLUMNS) {
    const col = sql.ref(column);
    // JSON.stringify wrote every stored value: `"name":"value"`, or `"name":["value"]` from a
    // client that sent a list; lower() as PostgreSQL's LIKE heeds case.
    const clear = names.flatMap((n) => [`"${n}":"`, `"${n}":["`].map((opening) =>
      sql`(lower(${col}) like ${`%${opening}%`} and lower(${col}) not like ${`%${opening}encodery-sealed:%`})`));
    const rows = (await sql<{ id: number; text: string }>`select id, ${col} as text from ${sql.table(table)} where ${sql.join(clear, sql` or `)}`.execute(db)).rows;
    for (const row of rows) {
      const fields = JSON.parse(row.text) as FieldMap;
      if (!hasClearSecrets(fields)) continue;
      await sql`update ${sql.table(table)} set ${col} = ${JSON.stringify(sealSecrets(fields, key))} where id = ${row.id} and ${col} = ${row.text}`.execute(db);
      counts[table]++;
    }
  }
  return counts;
}
