// `mcp-lok wrap`, `unwrap` and `wrap --list`: find the MCP clients' configs, decide for each
// server entry (client-configs/entry-plan.ts, pure), edit the text in place, check the result
// parses to exactly the intended change, write it atomically with a backup, and install the
// wrapped packages ahead so that no client times out on a first start.
import { LokError } from '../errors.js';
import { parseNpxArgs } from '../request/npx-args.js';
import { completeRequest } from '../request/server-request.js';
import { readWrapRecords, wrapRecordKey, writeWrapRecords, type WrapRecord } from '../state/wrap-records.js';
import type { Context } from './context.js';
import { CLIENT_NAMES, listConfigFiles, type ClientId, type ConfigFile } from './client-configs/clients.js';
import { renderEditDiff } from './client-configs/diff.js';
import { sameValue, valueAt, withValueAt, type ConfigDocument, type FoundEntry } from './client-configs/document.js';
import { decideUnwrap, decideWrap, isShimCommand, wrapEdits, type ShimCommand } from './client-configs/entry-plan.js';
import { readConfigFile, writeConfigFile, type LoadedFile } from './client-configs/files.js';
import { readJsonDocument } from './client-configs/json-document.js';
import { readTomlDocument } from './client-configs/toml-document.js';
import { applyEdits, type Edit } from './client-configs/text-edits.js';
import { planRequest, prepareServer } from './run-server.js';

export { CLIENT_IDS, CLIENT_NAMES, findClient, type ClientId } from './client-configs/clients.js';
export { locateShim, type ShimLocation } from './client-configs/shim-path.js';

/** Which configs a command looks at. */
export interface ConfigSelection {
  /** Undefined: every client. */
  clients: ClientId[] | undefined;
  /** The project whose own config files count too (absolute). */
  projectDir: string;
  /** Only the servers with these names (empty: all). */
  servers: string[];
}

/** One server entry, and what the command does (or did) with it. */
export interface ServerReport {
  name: string;
  /** The Claude Code project it belongs to, for entries under `projects` in ~/.claude.json. */
  project: string | undefined;
  /**
   * wrap: `wrap` (rewritten now), `wrapped` (already), `skip`; unwrap: `unwrap`, `skip`,
   * `not-wrapped`; list: `wrapped`, `npx` (can be wrapped), `skip`.
   */
  action: 'wrap' | 'wrapped' | 'skip' | 'unwrap' | 'not-wrapped' | 'npx';
  reason?: string;
  notes: string[];
  /** The command line as the file has it now (or had it, once written). */
  command: string | undefined;
  args: string[] | undefined;
  /** The command line after this command's change. */
  after?: { command: string; args: string[] } | undefined;
}

/** One config file, what was found in it and the change planned or made. */
export interface FileReport {
  client: ClientId;
  clientName: string;
  scope: 'user' | 'project';
  path: string;
  /** The file could not be read or edited: it is left as it is. */
  error?: string;
  servers: ServerReport[];
  /** A unified diff of the change ('' when nothing changes). */
  diff: string;
  /** Where the original was copied before it was rewritten. */
  backup?: string;
}

/** A planned change: reports for people and scripts, and what writing it needs. */
export interface ConfigPlan {
  mode: 'wrap' | 'unwrap' | 'list';
  shim: ShimCommand;
  files: FileReport[];
  /** Server names asked for that no file has. */
  unknownServers: string[];
  pending: Array<{ report: FileReport; file: LoadedFile; text: string; records: WrapRecord[] }>;
}

function readDocument(text: string, config: ConfigFile): ConfigDocument {
  return config.layout.format === 'toml' ? readTomlDocument(text) : readJsonDocument(text, config.layout);
}

function stringArray(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
}

