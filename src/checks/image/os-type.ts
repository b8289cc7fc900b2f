import { UsageError } from '../../core/errors.js';
import type { Image } from '../../openstack/image.js';
import { enumProperties } from './nova-properties.js';
import {
  definePropertyCheck,
  type ImageView,
  type PropertyVerdict,
  verdictFromPolicy,
  wishFor,
} from './property-check.js';
import { imageScopeParameters } from './sweep.js';

// Nova's OSType field (nova/objects/fields.py) accepts these two, lower-cased.
const validOsTypes = enumProperties.os_type ?? [];

interface OsTypeGuess {
  value: 'linux' | 'windows';
  confidence: 'high' | 'medium';
  reason: string;
}

const windowsPattern = /\bwin(dows)?[-_ ]?(\d|server|xp|vista|7|8|10|11|2k)|\bwindows\b|\bwin\d{2,4}\b/i;
const linuxPattern =
  /\b(linux|ubuntu|debian|centos|rhel|red ?hat|rocky|alma(linux)?|fedora|suse|sles|opensuse|cirros|alpine|arch|gentoo|coreos|flatcar|oracle ?linux|amzn|amazon ?linux)/i;

/** The value Nova should see, from `os_distro` first (operators set it on purpose), else from the name. */
export function guessOsType(
  image: Pick<Image, 'name'>,
  osDistro: string | undefined,
): OsTypeGuess | undefined {
  if (osDistro !== undefined && osDistro !== '') {
    if (/^win/i.test(osDistro))
      return { value: 'windows', confidence: 'high', reason: `os_distro is "${osDistro}"` };
    if (linuxPattern.test(osDistro))
      return { value: 'linux', confidence: 'high', reason: `os_distro is "${osDistro}"` };
  }
  const name = image.name ?? '';
  if (windowsPattern.test(name))
    return { value: 'windows', confidence: 'medium', reason: `the name "${name}"` };
  if (linuxPattern.test(name)) return { value: 'linux', confidence: 'medium', reason: `the name "${name}"` };
  return undefined;
}

export interface OsTypeEnv {
  /** `--set os_type=…`: the value for every flagged image instead of the guess. */
  override: string | undefined;
}

/** Pure decision for one active image; exported for the unit tests' tables. */
export function inspectOsType(view: ImageView, env: OsTypeEnv): PropertyVerdict | null {
  const wish = wishFor(view, 'os_type');
  if (view.policy.ignored.has('os_type')) return null;
  const current = view.properties.os_type;
  const evidenceBase = { os_type: current ?? null, os_distro: view.properties.os_distro ?? null };
  if (wish.fromPolicy && wish.value !== undefined) {
    return verdictFromPolicy('os_type', current, { ...wish, value: wish.value }, evidenceBase);
  }
  // OSType.coerce lower-cases the value, so `Linux` is fine; stray spaces are not.
  if (current !== undefined && validOsTypes.includes(current.toLowerCase())) return null;
  const problem =
    current === undefined
      ? 'image has no os_type'
      : `image has os_type "${current}", which Nova does not know`;
  const lowered = current?.trim().toLowerCase();
  const guess: OsTypeGuess | undefined =
    lowered !== undefined && validOsTypes.includes(lowered)
      ? {
          value: lowered === 'windows' ? 'windows' : 'linux',
          confidence: 'high',
          reason: `os_type "${current}"`,
        }
      : guessOsType(view.image, view.properties.os_distro);
  const proposed = env.override ?? guess?.value;
  const detail =
    env.override !== undefined
      ? `will set "${env.override}" (--set os_type)`
      : guess
        ? `looks like ${guess.value} (${guess.confidence} confidence, from ${guess.reason})`
        : 'cannot tell linux from windows: give --set os_type=linux|windows';
  return {
    problems: [{ severity: 'warning', message: `${problem}; ${detail}` }],
    ...(proposed === undefined ? {} : { changes: { os_type: proposed } }),
    evidence: {
      ...evidenceBase,
      proposed: proposed ?? null,
      confidence: env.override !== undefined ? 'given' : (guess?.confidence ?? null),
      reason: env.override !== undefined ? '--set os_type' : (guess?.reason ?? null),
    },
  };
}

function readOverride(parameters: Readonly<Record<string, string>>): string | undefined {
  const value = parameters.os_type;
  if (value === undefined) return undefined;
  if (!validOsTypes.includes(value)) {
    throw new UsageError(`--set os_type=${value}: Nova accepts only ${validOsTypes.join(' or ')}`);
  }
  return value;
}

export default definePropertyCheck<OsTypeEnv>({
  meta: {
    id: 'image/os-type',
    title: 'Active images without a valid os_type',
    description:
      'Nova chooses guest defaults (Hyper-V enlightenments, FAT swap, hostname rules) from os_type; an image ' +
      'without it, or with a value Nova does not know, boots with generic defaults.',
    severity: 'warning',
    targets: ['cloud'],
    requires: { services: ['image'] },
    references: [
      'https://docs.openstack.org/glance/latest/admin/useful-image-properties.html',
      'nova/objects/fields.py (OSType)',
    ],
    parameters: {
      ...imageScopeParameters,
      os_type: 'the value to set on every flagged image instead of the guess: linux or windows',
    },
    fix: {
      safety: 'safe',
      reversible: true,
      description:
        'sets os_type with one JSON-patch per image; undo restores the previous value or its absence',
    },
  },
  prepare: async (ctx) => ({ override: readOverride(ctx.parameters) }),
  inspect: inspectOsType,
});
