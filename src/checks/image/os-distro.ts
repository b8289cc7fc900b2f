import { UsageError } from '../../core/errors.js';
import {
  guessOsinfoShortId,
  indexOsinfo,
  loadOsinfoDatabase,
  matchOsDistro,
  type OsinfoGuess,
  type OsinfoIndex,
} from '../../images/osinfo.js';
import type { CloudSession } from '../../openstack/types.js';
import {
  definePropertyCheck,
  type ImageView,
  type PropertyVerdict,
  verdictFromPolicy,
  wishFor,
} from './property-check.js';
import { imageScopeParameters } from './sweep.js';

export interface OsDistroEnv {
  osinfo: OsinfoIndex;
  /** `--set os_distro=…`, already checked against osinfo. */
  override: string | undefined;
}

function describeGuess(guess: OsinfoGuess | undefined, env: OsDistroEnv): string {
  if (env.override !== undefined) return `will set "${env.override}" (--set os_distro)`;
  if (!guess) return 'no guess from the name: give --set os_distro=SHORT-ID (osinfo-query os)';
  return `suggest "${guess.shortId}" (${guess.confidence} confidence: ${guess.reason})`;
}

/** Pure decision for one active image; exported for the unit tests' tables. */
export function inspectOsDistro(view: ImageView, env: OsDistroEnv): PropertyVerdict | null {
  if (view.policy.ignored.has('os_distro')) return null;
  const wish = wishFor(view, 'os_distro');
  const current = view.properties.os_distro;
  const database = env.osinfo.database;
  const evidenceBase = {
    os_distro: current ?? null,
    os_version: view.properties.os_version ?? null,
    osinfo_db: `${database.version} (${database.source})`,
  };
  if (wish.fromPolicy && wish.value !== undefined) {
    return verdictFromPolicy(
      'os_distro',
      current,
      { ...wish, value: wish.value },
      { ...evidenceBase, match: null },
    );
  }

  const match = current === undefined ? undefined : matchOsDistro(env.osinfo, current);
  if (match?.kind === 'short-id' || match?.kind === 'id') return null;
  const guess = guessOsinfoShortId(env.osinfo, {
    name: view.image.name ?? undefined,
    osDistro: current,
    osVersion: view.properties.os_version,
  });
  const caseFix = current === undefined ? undefined : matchOsDistro(env.osinfo, current.trim().toLowerCase());
  const lowered = caseFix?.kind === 'short-id' ? caseFix.os : undefined;
  const proposed = env.override ?? (lowered ? current?.trim().toLowerCase() : guess?.shortId);
  const confidence = env.override !== undefined ? 'given' : lowered ? 'high' : (guess?.confidence ?? null);

  let severity: 'warning' | 'info' = 'warning';
  let problem: string;
  if (current === undefined) {
    problem = 'image has no os_distro: Nova cannot look up libosinfo defaults (disk bus, NIC model) for it';
  } else if (lowered) {
    problem = `os_distro "${current}" is not found as written: libosinfo short-ids are exact and lower-case`;
  } else if (match?.kind === 'distro') {
    // Glance's own documentation recommends these names, so this is a missed optimisation, not a mistake.
    severity = 'info';
    problem = `os_distro "${current}" follows Glance's convention, but Nova's libosinfo lookup needs a short-id`;
  } else {
    const prefix = /^[a-z-]+/.exec(current)?.[0];
    const knownFamily = prefix !== undefined && env.osinfo.distros.has(prefix.replace(/-$/, ''));
    if (knownFamily) severity = 'info';
    problem = knownFamily
      ? `os_distro "${current}" is not in osinfo-db ${database.version}: a newer release, or a typo`
      : `os_distro "${current}" is not a value libosinfo knows (osinfo-db ${database.version})`;
  }
  const reason =
    env.override !== undefined
      ? '--set os_distro'
      : lowered
        ? 'the same value in lower case'
        : (guess?.reason ?? null);
  const detail =
    lowered && env.override === undefined
      ? `suggest "${proposed}" (high confidence)`
      : describeGuess(guess, env);
  return {
    problems: [{ severity, message: `${problem}; ${detail}` }],
    ...(proposed === undefined ? {} : { changes: { os_distro: proposed } }),
    evidence: {
      ...evidenceBase,
      match: match?.kind ?? null,
      proposed: proposed ?? null,
      confidence,
      reason,
    },
  };
}

const databases = new WeakMap<CloudSession, Map<string, Promise<OsinfoIndex>>>();

/** osinfo-db is read once per session (about 800 XML files). */
function loadOsinfoOnce(cloud: CloudSession, directory: string | undefined): Promise<OsinfoIndex> {
  let perSession = databases.get(cloud);
  if (!perSession) {
    perSession = new Map();
    databases.set(cloud, perSession);
  }
  const key = directory ?? '';
  let index = perSession.get(key);
  if (!index) {
    index = loadOsinfoDatabase(directory).then(indexOsinfo);
    perSession.set(key, index);
  }
  return index;
}

export default definePropertyCheck<OsDistroEnv>({
  meta: {
    id: 'image/os-distro',
    title: 'Active images whose os_distro libosinfo cannot resolve',
    description:
      "Nova's libvirt driver looks os_distro up in libosinfo (short-id or id) to choose the disk bus and NIC " +
      'model; an image without it, or with a name libosinfo does not know, gets generic defaults.',
    severity: 'warning',
    targets: ['cloud'],
    requires: { services: ['image'] },
    references: [
      'https://docs.openstack.org/glance/latest/admin/useful-image-properties.html',
      'https://gitlab.com/libosinfo/osinfo-db',
      'nova/virt/osinfo.py',
    ],
    parameters: {
      ...imageScopeParameters,
      os_distro: 'the libosinfo short-id to set on every flagged image instead of the guess',
      osinfo_dir: 'an osinfo-db tree to use instead of /usr/share/osinfo (e.g. a newer osinfo-db release)',
    },
    fix: {
      safety: 'safe',
      reversible: true,
      description:
        'sets os_distro to the suggested short-id with one JSON-patch per image; undo restores the old value or its absence',
    },
  },
  async prepare(ctx) {
    const osinfo = await loadOsinfoOnce(ctx.cloud, ctx.parameters.osinfo_dir);
    const override = ctx.parameters.os_distro;
    if (
      override !== undefined &&
      matchOsDistro(osinfo, override).kind !== 'short-id' &&
      matchOsDistro(osinfo, override).kind !== 'id'
    ) {
      throw new UsageError(
        `--set os_distro=${override}: not a short-id or id in osinfo-db ${osinfo.database.version}`,
        {
          hint: 'osinfo-query os lists them',
        },
      );
    }
    return { osinfo, override };
  },
  inspect: inspectOsDistro,
});