/** Returns the string variables an entry sets (`env`), which mcp-lok-npx will see. */
function entryEnv(doc: ConfigDocument, entry: FoundEntry): Record<string, string> {
  const env = valueAt(doc.value, [...entry.key, ...entry.commandPath.slice(0, -1), 'env']);
  if (typeof env !== 'object' || env === null) return {};
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** Returns the files of the selection that exist, each once (a project folder may be the home folder). */
function selectFiles(ctx: Context, selection: ConfigSelection): Array<{ config: ConfigFile; file: LoadedFile | undefined; error?: string }> {
  const seen = new Set<string>();
  const out: Array<{ config: ConfigFile; file: LoadedFile | undefined; error?: string }> = [];
  for (const config of listConfigFiles({ home: ctx.home, env: ctx.env, platform: ctx.platform, projectDir: selection.projectDir })) {
    if (selection.clients && !selection.clients.includes(config.client)) continue;
    let file: LoadedFile | undefined;
    try {
      file = readConfigFile(config.path);
    } catch (error) {
      out.push({ config, file: undefined, error: `cannot read it: ${(error as Error).message}` });
      continue;
    }
    if (!file || seen.has(file.real)) continue;
    seen.add(file.real);
    out.push({ config, file });
  }
  return out;
}

/**
 * Returns the plan of `wrap`, `unwrap` or `--list` over the selected clients' configs: per
 * server what happens and why, per file the diff; nothing is written. Each edited text is
 * parsed again and must differ from the original only in the entries' commands and arguments.
 */
export function planConfigs(ctx: Context, mode: ConfigPlan['mode'], selection: ConfigSelection, shim: ShimCommand): ConfigPlan {
  const records = new Map(readWrapRecords(ctx.paths.state).map((r) => [wrapRecordKey(r.file, r.key), r]));
  const plan: ConfigPlan = { mode, shim, files: [], unknownServers: [], pending: [] };
  const named = new Set<string>();
  const now = new Date(ctx.now()).toISOString();
  for (const { config, file, error } of selectFiles(ctx, selection)) {
    const report: FileReport = { client: config.client, clientName: CLIENT_NAMES[config.client], scope: config.scope, path: config.path, servers: [], diff: '' };
    plan.files.push(report);
    if (!file) { report.error = error ?? 'cannot read it'; continue; }
    let doc: ConfigDocument;
    try { doc = readDocument(file.text, config); } catch (e) { report.error = (e as Error).message; continue; }
    const edits: Edit[] = [];
    const newRecords: WrapRecord[] = [];
    const changed: Array<{ entry: FoundEntry; expect?: { command: string; args: string[] } }> = [];
    for (const entry of doc.entries) {
      if (selection.servers.length > 0 && !selection.servers.includes(entry.name)) continue;
      named.add(entry.name);
      const command = typeof entry.command?.value === 'string' ? entry.command.value : undefined;
      const server: ServerReport = { name: entry.name, project: entry.project, action: 'skip', notes: [], command, args: stringArray(entry.args?.value) };
      report.servers.push(server);
      if (mode === 'unwrap') {
        const record = records.get(wrapRecordKey(file.real, entry.key));
        const decision = decideUnwrap(file.text, doc, entry, record);
        if (decision.kind === 'not-wrapped') { server.action = 'not-wrapped'; continue; }
        if (decision.kind === 'skip') { server.reason = decision.reason; continue; }
        server.action = 'unwrap';
        if (decision.how === 'kept-changes') server.notes.push('its arguments changed since the wrap: mcp-lok removed only what it had added');
        if (decision.how === 'derived') server.notes.push('no record of its original form: set back to npx with the arguments mcp-lok added removed');
        edits.push(...decision.edits);
        changed.push({ entry });
        if (record) newRecords.push(record);
        continue;
      }
      const decision = decideWrap(entry, shim, { ...ctx.env, ...entryEnv(doc, entry) });
      server.notes.push(...(decision.kind === 'wrap' ? decision.notes : []));
      if (decision.kind === 'wrapped') { server.action = 'wrapped'; continue; }
      if (decision.kind === 'skip') { server.reason = decision.reason; continue; }
      if (mode === 'list') { server.action = 'npx'; continue; }
      server.action = 'wrap';
      server.after = { command: decision.command, args: decision.args };
      const wrap = wrapEdits(file.text, doc, entry, decision);
      edits.push(...wrap.edits);
      newRecords.push({ ...wrap.record, file: file.real, client: config.client, at: now });
      changed.push({ entry, expect: server.after });
    }
    if (edits.length === 0) continue;
    const text = applyEdits(file.text, edits);
    const problem = checkEdit(doc, text, changed);
    if (problem) {
      report.error = `mcp-lok could not edit it safely (${problem}); it is left as it is: edit it by hand`;
      for (const s of report.servers) if (s.action === 'wrap' || s.action === 'unwrap') { s.action = 'skip'; s.reason = 'its file could not be edited safely'; delete s.after; }
      continue;
    }
    const label = config.path;
    report.diff = renderEditDiff(file.text, edits, {
      oldLabel: label, newLabel: `${label} (${mode === 'wrap' ? 'wrapped' : 'unwrapped'})`,
      secrets: doc.entries.flatMap((e) => e.secretTexts),
    });
    plan.pending.push({ report, file, text, records: newRecords });
  }
  plan.unknownServers = selection.servers.filter((name) => !named.has(name));
  return plan;
}

/** Returns why an edited text is not exactly the intended change, or undefined when it is. */
function checkEdit(doc: ConfigDocument, text: string, changed: Array<{ entry: FoundEntry; expect?: { command: string; args: string[] } }>): string | undefined {
  let after: unknown;
  try { after = doc.parse(text); } catch (error) { return `the result would not parse: ${(error as Error).message}`; }
  let expected = doc.value;
  for (const { entry, expect } of changed) {
    const commandPath = [...entry.key, ...entry.commandPath];
    const argsPath = [...entry.key, ...entry.argsPath];
    if (expect && (valueAt(after, commandPath) !== expect.command || !sameValue(valueAt(after, argsPath), expect.args))) return 'the new command line would read differently';
    if (!expect) {
      const command = valueAt(after, commandPath);
      if (typeof command !== 'string' || isShimCommand(command, stringArray(valueAt(after, argsPath)) ?? [])) return 'the entry would still run mcp-lok-npx';
    }
    expected = withValueAt(withValueAt(expected, commandPath, valueAt(after, commandPath)), argsPath, valueAt(after, argsPath));
  }
  return sameValue(expected, after) ? undefined : 'other values would change';
}

/**
 * Writes a plan's files (each atomically, after a backup beside it) and keeps the wrap
 * records `unwrap` restores from. A file that fails is reported and the others still written.
 */
export function writeConfigs(ctx: Context, plan: ConfigPlan): void {
  const records = readWrapRecords(ctx.paths.state);
  const byKey = new Map(records.map((r) => [wrapRecordKey(r.file, r.key), r]));
  const now = new Date(ctx.now());
  for (const { report, file, text, records: touched } of plan.pending) {
    try {
      report.backup = writeConfigFile(file, text, now);
    } catch (error) {
      report.error = `not written: ${(error as Error).message}`;
      for (const s of report.servers) if (s.action === 'wrap' || s.action === 'unwrap') { s.action = 'skip'; s.reason = 'its file was not written'; delete s.after; }
      continue;
    }
    for (const record of touched) {
      const key = wrapRecordKey(record.file, record.key);
      if (plan.mode === 'wrap') byKey.set(key, record); else byKey.delete(key);
    }
  }
  plan.pending = [];
  writeWrapRecords(ctx.paths.state, [...byKey.values()]);
}

/** What installing one wrapped server's packages ahead came to. */
export interface InstallOutcome {
  packages: string;
  /** The servers (`Client: name`) that run it. */
  servers: string[];
  status: 'installed' | 'failed' | 'skipped';
  detail?: string;
}

function describeFailure(error: unknown): string {
  if (error instanceof LokError) return error.hint ? `${error.message} ${error.hint}` : error.message;
  return (error as Error).message ?? String(error);
}

/**
 * Installs the packages of every wrapped server in a plan's files, as mcp-lok-npx would on its
 * first start (same request, planner and install step; progress on stderr), so no client waits
 * for an install. Each distinct package set once; what is installed and fresh costs nothing.
 */
export async function installWrapped(ctx: Context, plan: ConfigPlan): Promise<InstallOutcome[]> {
  const jobs = new Map<string, { args: string[]; outcome: InstallOutcome }>();
  for (const file of plan.files) {
    for (const server of file.servers) {
      const line = server.action === 'wrap' ? server.after : server.action === 'wrapped' && server.command && server.args ? { command: server.command, args: server.args } : undefined;
      if (!line) continue;
      // Windows configs start node with the script first.
      const args = /^node(\.exe)?$/i.test(line.command.split(/[\\/]/).at(-1) ?? '') ? line.args.slice(1) : line.args;
      let invocation;
      try { invocation = parseNpxArgs(args, ctx.env); } catch { continue; }
      if (invocation.kind !== 'run') continue;
      const key = JSON.stringify([invocation.packages.map((p) => p.raw), invocation.lok.registry, invocation.lok.engine]);
      const label = `${file.clientName}: ${server.name}`;
      const job = jobs.get(key);
      if (job) { job.outcome.servers.push(label); continue; }
      const outcome: InstallOutcome = { packages: invocation.packages.map((p) => p.raw).join(' '), servers: [label], status: 'installed' };
      if (invocation.yes === false) { outcome.status = 'skipped'; outcome.detail = 'npx --no: it runs only what is installed already'; }
      jobs.set(key, { args, outcome });
    }
  }
  const outcomes = [...jobs.values()].map((j) => j.outcome);
  let engineDown: string | undefined;
  for (const { args, outcome } of jobs.values()) {
    if (outcome.status === 'skipped') continue;
    if (engineDown) { outcome.status = 'failed'; outcome.detail = engineDown; continue; }
    ctx.log(`mcp-lok: installing ${outcome.packages} (${outcome.servers.join(', ')})`);
    try {
      const invocation = parseNpxArgs(args, ctx.env);
      if (invocation.kind !== 'run') continue;
      const req = completeRequest({
        source: { kind: 'npx', packages: invocation.packages, command: invocation.command, allowInstall: true },
        args: invocation.args, lok: invocation.lok, quiet: false, launcher: 'npx',
      }, { configDir: ctx.paths.config, cwd: ctx.cwd, env: ctx.env });
      const ready = await prepareServer(ctx, await planRequest(ctx, req), req.args);
      outcome.detail = ready.prepared.packages.join(', ');
    } catch (error) {
      outcome.status = 'failed';
      outcome.detail = describeFailure(error);
      if (error instanceof LokError && error.code === 'ENGINE_UNAVAILABLE') engineDown = outcome.detail;
    }
  }
  await ctx.swept();
  return outcomes;
}
