import type { Config } from '../config.ts';
import type { UserFileRoots } from '../domain/file-roots.ts';
import { SCHEME_SETTING_KEYS, type SchemeSettings } from './settings.ts';
import type { PaceLimits, TransferContext, TransferReport } from './types.ts';

/** What a transfer takes from configuration. */
export type TransferSettings = SchemeSettings &
  Pick<Config, 'allowPrivateNetwork' | 'maxSourceBytes' | 'transferMinBytesPerSecond' | 'transferWindowSeconds' | 'transferDeadlineSeconds'>;

/** Who a transfer acts for and what watches it; everything else comes from configuration. */
export interface TransferScope {
  /** The user's file:// folders (domain/file-roots.ts); absent or null: file:// reaches nothing. */
  roots?: UserFileRoots | null;
  /**
   * The transfer reaches storage the operator configured (ENCODERY_STORAGE_URL), not a URL a
   * user sent: its host is trusted even on a private network, and no source size limit applies.
   */
  configured?: boolean;
  signal?: AbortSignal;
  debug?: (message: string) => void;
  report?: (t: TransferReport) => void;
}

/** The pace limits of ENCODERY_TRANSFER_MIN_BYTES_PER_SECOND, _WINDOW_SECONDS and _DEADLINE_SECONDS. */
function transferPace(c: Pick<TransferSettings, 'transferMinBytesPerSecond' | 'transferWindowSeconds' | 'transferDeadlineSeconds'>): PaceLimits {
  return { minBytesPerSecond: c.transferMinBytesPerSecond, windowSeconds: c.transferWindowSeconds, deadlineSeconds: c.transferDeadlineSeconds };
}

/** The one way Encodery's own code builds a TransferContext, so that every transfer sees every setting. */
export function transferContext(config: TransferSettings, scope: TransferScope = {}): TransferContext {
  const schemes = Object.fromEntries(SCHEME_SETTING_KEYS.map((key) => [key, config[key]])) as SchemeSettings;
  return {
    ...schemes,
    fileRoots: scope.roots?.own ?? [],
    sharedFileRoots: scope.roots?.shared ?? [],
    deniedFileRoots: scope.roots?.denied ?? [],
    allowPrivateNetwork: scope.configured ? true : config.allowPrivateNetwork,
    ...(scope.configured ? {} : { maxSourceBytes: config.maxSourceBytes }),
    pace: transferPace(config),
    ...(scope.signal ? { signal: scope.signal } : {}),
    ...(scope.debug ? { debug: scope.debug } : {}),
    ...(scope.report ? { report: scope.report } : {}),
  };
}
