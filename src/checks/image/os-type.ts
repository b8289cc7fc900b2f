import { defineCheck, type FindingInput } from '../../core/check.js';
import { extraProperties, getImage, type Image, listAllImages } from '../../openstack/image.js';
import { planImagePropertyChange } from './property-fix.js';

// Nova's OSType field (nova/objects/fields.py) accepts these two, lower-cased.
const validOsTypes = ['linux', 'windows'] as const;

interface OsTypeGuess {
  value: 'linux' | 'windows';
  confidence: 'high' | 'medium';
  reason: string;
}

const windowsPattern = /\bwin(dows)?[-_ ]?(\d|server|xp|vista|7|8|10|11|2k)|\bwindows\b|\bwin\d{2,4}\b/i;
const linuxPattern =
  /\b(linux|ubuntu|debian|centos|rhel|red ?hat|rocky|alma(linux)?|fedora|suse|sles|opensuse|cirros|alpine|arch|gentoo|coreos|flatcar|oracle ?linux|amzn|amazon ?linux)/i;

/** The value Nova should see, from `os_distro` first (operators set it on purpose), else from the name. */
export function guessOsType(image: Pick<Image, 'name'>, osDistro: string | undefined): OsTypeGuess | undefined {
  if (osDistro !== undefined && osDistro !== '') {
    if (/^win/i.test(osDistro)) return { value: 'windows', confidence: 'high', reason: `os_distro is "${osDistro}"` };
    if (linuxPattern.test(osDistro)) return { value: 'linux', confidence: 'high', reason: `os_distro is "${osDistro}"` };
  }
  const name = image.name ?? '';
  if (windowsPattern.test(name)) return { value: 'windows', confidence: 'medium', reason: `the name "${name}"` };
  if (linuxPattern.test(name)) return { value: 'linux', confidence: 'medium', reason: `the name "${name}"` };
  return undefined;
}

function inspectImage(image: Image, override: string | undefined): FindingInput | null {
  if (image.status !== 'active') return null;
  const properties = extraProperties(image);
  const osType = properties.os_type;
  if (osType !== undefined && (validOsTypes as readonly string[]).includes(osType.toLowerCase())) return null;
  const guess = guessOsType(image, properties.os_distro);
  const proposed = override ?? guess?.value;
  const problem = osType === undefined ? 'has no os_type' : `has os_type "${osType}", which Nova does not know`;
  return {
    resource: { type: 'image', id: image.id, name: image.name ?? undefined },
    message:
      `image ${problem}` +
      (override !== undefined
        ? `; will set "${override}" (--set os_type)`
        : guess
          ? `; looks like ${guess.value} (${guess.confidence} confidence, from ${guess.reason})`
          : '; cannot tell linux from windows: give --set os_type=linux|windows'),
    evidence: {
      os_type: osType ?? null,
      os_distro: properties.os_distro ?? null,
      proposed: proposed ?? null,
      confidence: override !== undefined ? 'given' : (guess?.confidence ?? null),
      reason: override !== undefined ? '--set os_type' : (guess?.reason ?? null),
      visibility: image.visibility ?? null,
    },
    fixable: proposed !== undefined,
  };
}

function readOverride(parameters: Readonly<Record<string, string>>): string | undefined {
  const value = parameters.os_type;
  if (value === undefined) return undefined;
  if (!(validOsTypes as readonly string[]).includes(value)) {
    throw new Error(`--set os_type=${value}: Nova accepts only ${validOsTypes.join(' or ')}`);
  }
  return value;
}

export default defineCheck({
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
    parameters: { os_type: 'the value to set on every flagged image instead of the guess: linux or windows' },
    fix: {
      safety: 'safe',
      reversible: true,
      description: 'sets os_type with one JSON-patch per image; undo restores the previous value or its absence',
    },
  },
  async *detect(ctx) {
    const override = readOverride(ctx.parameters);
    for await (const image of listAllImages(ctx.cloud)) {
      const finding = inspectImage(image, override);
      if (finding) yield finding;
    }
  },
  async recheck(finding, ctx) {
    const image = await getImage(ctx.cloud, finding.resource.id);
    return image === null ? null : inspectImage(image, readOverride(ctx.parameters));
  },
  async plan(finding, ctx) {
    const image = await getImage(ctx.cloud, finding.resource.id);
    const proposed = finding.evidence.proposed;
    if (image === null || typeof proposed !== 'string') return [];
    return [planImagePropertyChange(image, { os_type: proposed }, `set os_type=${proposed} on image ${image.name ?? image.id}`)];
  },
});
