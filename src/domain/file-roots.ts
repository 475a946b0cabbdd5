import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where one user's `file://` URLs may point: sources read in place or copied, destinations,
 * logos, overlays, fonts, captions, QC originals and dashboard uploads all go through this.
 */
export interface UserFileRoots {
  /** Read and written by this user alone: the roots themselves in a one-user install, `<root>/<userid>` with more users. */
  readonly own: readonly string[];
  /** ENCODERY_SHARED_FILE_ROOTS: every user may read them, nobody writes there through Encodery. */
  readonly shared: readonly string[];
  /**
   * Never reached through `file://`, even below a root: the data dir (kept outputs, every user's
   * scratch, the store) and a file:// shared storage. A root lying inside one of them (the
   * default `<data dir>/files`) still grants what lies below it.
   */
  readonly denied: readonly string[];
}

export interface FileRootSettings {
  fileRoots: readonly string[];
  sharedFileRoots: readonly string[];
  dataDir: string;
  storageUrl: string | null;
}

export type FileRootsOf = (userId: string) => UserFileRoots;

const FOLDER_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The one rule for every user's file roots. With a single user the roots are used as they are
 * (today's simple paths); with several, each user gets a folder of their own under each root.
 * Decided from the users known at start: adding a second user moves the first one's folder.
 */
export function fileRootsFor(settings: FileRootSettings, userIds: readonly string[]): FileRootsOf {
  const perUser = new Set(userIds).size > 1;
  for (const id of userIds) {
    if (perUser && !FOLDER_NAME.test(id)) throw new Error(`user id ${JSON.stringify(id.slice(0, 40))} cannot name a file folder (letters, digits, - and _)`);
  }
  const denied = [path.resolve(settings.dataDir)];
  if (settings.storageUrl?.startsWith('file:')) denied.push(path.resolve(fileURLToPath(settings.storageUrl)));
  const shared = settings.sharedFileRoots.map((r) => path.resolve(r));
  const cache = new Map<string, UserFileRoots>();
  return (userId) => {
    let roots = cache.get(userId);
    if (!roots) {
      if (perUser && !FOLDER_NAME.test(userId)) throw new Error('the user id cannot name a file folder');
      const own = settings.fileRoots.map((r) => (perUser ? path.join(path.resolve(r), userId) : path.resolve(r)));
      roots = Object.freeze({ own, shared, denied });
      cache.set(userId, roots);
    }
    return roots;
  };
}

/** Lexically inside `root` (or the root itself). */
export function isInsideFolder(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * Inside one of `roots` and not inside a denied folder, unless through a root that itself lies
 * strictly inside that denied folder (the default root `<data dir>/files`). Paths are compared
 * as given: callers pass real paths (or resolved ones for a check without I/O).
 */
export function permittedPath(roots: readonly string[], denied: readonly string[], target: string): boolean {
  if (!roots.some((r) => isInsideFolder(r, target))) return false;
  return !denied.some(
    (d) => isInsideFolder(d, target) && !roots.some((r) => r !== d && isInsideFolder(d, r) && isInsideFolder(r, target)),
  );
}
