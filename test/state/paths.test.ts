import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { getPaths, type LokPaths } from '../../src/state/paths.js';

const paths = suite('getPaths');

paths('puts every folder under MCP_LOK_HOME when it is set', () => {
  assert.equal(getPaths({ MCP_LOK_HOME: '/srv/lok' }), {
    config: '/srv/lok/config',
    cache: '/srv/lok/cache',
    state: '/srv/lok/data/state',
    installs: '/srv/lok/cache/installs',
    locks: '/srv/lok/cache/locks',
  });
});

paths('ignores an empty MCP_LOK_HOME', () => {
  assert.not.equal(getPaths({ MCP_LOK_HOME: '' }).config, 'config');
});

paths('keeps records (state) apart from what can be rebuilt (cache), and every folder distinct', () => {
  for (const env of [{ MCP_LOK_HOME: '/srv/lok' }, {}]) {
    const p = getPaths(env);
    assert.is(new Set(Object.values(p)).size, 5);
    assert.not.ok(p.state.startsWith(`${p.cache}/`), 'state is not under the cache');
    assert.ok(p.installs.startsWith(`${p.cache}/`) && p.locks.startsWith(`${p.cache}/`));
  }
});

const PATHS_JS = fileURLToPath(new URL('../../src/state/paths.js', import.meta.url));

/** Returns getPaths({}) as a process with exactly `env` sees it (env-paths reads the process's own environment). */
function pathsInProcess(env: Record<string, string>): LokPaths {
  const script = `const { getPaths } = await import(${JSON.stringify(`file://${PATHS_JS}`)}); process.stdout.write(JSON.stringify(getPaths(process.env)));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' })) as LokPaths;
}

if (process.platform === 'linux') {
  paths('follows the XDG folders on Linux without MCP_LOK_HOME', () => {
    assert.equal(pathsInProcess({ HOME: '/home/u', XDG_CONFIG_HOME: '/x/config', XDG_CACHE_HOME: '/x/cache', XDG_DATA_HOME: '/x/data' }), {
      config: '/x/config/mcp-lok',
      cache: '/x/cache/mcp-lok',
      state: '/x/data/mcp-lok/state',
      installs: '/x/cache/mcp-lok/installs',
      locks: '/x/cache/mcp-lok/locks',
    });
  });

  paths('falls back to the XDG defaults under HOME', () => {
    const home = '/home/u';
    assert.equal(pathsInProcess({ HOME: home }), {
      config: join(home, '.config', 'mcp-lok'),
      cache: join(home, '.cache', 'mcp-lok'),
      state: join(home, '.local', 'share', 'mcp-lok', 'state'),
      installs: join(home, '.cache', 'mcp-lok', 'installs'),
      locks: join(home, '.cache', 'mcp-lok', 'locks'),
    });
  });

  paths('lets MCP_LOK_HOME win over the XDG folders', () => {
    assert.is(pathsInProcess({ HOME: '/home/u', XDG_CONFIG_HOME: '/x/config', MCP_LOK_HOME: '/srv/lok' }).config, '/srv/lok/config');
  });
}

paths.run();
