// The servers `npm run compat` tries: popular MCP servers from npm, most-downloaded first (downloads
// a month from the registry's counts), each configured as its own README tells a client to start it.
// Keys are fake: no server here reaches its API (the suite has no network), so none is ever sent.

/** One flag set the README of mcp-lok tells a user to add, and what it is for. */
export interface DocumentedFlags {
  flags: string[];
  /** What the table says the server needs, e.g. `-e GITHUB_PERSONAL_ACCESS_TOKEN`. */
  need: string;
  /** Why, in a few words. */
  why: string;
}

/** A tool call that shows the server works beyond listing (a write, say); `{folder}` as in `args`. */
export interface Probe {
  tool: string;
  arguments: Record<string, unknown>;
}

export interface CompatServer {
  /** The npm package, as the client config names it. */
  name: string;
  /** Downloads a month when it was chosen. */
  downloads: number;
  /** What follows the command word in the client config; `{folder}` is a host folder the suite makes. */
  args: string[];
  /** The client config's `env`. */
  env?: Record<string, string>;
  /** Flags beyond `-e NAME` for each `env` key; `{folder}` and `{profile}` (a profile granting it read-write) are filled in. */
  documented?: DocumentedFlags[];
  probe?: Probe;
  /**
   * Set when the pure drop-in must be refused (a host folder the sandbox does not see unless
   * granted): the goal is then that the documented column lists the same tools as bare npx.
   */
  refused?: string;
  /**
   * Tools bare npx lists that the sandbox must not enable (they need what it refuses by design,
   * such as the container engine's socket): the drop-in may list the rest and still match.
   */
  refusedTools?: { prefix: string; why: string };
}

export const CATALOG: CompatServer[] = [
  { name: '@playwright/mcp', downloads: 6_293_363, args: ['-y', '@playwright/mcp'] },
  { name: 'chrome-devtools-mcp', downloads: 1_848_520, args: ['-y', 'chrome-devtools-mcp'] },
  { name: '@upstash/context7-mcp', downloads: 1_425_541, args: ['-y', '@upstash/context7-mcp', '--api-key', 'ctx7sk-compat-fake-key'] },
  {
    name: '@modelcontextprotocol/server-filesystem',
    downloads: 1_133_453,
    args: ['-y', '@modelcontextprotocol/server-filesystem', '{folder}'],
    documented: [{ flags: ['--profile', '{profile}'], need: '--profile with a write grant of the folder', why: 'a host folder is not in the sandbox unless a profile grants it' }],
    probe: { tool: 'write_file', arguments: { path: '{folder}/compat.txt', content: 'written by npm run compat' } },
    refused: 'a host folder named as an argument',
  },
  { name: '@modelcontextprotocol/server-sequential-thinking', downloads: 297_027, args: ['-y', '@modelcontextprotocol/server-sequential-thinking'] },
  { name: '@azure-devops/mcp', downloads: 286_048, args: ['-y', '@azure-devops/mcp', 'compat-org'] },
  {
    name: '@supabase/mcp-server-supabase',
    downloads: 283_780,
    args: ['-y', '@supabase/mcp-server-supabase', '--read-only', '--project-ref=compatfakeref'],
    env: { SUPABASE_ACCESS_TOKEN: 'sbp_compat_fake_token' },
  },
  { name: '@modelcontextprotocol/server-github', downloads: 280_864, args: ['-y', '@modelcontextprotocol/server-github'], env: { GITHUB_PERSONAL_ACCESS_TOKEN: 'ghp_compatFakeToken000000000000000000000' } },
  {
    name: '@modelcontextprotocol/server-memory',
    downloads: 261_331,
    args: ['-y', '@modelcontextprotocol/server-memory'],
    documented: [{ flags: ['-e', 'MEMORY_FILE_PATH=/home/node/memory.jsonl'], need: '-e MEMORY_FILE_PATH=/home/node/memory.jsonl', why: 'it writes memory.jsonl beside its code, which is read-only' }],
    probe: { tool: 'create_entities', arguments: { entities: [{ name: 'compat', entityType: 'test', observations: ['written by npm run compat'] }] } },
  },
  { name: '@modelcontextprotocol/server-postgres', downloads: 251_900, args: ['-y', '@modelcontextprotocol/server-postgres', 'postgresql://localhost/compat'] },
  { name: '@modelcontextprotocol/server-everything', downloads: 244_826, args: ['-y', '@modelcontextprotocol/server-everything'], probe: { tool: 'echo', arguments: { message: 'compat' } } },
  { name: '@notionhq/notion-mcp-server', downloads: 239_565, args: ['-y', '@notionhq/notion-mcp-server'], env: { NOTION_TOKEN: 'ntn_compat_fake_token' } },
  { name: '@modelcontextprotocol/server-google-maps', downloads: 207_113, args: ['-y', '@modelcontextprotocol/server-google-maps'], env: { GOOGLE_MAPS_API_KEY: 'compat-fake-maps-key' } },
  { name: '@circleci/mcp-server-circleci', downloads: 195_454, args: ['-y', '@circleci/mcp-server-circleci'], env: { CIRCLECI_TOKEN: 'compat-fake-circleci-token' } },
  {
    name: 'mongodb-mcp-server',
    downloads: 162_003,
    args: ['-y', 'mongodb-mcp-server', '--readOnly'],
    env: { MDB_MCP_CONNECTION_STRING: 'mongodb://localhost:27017/compat' },
    refusedTools: { prefix: 'atlas-local-', why: 'its Atlas Local tools register only when a Docker engine answers, and the sandbox never sees the engine\'s socket' },
  },
  { name: '@stripe/mcp', downloads: 144_352, args: ['-y', '@stripe/mcp', '--api-key=sk_test_compatFakeKey0000000000'] },
  { name: 'tavily-mcp', downloads: 138_725, args: ['-y', 'tavily-mcp'], env: { TAVILY_API_KEY: 'tvly-compat-fake-key' } },
  { name: '@modelcontextprotocol/server-slack', downloads: 136_678, args: ['-y', '@modelcontextprotocol/server-slack'], env: { SLACK_BOT_TOKEN: 'xoxb-compat-fake-token', SLACK_TEAM_ID: 'T00000000' } },
  { name: 'firecrawl-mcp', downloads: 128_690, args: ['-y', 'firecrawl-mcp'], env: { FIRECRAWL_API_KEY: 'fc-compat-fake-key' } },
  { name: '@wonderwhy-er/desktop-commander', downloads: 104_957, args: ['-y', '@wonderwhy-er/desktop-commander'] },
  { name: '@modelcontextprotocol/server-brave-search', downloads: 102_411, args: ['-y', '@modelcontextprotocol/server-brave-search'], env: { BRAVE_API_KEY: 'compat-fake-brave-key' } },
  { name: '@sentry/mcp-server', downloads: 94_958, args: ['-y', '@sentry/mcp-server'], env: { SENTRY_ACCESS_TOKEN: 'sntrys_compat_fake_token' } },
];

/** Returns the flags the README tells a user to add for a server: `-e NAME` for each `env` key, then its own. */
export function documentedFlags(server: CompatServer): DocumentedFlags[] {
  const keys = Object.keys(server.env ?? {});
  const env: DocumentedFlags[] = keys.length === 0 ? [] : [{
    flags: keys.flatMap((k) => ['-e', k]),
    need: keys.map((k) => `-e ${k}`).join(' '),
    why: 'a variable from the config\'s env reaches the server only when named with -e',
  }];
  return [...env, ...(server.documented ?? [])];
}
