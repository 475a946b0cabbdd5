import dns from 'node:dns';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { isInsideFolder as isInside, permittedPath } from '../domain/file-roots.ts';
import { EncoderyError } from '../domain/errors.ts';

// ---------------------------------------------------------------- file roots

/** Thrown (and mapped to a TransferError by the caller) when a path escapes the roots. */
export class OutsideRootsError extends EncoderyError {
  readonly code = 'ENCODERY_OUTSIDE_ROOTS';

  constructor() {
    super('outside the allowed file roots');
    this.name = 'OutsideRootsError';
  }
}

async function realRoots(roots: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const root of roots) {
    try {
      out.push(await fs.realpath(path.resolve(root)));
    } catch {
      // a root that does not exist (yet) grants nothing
    }
  }
  return out;
}

/** Below one of the roots, and not a root itself. */
export function strictlyInside(roots: readonly string[], target: string): boolean {
  const t = path.resolve(target);
  return roots.some((r) => isInside(path.resolve(r), t) && path.resolve(r) !== t);
}

/**
 * The lexical check runs first so nothing outside the roots is ever probed on disk
 * (an error must not tell whether an outside path exists).
 */
export function lexicallyInside(roots: readonly string[], target: string, denied: readonly string[] = []): boolean {
  return permittedPath(roots.map((r) => path.resolve(r)), denied.map((d) => path.resolve(d)), path.resolve(target));
}

/** Real paths of the denied folders; one that does not exist is kept as given (it denies nothing real yet). */
async function realDenied(denied: readonly string[]): Promise<string[]> {
  return Promise.all(denied.map((d) => fs.realpath(path.resolve(d)).catch(() => path.resolve(d))));
}

/**
 * Real path of an existing file inside the roots and outside the denied folders, symlinks
 * resolved; throws OutsideRootsError or ENOENT.
 */
export async function resolveReadPath(roots: readonly string[], filePath: string, denied: readonly string[] = []): Promise<string> {
  const target = path.resolve(filePath);
  if (!lexicallyInside(roots, target, denied)) throw new OutsideRootsError();
  const real = await fs.realpath(target);
  if (!permittedPath(await realRoots(roots), await realDenied(denied), real)) throw new OutsideRootsError();
  return real;
}

/**
 * Directory to write `filePath` into, created if needed, with its real path checked against
 * the roots before creating anything (nearest existing ancestor) and again afterwards, so a
 * symlinked directory cannot redirect the write.
 */
export async function prepareWriteDir(roots: readonly string[], filePath: string, denied: readonly string[] = []): Promise<string> {
  const target = path.resolve(filePath);
  if (!lexicallyInside(roots, target, denied)) throw new OutsideRootsError();
  const allowed = await realRoots(roots);
  const deniedReal = await realDenied(denied);
  const dir = path.dirname(target);
  let existing = dir;
  for (;;) {
    try {
      const real = await fs.realpath(existing);
      if (!permittedPath(allowed, deniedReal, real)) throw new OutsideRootsError();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const parent = path.dirname(existing);
      if (parent === existing) throw new OutsideRootsError();
      existing = parent;
    }
  }
  await fs.mkdir(dir, { recursive: true });
  const realDir = await fs.realpath(dir);
  if (!permittedPath(allowed, deniedReal, realDir)) throw new OutsideRootsError();
  return realDir;
}

// ---------------------------------------------------------------- network

export class ForbiddenAddressError extends EncoderyError {
  readonly code = 'ENCODERY_FORBIDDEN_ADDRESS';
  constructor(readonly host: string) {
    super(`${host} resolves to a private or reserved network address, which is not allowed`);
    this.name = 'ForbiddenAddressError';
  }
}

/** Only globally routable unicast passes; IPv4 embedded in IPv6 is judged as the IPv4 it carries. */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6') {
    const v6 = ip as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) ip = v6.toIPv4Address();
    // ::/96 (IPv4-compatible, deprecated) is reported as unicast by ipaddr.js
    else if (v6.parts.slice(0, 6).every((p) => p === 0)) return false;
  }
  return ip.range() === 'unicast';
}

/**
 * Without DNS: does this URL name a non-public address outright (an IP literal or localhost)?
 * Lets a request be refused at once; names that resolve to such addresses are refused at connect.
 */
export function namesPrivateAddress(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  return ipaddr.isValid(host) && !(policyOverride ?? isPublicAddress)(host);
}

type AddressPolicy = (address: string) => boolean;
let policyOverride: AddressPolicy | null = null;

/** Tests only: every test server is on loopback, so they declare which addresses count as public. */
export function __setAddressPolicyForTests(policy: AddressPolicy | null): void {
  policyOverride = policy;
  for (const agent of nodeAgents.values()) agent.destroy();
  nodeAgents.clear();
}

export function isAllowedAddress(address: string, allowPrivateNetwork: boolean): boolean {
  if (allowPrivateNetwork) return true;
  return (policyOverride ?? isPublicAddress)(address);
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | dns.LookupAddress[],
  family?: number,
) => void;

// Validating inside the socket's own lookup means the address checked is the address
// connected to: a second DNS answer (rebinding) cannot slip past.
export function guardedLookup(hostname: string, options: dns.LookupOptions, callback: LookupCallback): void {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    if (addresses.length === 0 || addresses.some((a) => !isAllowedAddress(a.address, false))) {
      return callback(new ForbiddenAddressError(hostname) as unknown as NodeJS.ErrnoException, []);
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0]!;
    callback(null, first.address, first.family);
  });
}

const nodeAgents = new Map<string, http.Agent>();

function createNodeAgent(protocol: string, keepAlive: boolean, guarded: boolean): http.Agent {
  const options = guarded ? { keepAlive, lookup: guardedLookup as unknown as net.LookupFunction } : { keepAlive };
  const agent = protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
  if (!guarded) return agent;
  const connect = agent.createConnection.bind(agent) as (o: net.NetConnectOpts & { host?: string }, cb: unknown) => unknown;
  (agent as unknown as { createConnection: typeof connect }).createConnection = (opts, cb) => {
    // Literal IPs never reach lookup (net.connect skips it), so they are checked here.
    const host = (opts.host ?? '').replace(/^\[(.*)\]$/, '$1');
    if (net.isIP(host) !== 0 && !isAllowedAddress(host, false)) {
      // Node's Agent takes an error through the callback when no socket is returned.
      process.nextTick(cb as (err: Error) => void, new ForbiddenAddressError(host));
      return undefined;
    }
    return connect(opts, cb);
  };
  return agent;
}

function cachedAgent(protocol: string, keepAlive: boolean, guarded: boolean): http.Agent {
  const key = `${protocol}|${keepAlive}|${guarded}`;
  let agent = nodeAgents.get(key);
  if (!agent) {
    agent = createNodeAgent(protocol, keepAlive, guarded);
    nodeAgents.set(key, agent);
  }
  return agent;
}

/**
 * The same rule for SDKs built on node:http (the Azure SDK): a keep-alive Agent for `protocol`
 * whose connections resolve through the guarded lookup, literal IPs checked before connecting.
 */
export function guardedNodeAgent(protocol: string): http.Agent {
  return cachedAgent(protocol, true, true);
}

/**
 * The Agent of Encodery's own HTTP requests (http-client.ts): guarded unless private networks
 * are allowed. One connection per request: an origin may close an idle connection at any time,
 * and a transfer that reused it would fail for nothing.
 */
export function transferAgent(protocol: string, allowPrivateNetwork: boolean): http.Agent {
  return cachedAgent(protocol, false, !allowPrivateNetwork);
}
