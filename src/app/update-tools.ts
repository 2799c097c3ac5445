// `mcp-lok update`'s tool manifest diff: the candidate tree runs once in a sandbox that gives it
// less than the server has (no grants, no network, a home in memory), lists its tools as a
// client would, and each tool pin of that package says what would change.
import type { Context } from './context.js';
import { BUILT_IN_PROFILES } from '../sandbox/profile-validate.js';
import { checkRecordedSpec } from '../request/recorded-spec.js';
import type { ServerRequest } from '../request/server-request.js';
import { isContainerName } from '../sandbox/names.js';
import { listToolPins, readToolPin, type ToolPinRecord } from '../state/tool-pins.js';
import { readRecord } from '../state/records.js';
import { packageVolume } from '../prepare/install.js';
import { matchToolPins } from '../tools-pin/identity.js';
import { compareManifests, describeToolDiff, diffComparison, pickPinnedFields, type PinnedTool } from '../tools-pin/manifest.js';
import { planToolPin } from './plan.js';
import { planRequest, prepareServer } from './run-server.js';
import { probeTools } from './tool-probe.js';
import { requestForPin, type DescribeCandidate } from './update.js';

/** How much of a changed text a review line shows (`mcp-lok approve` shows all, later). */
const REVIEW_TEXT_CHARS = 400;

/**
 * Returns the request the candidate's tools are listed with: the background server's own
 * arguments and variables when `target` names one, else the package alone; in every case the
 * built-in profile (no host files, no network), a home in memory and no tool pin of its own:
 * a version not yet approved runs with less than the server it may replace.
 */
function probeRequest(ctx: Context, target: string, fallback: () => ServerRequest): { req: ServerRequest; pins: ToolPinRecord[] } {
  const record = isContainerName(target) ? readRecord(ctx.paths.state, target) : undefined;
  const base = record?.spec ? checkRecordedSpec(record.spec, target).server : fallback();
  const req: ServerRequest = {
    ...base,
    quiet: true,
    profile: { name: 'stdio', source: 'built-in', profile: BUILT_IN_PROFILES.stdio },
    lok: { ...base.lok, ephemeral: true, pinTools: 'off', name: undefined },
  };
  if (record?.spec) {
    const own = readToolPin(ctx.paths.state, planToolPin(base.source, base.lok.name, base.homeScope).id);
    return { req, pins: own ? [own] : [] };
  }
  const names = base.source.kind === 'npx' ? base.source.packages.map((p) => p.name) : [];
  return { req, pins: matchToolPins(listToolPins(ctx.paths.state), names).filter((p) => p.key.name === undefined) };
}

/** Returns the lines that say how a candidate's tools differ from each tool pin of the package. */
export function describeToolChanges(ctx: Context, target: string): DescribeCandidate {
  return async ({ pin, candidate }) => {
    const { req, pins } = probeRequest(ctx, target, () => requestForPin(ctx, pin));
    let listed: unknown[];
    try {
      // The candidate is only looked at: it has no pin (and so no look for newer versions).
      const plan = await prepareServer(ctx, await planRequest(ctx, req), req.args, {
        volume: packageVolume(pin.specs, pin.registry), dir: candidate.dir,
        packages: candidate.packages.map((p) => ({ name: p.name, version: p.version, bin: (p as { bin?: unknown }).bin })),
      });
      listed = await probeTools(ctx, plan);
    } catch (error) {
      return [`Tools: the new version could not list them (${(error as Error).message}); they are checked against the pin when a client lists them.`];
    }
    const seen = listed.map(pickPinnedFields).filter((t): t is PinnedTool => t !== undefined);
    if (pins.length === 0) {
      return [`Tools: the new version lists ${seen.length} (${seen.map((t) => t.name).join(', ') || 'none'}); no client has listed the current version's yet, so there is nothing to compare.`];
    }
    const lines: string[] = [];
    for (const toolPin of pins) {
      const diffs = diffComparison(compareManifests(toolPin.tools, seen, true));
      if (diffs.length === 0) { lines.push(`Tools of ${toolPin.identity}: the same as pinned (${seen.length}).`); continue; }
      lines.push(`Tools of ${toolPin.identity}: ${diffs.length} differ from the pin (listed with no files and no network):`);
      for (const diff of diffs) lines.push(...describeToolDiff(diff, REVIEW_TEXT_CHARS).map((l) => `  ${l}`));
      lines.push(`  After the update, clients see them as changed until you run \`mcp-lok approve ${toolPin.identity}\`.`);
    }
    return lines;
  };
}
