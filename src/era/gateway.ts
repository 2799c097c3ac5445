import { randomBytes } from 'node:crypto';
import {
  canAskInput, discoverResult, errorResponse, honouredFilter, inputRequiredResult, INTERNAL_ERROR, INVALID_PARAMS, legacyInitialize,
  legacyRequest, listenAcknowledgment, MAX_DEPTH, nestsDeeper, listenClosed, listenMethods, modernResponse, readInitializeResult, readRequestMeta, readRetry,
  requestSubject, sandboxKey, tagNotification, type Id, type Json, type Message, type RequestMeta, type RpcError, type ServerIdentity,
} from './translate.js';

/** What a legacy server's backend calls with what its server does (a session bridge's backend too). */
export interface LegacyHandlers {
  /**
   * One JSON-RPC message from the server: a line without its newline. Returns false when the
   * client it goes to is not reading: the backend then reads no more of the server's output
   * until `resume()` is called (the server waits; nothing piles up in memory).
   */
  onMessage(line: string): boolean;
  /** The server ended, or its backend ended it, with `message` ("the server exited: code 1"). */
  onEnd(message: string): void;
}

/** One legacy stdio server, as the session bridge and the shim open them. */
export interface LegacyBackend {
  /** Sends one message to the server; the backend adds the newline. */
  send(line: string): void;
  /** Reads the server's output again after onMessage returned false; harmless otherwise. */
  resume(): void;
  /** Stops the server; idempotent. */
  close(): Promise<void>;
}

/** Starts a fresh legacy server; `id` names its sandbox. */
export type OpenLegacy = (handlers: LegacyHandlers, info: { id: string }) => Promise<LegacyBackend>;

/**
 * Where a modern request's messages go: notifications that belong to it, then its one answer.
 * `notify` returns false when the client is not reading; it then calls `resume` once it is
 * (or is gone), and the sandbox's server waits meanwhile instead of mcp-lok buffering.
 */
export interface ModernSink {
  notify(line: string, resume: () => void): boolean;
  answer(line: string): void;
}

export interface GatewayOptions {
  open: OpenLegacy;
  /** Sandboxes at once for one key (one request in flight each); more requests wait for one. */
  maxPerKey?: number;
  /** Sandboxes at once in all. */
  maxSandboxes?: number;
  /** An idle sandbox is stopped after this long. */
  idleMs?: number;
  /** A sandbox held for a client's input (input_required) is stopped after this long without the retry. */
  inputTimeoutMs?: number;
  /**
   * A cancelled request's sandbox takes requests again once its server answered it, or after
   * this long (a server that honours the cancellation sends nothing more for it).
   */
  drainMs?: number;
  log?: (line: string) => void;
  clientInfo?: Json;
}

const INIT_ID = 'mcp-lok-initialize';
/** A server that has not answered initialize this long after its sandbox started is stopped. */
const INIT_TIMEOUT_MS = 60_000;
/** Server-to-client requests a sandbox may have out to its client at once; more are answered with an error. */
const MAX_INPUT_REQUESTS = 16;
const DEFAULTS = { maxPerKey: 4, maxSandboxes: 32, idleMs: 5 * 60_000, inputTimeoutMs: 10 * 60_000, drainMs: 2000 };

interface Exchange {
  method: string;
  modernId: Id;
  legacyId: Id;
  sink: ModernSink | undefined;
  meta: RequestMeta;
  progressToken: string | undefined;
  /** The method and name or uri a requestState is bound to. */
  subject: string;
  /** Counts the request as done when it is cancelled (it gets no answer then). */
  settle: () => void;
}

interface ServerRequest { id: Id; method: string; params: unknown }

interface Parked {
  state: string;
  key: string;
  subject: string;
  slot: Slot;
  timer: NodeJS.Timeout;
}

