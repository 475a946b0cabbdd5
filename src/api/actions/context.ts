import type { Logger } from 'pino';
import type { Config, User } from '../../config.ts';
import type { Db } from '../../store/db.ts';
import type { MediaQueue } from '../../queue/types.ts';
import type { FieldMap } from '../../domain/fields.ts';
import type { WireObject } from '../wire/render.ts';
import type { Lifecycle } from '../../store/lifecycle.ts';
import type { StatusCache } from './status-cache.ts';
import type { SharedStorage } from '../../storage/shared-storage.ts';
import type { FileRootsOf } from '../../domain/file-roots.ts';

export interface Services {
  config: Config;
  db: Db;
  queue: MediaQueue;
  /** Every status change the API makes goes through it. */
  lifecycle: Lifecycle;
  log: Logger;
  /** Base URL for links to outputs kept by this server (ENCODERY_PUBLIC_URL or the listen address). */
  publicUrl(): string;
  statusCache: StatusCache;
  /** ENCODERY_STORAGE_URL: where kept outputs live; null or absent: the data dir. */
  storage?: SharedStorage | null;
  /** Each user's file:// folders (domain/file-roots.ts). */
  fileRoots: FileRootsOf;
}

export interface ActionContext extends Services {
  user: User;
  query: FieldMap;
}

export type Action = (ctx: ActionContext) => Promise<WireObject>;
