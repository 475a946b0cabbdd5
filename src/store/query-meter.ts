import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import type { Db } from './db.ts';

const WRITES = new Set<RootOperationNode['kind']>(['InsertQueryNode', 'UpdateQueryNode', 'DeleteQueryNode', 'MergeQueryNode']);

/**
 * Counts the store queries made through a handle it meters, and the wall time they take (side by
 * side queries each count in full). Calls made through another handle (the lifecycle's
 * transactions) are added with {@link QueryMeter.time}.
 */
export class QueryMeter {
  seconds = 0;
  reads = 0;
  writes = 0;
  readonly #startedAt = new WeakMap<object, number>();

  /** The same store, every query counted here. */
  meter(db: Db): Db {
    const plugin: KyselyPlugin = {
      transformQuery: ({ node, queryId }: PluginTransformQueryArgs): RootOperationNode => {
        this.#startedAt.set(queryId, performance.now());
        if (WRITES.has(node.kind)) this.writes++;
        else this.reads++;
        return node;
      },
      transformResult: async ({ result, queryId }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> => {
        const started = this.#startedAt.get(queryId);
        if (started !== undefined) this.seconds += (performance.now() - started) / 1000;
        return result;
      },
    };
    return db.withPlugin(plugin);
  }

  /** Times one write made elsewhere (a transaction of several queries counts as one). */
  async time<T>(work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.seconds += (performance.now() - started) / 1000;
      this.writes++;
    }
  }
}
