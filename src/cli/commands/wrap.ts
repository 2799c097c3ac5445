import { statSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import kleur from 'kleur';
import { escapeControl, escapeControlInJson, escapeControlLine } from '../../control-chars.js';
import { usageError } from '../../errors.js';
import type { Context } from '../../app/context.js';
import {
  CLIENT_IDS, findClient, installWrapped, locateShim, planConfigs, writeConfigs,
  type ClientId, type ConfigPlan, type ConfigSelection, type FileReport, type InstallOutcome, type ServerReport,
} from '../../app/wrap.js';
import type { ParsedCommand } from '../commands.js';
import { confirm, isTerminal } from '../confirm.js';

/** Returns the selection the options name: clients (comma-separated), the project folder, server names. */
export function readSelection(ctx: Context, args: ParsedCommand, command: string): ConfigSelection {
  const raw = typeof args.values.client === 'string' ? args.values.client : undefined;
  let clients: ClientId[] | undefined;
  if (raw !== undefined) {
    clients = raw.split(',').map((name) => name.trim()).filter((name) => name !== '').map((name) => {
      const id = findClient(name);
      if (!id) throw usageError(`Unknown client "${name}": expected one of ${CLIENT_IDS.join(', ')}.`, `Run \`mcp-lok ${command} --help\`.`);
      return id;
    });
    if (clients.length === 0) throw usageError(`Expected \`--client\` to name a client such as \`claude-code\`, got "${raw}".`);
  }
  const project = typeof args.values.project === 'string' ? resolve(ctx.cwd, args.values.project) : ctx.cwd;
  let isDir = false;
  try { isDir = statSync(project).isDirectory(); } catch { isDir = false; }
  if (!isDir) throw usageError(`The project folder ${project} is not a folder.`, 'Pass an existing folder to `--project`.');
  return { clients, projectDir: project, servers: args.positionals };
}

let homeDir = '/';

/** Returns a path with the home folder as `~`, for people. */
function tilde(path: string): string {
  const home = homeDir;
  return path === home || path.startsWith(`${home}${sep}`) ? `~${path.slice(home.length)}` : path;
}

function serverLabel(s: ServerReport): string {
  return s.project === undefined ? s.name : `${s.name} (project ${tilde(s.project)})`;
}

const ACTION_WORDS: Readonly<Record<ServerReport['action'], string>> = {
  wrap: 'wrapped', wrapped: 'already wrapped', skip: 'not wrapped', unwrap: 'restored', 'not-wrapped': 'not wrapped', npx: 'not wrapped (npx: `mcp-lok wrap` wraps it)',
};

function describeServer(s: ServerReport, dryRun: boolean, listing: boolean): string {
  let word = listing && s.action === 'wrapped' ? 'wrapped' : ACTION_WORDS[s.action];
  if (dryRun && s.action === 'wrap') word = 'would be wrapped';
  if (dryRun && s.action === 'unwrap') word = 'would be restored';
  if (s.action === 'skip' && s.reason) word = `${word}: ${s.reason}`;
  return word;
}

function renderFiles(files: FileReport[], dryRun: boolean, listing = false): string {
  const lines: string[] = [];
  for (const file of files) {
    lines.push(`${file.clientName}${file.scope === 'project' ? ' (project)' : ''}: ${tilde(file.path)}`);
    if (file.error) lines.push(`  ${file.error}`);
    if (file.servers.length === 0 && !file.error) lines.push('  no servers');
    const width = Math.max(0, ...file.servers.map((s) => serverLabel(s).length));
    for (const s of file.servers) {
      lines.push(`  ${serverLabel(s).padEnd(width)}  ${describeServer(s, dryRun, listing)}`);
      for (const note of s.notes) lines.push(`  ${''.padEnd(width)}    note: ${note}`);
    }
    if (file.backup) lines.push(`  backup: ${tilde(file.backup)}`);
  }
  // Names, commands and paths come from the configs: each line stays one line, and no escape reaches the terminal.
  return lines.length > 0 ? `${lines.map(escapeControlLine).join('\n')}\n` : '';
}

/** Returns a diff for the terminal: the file's own control characters (a comment may hold any) shown as text, then coloured. */
function colorDiff(diff: string, color: boolean): string {
  const lines = diff.split('\n').map(escapeControl);
  if (!color) return lines.join('\n');
  kleur.enabled = true;
  return lines.map((line) => {
    if (line.startsWith('+++') || line.startsWith('---')) return kleur.bold(line);
    if (line.startsWith('@@')) return kleur.cyan(line);
    if (line.startsWith('+')) return kleur.green(line);
    if (line.startsWith('-')) return kleur.red(line);
    return line;
  }).join('\n');
}

function renderInstalls(outcomes: InstallOutcome[]): string {
  return outcomes.map((o) => {
    const what = escapeControlLine(`${o.packages} (${o.servers.join(', ')})`);
    const detail = escapeControlLine(o.detail ?? '');
    if (o.status === 'installed') return `Installed ahead: ${what}${detail ? `: ${detail}` : ''}\n`;
    if (o.status === 'skipped') return `Not installed ahead: ${what}: ${detail}\n`;
    return `Could not install ${what}: ${detail || 'failed'}\nIts client's first start will try again; \`mcp-lok wrap\` retries the installs.\n`;
  }).join('');
}

function jsonReport(plan: ConfigPlan, extra: Record<string, unknown>): string {
  return `${escapeControlInJson(JSON.stringify({ ...extra, files: plan.files }, null, 2))}\n`;
}

function clientsToRestart(plan: ConfigPlan): string {
  return [...new Set(plan.files.filter((f) => f.backup).map((f) => f.clientName))].join(', ');
}

/** Plans, shows, confirms and writes a wrap or unwrap; returns the exit code. */
async function changeConfigs(ctx: Context, args: ParsedCommand, mode: 'wrap' | 'unwrap'): Promise<number> {
  homeDir = ctx.home;
  const selection = readSelection(ctx, args, mode);
  const location = locateShim(ctx.env, ctx.platform);
  const plan = planConfigs(ctx, mode, selection, location.shim);
  if (plan.unknownServers.length > 0) {
    throw usageError(`No server called ${plan.unknownServers.map((n) => `"${n}"`).join(', ')} in the configs looked at.`, `Run \`mcp-lok wrap --list\` to see the servers${selection.clients ? ' of every client' : ''}.`);
  }
  const json = args.values.json === true;
  const dryRun = args.values['dry-run'] === true;
  const changes = plan.pending.length;
  if (plan.files.length === 0) {
    if (json) ctx.stdout.write(jsonReport(plan, { mode, dryRun }));
    else ctx.stdout.write(`No MCP client config found${selection.clients ? ` for ${selection.clients.join(', ')}` : ''} (looked in the user's folders and in ${tilde(selection.projectDir)}).\n`);
    return 0;
  }
  if (dryRun || changes === 0) {
    const code = plan.files.some((f) => f.error) ? 1 : 0;
    if (!json) {
      ctx.stdout.write(renderFiles(plan.files, true));
      for (const p of plan.pending) ctx.stdout.write(`\n${colorDiff(p.report.diff, ctx.color)}`);
      ctx.stdout.write(changes === 0 ? `\nNothing to ${mode}.\n` : '\nDry run: nothing was written.\n');
    }
    // Nothing to rewrite: the installs of what is wrapped may still be missing (the engine was down).
    if (mode === 'wrap' && !dryRun && args.values['no-install'] !== true) return finishInstalls(ctx, plan, json, code);
    if (json) ctx.stdout.write(jsonReport(plan, { mode, dryRun }));
    return code;
  }
  if (args.values.yes !== true) {
    if (!isTerminal(ctx)) throw usageError(`There is no terminal to ask whether to ${mode} servers in ${changes} file${changes === 1 ? '' : 's'}.`, `Pass \`--yes\` to write the changes, or \`--dry-run\` to see them first.`);
    ctx.stderr.write(renderFiles(plan.files, true));
    for (const p of plan.pending) ctx.stderr.write(`\n${colorDiff(p.report.diff, ctx.color)}`);
    if (!(await confirm(ctx, `\nWrite these changes (a backup of each file is kept beside it)? [y/N] `))) {
      ctx.stderr.write('Nothing was written.\n');
      return 1;
    }
  }
  writeConfigs(ctx, plan);
  const failed = plan.files.some((f) => f.error);
  if (!json) {
    ctx.stdout.write(renderFiles(plan.files, false));
    const restart = clientsToRestart(plan);
    if (restart) ctx.stdout.write(`\nRestart ${restart} to use the change.${mode === 'wrap' ? ' `mcp-lok unwrap` undoes it.' : ''}\n`);
  }
  if (mode === 'wrap' && args.values['no-install'] !== true) return finishInstalls(ctx, plan, json, failed ? 1 : 0);
  if (json) ctx.stdout.write(jsonReport(plan, { mode, dryRun }));
  return failed ? 1 : 0;
}

async function finishInstalls(ctx: Context, plan: ConfigPlan, json: boolean, code: number): Promise<number> {
  const installs = await installWrapped(ctx, plan);
  if (json) ctx.stdout.write(jsonReport(plan, { mode: plan.mode, dryRun: false, installs }));
  else ctx.stdout.write(installs.length > 0 ? `\n${renderInstalls(installs)}` : '');
  return installs.some((o) => o.status === 'failed') ? 1 : code;
}

/** `mcp-lok wrap --list`: each client's servers and whether they run sandboxed. */
async function listConfigs(ctx: Context, args: ParsedCommand): Promise<number> {
  homeDir = ctx.home;
  const selection = readSelection(ctx, args, 'wrap');
  const location = locateShim(ctx.env, ctx.platform);
  const plan = planConfigs(ctx, 'list', selection, location.shim);
  if (args.values.json === true) {
    ctx.stdout.write(`${escapeControlInJson(JSON.stringify({ shim: location.shim, files: plan.files }, null, 2))}\n`);
    return 0;
  }
  if (plan.files.length === 0) { ctx.stdout.write('No MCP client config found.\n'); return 0; }
  ctx.stdout.write(renderFiles(plan.files, false, true));
  const all = plan.files.flatMap((f) => f.servers);
  ctx.stdout.write(`\n${all.filter((s) => s.action === 'wrapped').length} of ${all.length} servers run in mcp-lok's sandbox; ${all.filter((s) => s.action === 'npx').length} more can be wrapped.\n`);
  return 0;
}

/** `mcp-lok wrap`: rewrite the clients' npx servers to run through mcp-lok-npx. */
export async function runWrap(ctx: Context, args: ParsedCommand): Promise<number> {
  if (args.values.list === true) return listConfigs(ctx, args);
  return changeConfigs(ctx, args, 'wrap');
}

/** `mcp-lok unwrap`: put the wrapped servers back as they were. */
export async function runUnwrap(ctx: Context, args: ParsedCommand): Promise<number> {
  return changeConfigs(ctx, args, 'unwrap');
}
