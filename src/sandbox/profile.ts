import { LokError, EXIT } from '../errors.js';

/** What a permission profile resolves to for the container builder. */
export interface ResolvedProfile {
  name: string;
  network: 'none' | 'bridge';
  /** A line saying how this profile relaxes the default sandbox, shown on stderr. */
  relaxation: string | undefined;
}

const BUILT_INS: Record<string, ResolvedProfile> = {
  stdio: { name: 'stdio', network: 'none', relaxation: undefined },
  network: {
    name: 'network',
    network: 'bridge',
    relaxation: 'profile "network": the server can reach any host on any port (not for production).',
  },
};

/** Returns the built-in profile names, `none` included as another name for `stdio`. */
export function listBuiltInProfiles(): string[] {
  return ['stdio', 'none', 'network'];
}

/** Resolves a profile name; this version knows the built-ins (see README "Permission profiles"). */
export function resolveProfile(name: string): ResolvedProfile {
  const key = name === 'none' ? 'stdio' : name;
  const found = BUILT_INS[key];
  if (found) return found;
  throw new LokError('PROFILE_INVALID', `Unknown permission profile "${name}": this version knows the built-in profiles stdio (alias none) and network; profile files are not supported yet.`, { exitCode: EXIT.usage, hint: 'Use --profile stdio (the default) or --profile network.' });
}