interface Slot {
  id: string;
  key: string;
  backend: LegacyBackend | undefined;
  server: ServerIdentity | undefined;
  busy: boolean;
  ended: boolean;
  exchange: Exchange | undefined;
  /** Server requests not yet put to the client, in order. */
  waiting: ServerRequest[];
  /** Those put to the client by input key, until the retry answers them. */
  asked: Map<string, ServerRequest>;
  parked: Parked | undefined;
  draining: { id: Id; timer: NodeJS.Timeout } | undefined;
  idleTimer: NodeJS.Timeout | undefined;
  initialized: ((msg: Message) => void) | undefined;
}

/** A listen stream; while its client does not read, list changes are held, the last of each kind (each says only "this list changed"). */
interface Listener { id: Id; methods: Set<string>; sink: ModernSink; blocked: boolean; held: Map<string, string> }

interface Pool { meta: RequestMeta; slots: Set<Slot>; waiters: Array<(slot: Slot | Error) => void>; server: ServerIdentity | undefined; listeners: Set<Listener> }

function line(value: unknown): string {
  return JSON.stringify(value);
}

/**
 * Serves modern (2026-07-28) requests from legacy stdio servers: a pool of initialized
 * sandboxes per key (credential + client info + capabilities + version), each serving one
 * request at a time, so whatever a sandbox's server sends while a request is in flight
 * belongs to that request. Server-to-client requests become `input_required` results; the
 * sandbox waits for the retry that carries the answers.
 */
export class EraGateway {
  readonly #o: Required<Omit<GatewayOptions, 'log' | 'clientInfo'>> & { log: (line: string) => void; clientInfo: Json };
  readonly #pools = new Map<string, Pool>();
  readonly #parked = new Map<string, Parked>();
  #count = 0;
  #active = 0;
  #next = 0;
  #closing = false;

