import path from 'node:path';
import fs from 'node:fs';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, PostgresAdapter, PostgresDialect, SqliteDialect, sql, type SqliteDatabase, type SqliteStatement } from 'kysely';
import type { Database } from './schema.ts';
import { migrationProvider } from './migrations.ts';
import { retryWhileUnavailable, type RetryOptions } from './faults.ts';
import { EncoderyError } from '../domain/errors.ts';

export type Db = Kysely<Database>;

/** Where the store lives: PostgreSQL when a URL is given, else SQLite in the data dir. */
export interface StoreConfig {
  dataDir: string;
  databaseUrl: string | null;
}

/** Opens the store the config names and brings its schema up to date; `db.destroy()` closes it. */
export async function openStore(config: StoreConfig): Promise<Db> {
  const store = createStore(config);
  try {
    await store.prepare();
  } catch (err) {
    await store.db.destroy().catch(() => {});
    throw err;
  }
  return store.db;
}

/** A store handle made without touching the database, and the start-up work that readies it. */
export interface Store {
  db: Db;
  /**
   * Brings the schema up to date. With `wait`, a store that cannot be reached (PostgreSQL down,
   * restarting, failing over) is tried again until it answers; any other failure ends it.
   */
  prepare(wait?: RetryOptions): Promise<void>;
}

/** A handle on the store the config names; nothing is read or written until it is used. */
export function createStore(config: StoreConfig): Store {
  if (!config.databaseUrl) {
    const db = sqliteDb(config.dataDir);
    return { db, prepare: () => migrate(db) };
  }
  const url = config.databaseUrl;
  const db = postgresDb(url);
  return {
    db,
    async prepare(wait) {
      try {
        await (wait ? retryWhileUnavailable(() => migrate(db), wait) : migrate(db));
      } catch (err) {
        const where = new URL(url);
        throw new StoreError(`cannot open the PostgreSQL store at ${where.host}${where.pathname} (ENCODERY_DATABASE_URL): ${(err as Error).message}`, { cause: err });
      }
    },
  };
}

/** What the health checks (/healthz, a worker's health port) ask about the store. */
export interface StoreHealth {
  /** Start-up is done with the store (its schema is up to date); until then requests are refused. */
  ready(): boolean;
  /** Ready, and answering a query now. */
  healthy(): Promise<boolean>;
}

/** Whether the store answers a trivial query within `timeoutMs`: the health checks' view of it. */
export async function storeAnswers(db: Db, timeoutMs = 2000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  // The query itself cannot be cancelled; the pool's connection timeout bounds how long it lingers.
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    return await Promise.race([sql`select 1`.execute(db).then(() => true as const), late]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Opens (creating if needed) the embedded SQLite store and brings its schema up to date. */
export async function openSqlite(dataDir: string): Promise<Db> {
  const db = sqliteDb(dataDir);
  await migrate(db);
  return db;
}

/** The SQLite connection under each SQLite store, for the few reads too hot for Kysely (store/ only). */
const sqliteConnections = new WeakMap<Db, SQLite.Database>();

/**
 * The raw SQLite connection of a SQLite store (undefined for PostgreSQL). It is the very
 * connection Kysely uses, outside Kysely's lock: a read through it may see the writes of a
 * transaction still open in this process, so only a read that tolerates that may use it.
 */
export function sqliteConnection(db: Db): SQLite.Database | undefined {
  return sqliteConnections.get(db);
}

/** What else goes when a SQLite store's connection is closed (readers of its own that a module keeps). */
const closers = new WeakMap<SQLite.Database, (() => void)[]>();

/** Closes `other` when the store whose connection is `store` is closed. */
export function closeWithStore(store: SQLite.Database, other: SQLite.Database): void {
  const list = closers.get(store) ?? [];
  list.push(() => other.close());
  closers.set(store, list);
}

function sqliteDb(dataDir: string): Db {
  fs.mkdirSync(dataDir, { recursive: true });
  const database = new SQLite(path.join(dataDir, 'encodery.sqlite'));
  // WAL lets GetStatus read while a worker writes progress; NORMAL sync is durable across a
  // process crash (what the kill-and-restart guarantee needs) without an fsync per write.
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) });
  sqliteConnections.set(db, database);
  return db;
}

/** Connections each API or worker process keeps open to PostgreSQL at most. */
const POOL_SIZE = 10;

/**
 * int8 (bigint) columns hold epoch-millisecond times, sizes, ids and counts; node-postgres hands
 * them over as strings because they may exceed 2^53. Ours never do, and the rest of the code
 * (and the SQLite store) works with numbers, so this pool parses them as numbers.
 */
const INT8_OID = 20;
function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`a bigint column holds ${text}, beyond what a JavaScript number keeps exactly`);
  return n;
}
const pgTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

/** The store could not be opened; the message names where, without credentials, and why. */
export class StoreError extends EncoderyError {
  override name = 'StoreError';
  readonly code = 'ENCODERY_STORE_OPEN_FAILED';
}

/** How long opening a connection may take: a database that does not answer fails the query, never hangs it. */
const CONNECT_TIMEOUT_MS = 5000;

function postgresDb(url: string): Db {
  // The type parser is given to this pool only: no process-wide pg.types change.
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE, types: pgTypes, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, keepAlive: true });
  // A connection the server drops (a restart, a failover, a reset) must not take the process
  // down. pg-pool listens for errors on idle clients only; a client in use emits 'error' as
  // well as failing its query, and with no listener that event is fatal. The query's own error
  // reaches its caller, and pg-pool discards the broken client when it is released.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** Whether a Kysely instance talks to PostgreSQL (migrations pick portable column types by it). */
export function isPostgres(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/**
 * Several API nodes may start at once against one PostgreSQL: Kysely's Migrator serialises
 * them with an advisory lock and runs each migration in a transaction, so only one applies it.
 */
export async function migrate(db: Db): Promise<void> {
  // The Migrator looks for its own tables in every schema unless told which one: name the
  // schema this connection works in, so another schema's migration table is never taken for ours.
  const migrationTableSchema = isPostgres(db)
    ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema
    : undefined;
  const { error, results } = await new Migrator({ db, provider: migrationProvider, migrationTableSchema }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? error}`, { cause: error });
  }
}

const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely prepares every query afresh; preparing costs more than running the small queries of
 * GetStatus. The SQL text of a query shape is stable, so its prepared statement is kept.
 */
function withStatementCache(database: SQLite.Database): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => {
      for (const close of closers.get(database) ?? []) close();
      database.close();
    },
    prepare(sql: string): SqliteStatement {
      let stmt = cache.get(sql);
      if (!stmt) {
        stmt = database.prepare(sql) as unknown as SqliteStatement;
        // Queries with IN lists of varying length make one-off shapes; keep the cache bounded.
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
        cache.set(sql, stmt);
      }
      return stmt;
    },
  };
}