  constructor(options: GatewayOptions) {
    this.#o = {
      open: options.open, maxPerKey: options.maxPerKey ?? DEFAULTS.maxPerKey, maxSandboxes: options.maxSandboxes ?? DEFAULTS.maxSandboxes,
      idleMs: options.idleMs ?? DEFAULTS.idleMs, inputTimeoutMs: options.inputTimeoutMs ?? DEFAULTS.inputTimeoutMs, drainMs: options.drainMs ?? DEFAULTS.drainMs,
      log: options.log ?? (() => {}), clientInfo: options.clientInfo ?? { name: 'mcp-lok', version: '0' },
    };
  }

  /** Sandboxes running now (busy, held or idle). */
  get sandboxes(): number {
    return this.#count;
  }

  /** Keys the gateway remembers (each with its sandboxes, waiting requests or listen streams). */
  get keys(): number {
    return this.#pools.size;
  }

  /** Requests waiting for a sandbox of their key. */
  get waiting(): number {
    let n = 0;
    for (const pool of this.#pools.values()) n += pool.waiters.length;
    return n;
  }

  /** Requests not answered yet (those answered with input_required, and listen streams, are not counted). */
  get inFlight(): number {
    return this.#active;
  }

  /**
   * Serves one modern request from a client that holds `credential`; returns what to call when
   * the client goes away before the answer (the legacy request is then cancelled).
   */
  request(msg: Message & { id: Id; method: string }, credential: string, client: ModernSink): () => void {
    if (nestsDeeper(msg, MAX_DEPTH)) {
      client.answer(line(errorResponse(msg.id, { code: INVALID_PARAMS, message: `Invalid params: the request nests deeper than ${MAX_DEPTH} levels` })));
      return () => {};
    }
    const meta = readRequestMeta(msg);
    if (msg.method === 'subscriptions/listen' || 'error' in meta || this.#closing) return this.#serve(msg, credential, meta, client);
    this.#active++;
    let open = true;
    const settle = (): void => { if (open) { open = false; this.#active--; } };
    const cancel = this.#serve(msg, credential, meta, { notify: client.notify, answer: (text) => { settle(); client.answer(text); } }, settle);
    return () => { settle(); cancel(); };
  }

  #serve(msg: Message & { id: Id; method: string }, credential: string, meta: RequestMeta | { error: RpcError }, sink: ModernSink, settle: () => void = () => {}): () => void {
    if ('error' in meta) {
      sink.answer(line(errorResponse(msg.id, meta.error)));
      return () => {};
    }
    if (this.#closing) {
      sink.answer(line(errorResponse(msg.id, { code: INTERNAL_ERROR, message: 'mcp-lok is closing' })));
      return () => {};
    }
    const key = sandboxKey(credential, meta);
    const retry = readRetry(msg);
    if (retry !== undefined) return this.#resume(msg, key, meta, retry, sink, settle);
    if (msg.method === 'server/discover') {
      void this.#identity(key, meta).then(
        (server) => sink.answer(line({ jsonrpc: '2.0', id: msg.id, result: discoverResult(server) })),
        (error: Error) => sink.answer(line(errorResponse(msg.id, { code: INTERNAL_ERROR, message: error.message }))),
      );
      return () => {};
    }
    if (msg.method === 'subscriptions/listen') return this.#listen(msg, key, meta, sink);
    const exchange: Exchange = { method: msg.method, modernId: msg.id, legacyId: `mcp-lok-${++this.#next}`, sink, meta, progressToken: progressTokenOf(msg), subject: requestSubject(msg), settle };
    let cancelled = false;
    let slotOf: Slot | undefined;
    let unwait: (() => void) | undefined;
    void this.#acquire(key, meta, (remove) => { unwait = remove; }).then((slot) => {
      if (cancelled) return this.#release(slot);
      slotOf = slot;
      slot.exchange = exchange;
      slot.backend!.send(line(legacyRequest(msg, exchange.legacyId)));
    }, (error: Error) => {
      if (!cancelled) sink.answer(line(errorResponse(msg.id, { code: INTERNAL_ERROR, message: error.message })));
    });
    return () => {
      cancelled = true;
      // A request still waiting for a sandbox stops waiting: cancelled waiters would pile up.
      unwait?.();
      if (slotOf?.exchange === exchange && exchange.sink === sink) this.#cancel(slotOf, 'the client went away');
    };
  }

  /** Handles a client notification (stdio): `notifications/cancelled` for a request in flight. */
  cancelled(modernId: Id): void {
    for (const pool of this.#pools.values()) {
      for (const slot of pool.slots) if (slot.exchange?.modernId === modernId && slot.exchange.sink) this.#cancel(slot, 'the client cancelled the request');
      for (const listener of pool.listeners) {
        if (listener.id !== modernId) continue;
        pool.listeners.delete(listener);
        listener.sink.answer(line(listenClosed(listener.id)));
      }
    }
    for (const key of [...this.#pools.keys()]) this.#prune(key);
  }

  /** Stops every sandbox and ends every stream; requests still waiting get an error. */
  async close(): Promise<void> {
    this.#closing = true;
    const stops: Array<Promise<void>> = [];
    for (const pool of this.#pools.values()) {
      for (const listener of pool.listeners) listener.sink.answer(line(listenClosed(listener.id)));
      pool.listeners.clear();
      for (const waiter of pool.waiters.splice(0)) waiter(new Error('mcp-lok is closing'));
      for (const slot of [...pool.slots]) stops.push(this.#stop(slot, 'mcp-lok is closing'));
    }
    await Promise.allSettled(stops);
  }

  async #identity(key: string, meta: RequestMeta): Promise<ServerIdentity> {
    const known = this.#pools.get(key)?.server;
    if (known) return known;
    const slot = await this.#acquire(key, meta);
    const server = slot.server!;
    this.#release(slot);
    return server;
  }

  #listen(msg: Message & { id: Id }, key: string, meta: RequestMeta, sink: ModernSink): () => void {
    let listener: Listener | undefined;
    let gone = false;
    void this.#identity(key, meta).then((server) => {
      if (gone) return;
      const honoured = honouredFilter(msg, server.capabilities);
      listener = { id: msg.id, methods: listenMethods(honoured), sink, blocked: false, held: new Map() };
      this.#pool(key, meta).listeners.add(listener);
      this.#tell(listener, line(listenAcknowledgment(msg.id, honoured)));
    }, (error: Error) => sink.answer(line(errorResponse(msg.id, { code: INTERNAL_ERROR, message: error.message }))));
    return () => {
      gone = true;
      if (listener) this.#pools.get(key)?.listeners.delete(listener);
      this.#prune(key);
    };
  }

  #resume(msg: Message & { id: Id; method: string }, key: string, meta: RequestMeta, retry: { requestState: string; inputResponses: Json }, sink: ModernSink, settle: () => void): () => void {
    const parked = this.#parked.get(retry.requestState);
    if (parked === undefined || parked.key !== key || parked.subject !== requestSubject(msg) || parked.slot.ended) {
      sink.answer(line(errorResponse(msg.id, { code: INVALID_PARAMS, message: 'Invalid params: requestState is unknown, expired, or was not issued for this request and client; send the request again without requestState and inputResponses' })));
      return () => {};
    }
    this.#parked.delete(parked.state);
    clearTimeout(parked.timer);
    const slot = parked.slot;
    slot.parked = undefined;
    const exchange = slot.exchange!;
    exchange.modernId = msg.id;
    exchange.sink = sink;
    exchange.meta = meta;
    exchange.settle = settle;
    const missing: ServerRequest[] = [];
    for (const [inputKey, request] of slot.asked) {
      const response = retry.inputResponses[inputKey];
      // An input the client did not give is asked for again, as the spec says a server should.
      if (response === undefined) missing.push(request);
      else slot.backend!.send(line({ jsonrpc: '2.0', id: request.id, result: response }));
    }
    slot.asked.clear();
    if (missing.length > 0) slot.waiting.unshift(...missing);
    if (slot.waiting.length > 0) this.#park(slot);
    return () => {
      if (slot.exchange === exchange && exchange.sink === sink) this.#cancel(slot, 'the client went away');
    };
  }

  #pool(key: string, meta: RequestMeta): Pool {
    let pool = this.#pools.get(key);
    if (!pool) {
      pool = { meta, slots: new Set(), waiters: [], server: undefined, listeners: new Set() };
      this.#pools.set(key, pool);
    }
    return pool;
  }

  /**
   * Returns an initialized sandbox of `key` for one request: an idle one, a new one, or the
   * next one released; `onWait` gets what removes the request from the queue when it waits.
   */
  async #acquire(key: string, meta: RequestMeta, onWait?: (remove: () => void) => void): Promise<Slot> {
    const pool = this.#pool(key, meta);
    for (const slot of pool.slots) {
      if (!slot.busy && !slot.ended && slot.server !== undefined) {
        slot.busy = true;
        clearTimeout(slot.idleTimer);
        return slot;
      }
    }
    if (pool.slots.size < this.#o.maxPerKey) {
      if (this.#count < this.#o.maxSandboxes) return this.#create(key, pool);
      // Full: an idle sandbox of another client makes room; with none, a request of a client that has none is refused.
      const idle = [...this.#pools.values()].flatMap((p) => [...p.slots]).find((s) => !s.busy && !s.ended);
      if (idle) {
        void this.#stop(idle, 'room for another client');
        return this.#create(key, pool);
      }
      if (pool.slots.size === 0) {
        this.#prune(key);
        throw new Error(`too many sandboxes at once (at most ${this.#o.maxSandboxes}); try again later`);
      }
    }
    return new Promise<Slot>((resolve, reject) => {
      const waiter = (slot: Slot | Error): void => (slot instanceof Error ? reject(slot) : resolve(slot));
      pool.waiters.push(waiter);
      onWait?.(() => {
        const at = pool.waiters.indexOf(waiter);
        if (at !== -1) pool.waiters.splice(at, 1);
        this.#prune(key);
      });
    });
  }

  async #create(key: string, pool: Pool): Promise<Slot> {
    const slot: Slot = {
      id: `m${randomBytes(6).toString('hex')}`, key, backend: undefined, server: undefined, busy: true, ended: false,
      exchange: undefined, waiting: [], asked: new Map(), parked: undefined, draining: undefined, idleTimer: undefined, initialized: undefined,
    };
    pool.slots.add(slot);
    this.#count++;
    try {
      const initialized = new Promise<Message>((resolve) => { slot.initialized = resolve; });
      slot.backend = await this.#o.open({ onMessage: (text) => this.#onMessage(slot, text), onEnd: (message) => this.#onEnd(slot, message) }, { id: slot.id });
      if (slot.ended) throw new Error('the server exited before it was initialized');
      slot.backend.send(line(legacyInitialize(INIT_ID, pool.meta, this.#o.clientInfo)));
      const timer = setTimeout(() => slot.initialized?.({ error: { message: `no answer to initialize within ${INIT_TIMEOUT_MS} ms` } }), INIT_TIMEOUT_MS);
      const answer = await initialized.finally(() => clearTimeout(timer));
      const server = readInitializeResult(answer);
      if ('error' in server) throw new Error(server.error.message);
      slot.server = server;
      pool.server ??= server;
      slot.backend.send(line({ jsonrpc: '2.0', method: 'notifications/initialized' }));
      this.#o.log(`sandbox ${slot.id} initialized`);
      return slot;
    } catch (error) {
      await this.#stop(slot, (error as Error).message);
      throw error;
    }
  }

  #release(slot: Slot): void {
    slot.exchange = undefined;
    if (slot.ended) return;
    const pool = this.#pools.get(slot.key);
    const waiter = pool?.waiters.shift();
    if (waiter) {
      slot.busy = true;
      waiter(slot);
      return;
    }
    slot.busy = false;
    clearTimeout(slot.idleTimer);
    slot.idleTimer = setTimeout(() => { if (!slot.busy) void this.#stop(slot, 'idle'); }, this.#o.idleMs);
    slot.idleTimer.unref();
  }

  #cancel(slot: Slot, reason: string): void {
    const exchange = slot.exchange;
    if (!exchange) return;
    exchange.sink = undefined;
    exchange.settle();
    this.#unpark(slot);
    slot.backend?.send(line({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: exchange.legacyId, reason } }));
    const timer = setTimeout(() => {
      if (slot.draining?.timer !== timer) return;
      slot.draining = undefined;
      this.#release(slot);
    }, this.#o.drainMs);
    timer.unref();
    slot.draining = { id: exchange.legacyId, timer };
    slot.exchange = undefined;
  }

  /** Takes one line of a sandbox's server; false when it must wait until the client reads (the backend pauses). */
  #onMessage(slot: Slot, text: string): boolean {
    let msg: Message;
    try {
      msg = JSON.parse(text) as Message;
    } catch {
      this.#o.log(`sandbox ${slot.id}: dropped a line that is not JSON`);
      return true;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return true;
    if (nestsDeeper(msg, MAX_DEPTH)) {
      // Serializing it again would overflow the stack: a response becomes an error, a request is refused, a notification dropped.
      this.#o.log(`sandbox ${slot.id}: refused a message nested deeper than ${MAX_DEPTH} levels`);
      const tooDeep: RpcError = { code: INTERNAL_ERROR, message: `the server sent a message nested deeper than ${MAX_DEPTH} levels` };
      const id = typeof msg.id === 'string' || typeof msg.id === 'number' ? msg.id : undefined;
      if (typeof msg.method !== 'string') msg = { jsonrpc: '2.0', id, error: tooDeep };
      else if (id !== undefined) { slot.backend?.send(line(errorResponse(id, tooDeep))); return true; }
      else return true;
    }
    if (typeof msg.method !== 'string') this.#onResponse(slot, msg);
    else if ('id' in msg && (typeof msg.id === 'string' || typeof msg.id === 'number')) this.#onServerRequest(slot, msg as Message & { id: Id; method: string });
    else return this.#onNotification(slot, msg as Message & { method: string });
    return true;
  }

  #onResponse(slot: Slot, msg: Message): void {
    if (msg.id === INIT_ID && slot.initialized) {
      const done = slot.initialized;
      slot.initialized = undefined;
      return done(msg);
    }
    if (slot.draining && msg.id === slot.draining.id) {
      clearTimeout(slot.draining.timer);
      slot.draining = undefined;
      return this.#release(slot);
    }
    const exchange = slot.exchange;
    if (!exchange || msg.id !== exchange.legacyId) return;
    const sink = exchange.sink;
    slot.waiting = [];
    // A server may answer while its input request is out: the requestState dies with the call,
    // so a late retry cannot take over the sandbox's next request.
    this.#unpark(slot);
    slot.asked.clear();
    this.#release(slot);
    sink?.answer(line(modernResponse(exchange.method, msg, exchange.modernId, slot.server?.serverInfo)));
  }

  #onServerRequest(slot: Slot, msg: Message & { id: Id; method: string }): void {
    if (msg.method === 'ping') return slot.backend?.send(line({ jsonrpc: '2.0', id: msg.id, result: {} }));
    const exchange = slot.exchange;
    if (!exchange || !canAskInput(exchange.method, msg.method, exchange.meta.capabilities)) {
      const error: RpcError = { code: -32601, message: `${msg.method} cannot reach the client: ${exchange ? `it did not declare the capability, or ${exchange.method} cannot ask for input` : 'no request of its is in flight'}` };
      return slot.backend?.send(line(errorResponse(msg.id, error)));
    }
    if (slot.waiting.length + slot.asked.size >= MAX_INPUT_REQUESTS) {
      return slot.backend?.send(line(errorResponse(msg.id, { code: INTERNAL_ERROR, message: `too many requests to the client at once (at most ${MAX_INPUT_REQUESTS})` })));
    }
    slot.waiting.push({ id: msg.id, method: msg.method, params: msg.params });
    if (exchange.sink && !slot.parked) this.#park(slot);
  }

  /** Answers the exchange with the waiting server requests as input requests, and holds the sandbox for the retry. */
  #park(slot: Slot): void {
    const exchange = slot.exchange!;
    const sink = exchange.sink!;
    const asked = slot.asked;
    const inputRequests: Record<string, { method: string; params?: unknown }> = {};
    for (const request of slot.waiting.splice(0)) {
      const inputKey = `input-${asked.size + 1}`;
      asked.set(inputKey, request);
      inputRequests[inputKey] = request.params === undefined ? { method: request.method } : { method: request.method, params: request.params };
    }
    const state = randomBytes(24).toString('base64url');
    const timer = setTimeout(() => {
      if (this.#parked.get(state)?.slot !== slot) return;
      this.#parked.delete(state);
      void this.#stop(slot, 'the client did not send the input the server asked for in time');
    }, this.#o.inputTimeoutMs);
    timer.unref();
    const parked: Parked = { state, key: slot.key, subject: exchange.subject, slot, timer };
    slot.parked = parked;
    this.#parked.set(state, parked);
    exchange.sink = undefined;
    sink.answer(line(inputRequiredResult(exchange.modernId, inputRequests, state)));
  }

  #onNotification(slot: Slot, msg: Message & { method: string }): boolean {
    const exchange = slot.exchange;
    if (msg.method === 'notifications/progress' || msg.method === 'notifications/message') {
      // Request-scoped: only to the request in flight, a log message only when it asked for a log level.
      if (!exchange?.sink) return true;
      if (msg.method === 'notifications/message' && exchange.meta.logLevel === undefined) return true;
      if (msg.method === 'notifications/progress') {
        const token = (msg.params as { progressToken?: unknown } | undefined)?.progressToken;
        if (token === undefined || JSON.stringify(token) !== exchange.progressToken) return true;
      }
      return exchange.sink.notify(line(msg), () => slot.backend?.resume());
    }
    const pool = this.#pools.get(slot.key);
    // List changes go to the listen streams of the same key only; they are few, so none of them holds the server.
    if (pool) {
      for (const listener of pool.listeners) {
        if (!listener.methods.has(msg.method)) continue;
        const text = line(tagNotification(msg, listener.id));
        if (listener.blocked) listener.held.set(msg.method, text);
        else this.#tell(listener, text);
      }
    }
    return true;
  }

  /** Writes to a listen stream; when its client stops reading, later list changes wait in `held` (one per kind) until it reads. */
  #tell(listener: Listener, text: string): void {
    const resume = (): void => {
      if (!listener.blocked) return;
      listener.blocked = false;
      for (const [method, next] of listener.held) {
        if (listener.blocked) return;
        listener.held.delete(method);
        this.#tell(listener, next);
      }
    };
    if (!listener.sink.notify(text, resume)) listener.blocked = true;
  }

  #onEnd(slot: Slot, message: string): void {
    if (slot.ended) return;
    slot.ended = true;
    this.#forget(slot);
    slot.initialized?.({ error: { code: INTERNAL_ERROR, message } });
    const sink = slot.exchange?.sink;
    if (sink && slot.exchange) sink.answer(line(errorResponse(slot.exchange.modernId, { code: INTERNAL_ERROR, message: `the server exited: ${message}` })));
    slot.exchange = undefined;
  }

  #forget(slot: Slot): void {
    const pool = this.#pools.get(slot.key);
    if (pool?.slots.delete(slot)) this.#count--;
    clearTimeout(slot.idleTimer);
    if (slot.draining) clearTimeout(slot.draining.timer);
    this.#unpark(slot);
    // A request waiting for a sandbox of this key may now get a new one.
    if (pool && pool.waiters.length > 0 && !this.#closing && pool.slots.size < this.#o.maxPerKey) {
      const waiter = pool.waiters.shift()!;
      void this.#create(slot.key, pool).then(waiter, (error: Error) => waiter(error));
    }
    this.#prune(slot.key);
  }

  /** Forgets a key with no sandbox, waiting request or listen stream left, so clients that come and go do not grow memory. */
  #prune(key: string): void {
    const pool = this.#pools.get(key);
    if (pool && pool.slots.size === 0 && pool.waiters.length === 0 && pool.listeners.size === 0) this.#pools.delete(key);
  }

  /** Forgets the requestState a sandbox is held for, if any: it can no longer be used. */
  #unpark(slot: Slot): void {
    if (!slot.parked) return;
    clearTimeout(slot.parked.timer);
    this.#parked.delete(slot.parked.state);
    slot.parked = undefined;
  }

  async #stop(slot: Slot, reason: string): Promise<void> {
    if (!slot.ended) {
      slot.ended = true;
      const sink = slot.exchange?.sink;
      if (sink && slot.exchange) sink.answer(line(errorResponse(slot.exchange.modernId, { code: INTERNAL_ERROR, message: `the request was ended: ${reason}` })));
      slot.exchange = undefined;
      this.#forget(slot);
      this.#o.log(`sandbox ${slot.id} stopped: ${reason}`);
    }
    await slot.backend?.close().catch(() => {});
  }
}

function progressTokenOf(msg: Message): string | undefined {
  const params = msg.params as { _meta?: { progressToken?: unknown } } | undefined;
  const token = params?._meta?.progressToken;
  return token === undefined ? undefined : JSON.stringify(token);
}
