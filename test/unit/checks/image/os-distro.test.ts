import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { inspectOsDistro, type OsDistroEnv } from '../../../../src/checks/image/os-distro.js';
import { loadImagePolicy } from '../../../../src/checks/image/policy.js';
import { toFinding, viewImage } from '../../../../src/checks/image/property-check.js';
import { indexOsinfo, readShippedOsinfo } from '../../../../src/images/osinfo.js';
import type { Image } from '../../../../src/openstack/image.js';

const image = (fields: Record<string, unknown>): Image => ({
  id: '11111111-2222-3333-4444-555555555555',
  status: 'active',
  ...fields,
});

// The shipped list (generated from Debian's osinfo-db 20221203) keeps these tables stable.
let env: OsDistroEnv;
before(async () => {
  env = { osinfo: indexOsinfo(await readShippedOsinfo()), override: undefined };
});

describe('image/os-distro decisions', () => {
  // fields → proposed value (null: no finding; undefined: finding without a guess), confidence, severity
  const cases: [Record<string, unknown>, string | null | undefined, string?, string?][] = [
    [{ name: 'x', os_distro: 'ubuntu22.04' }, null],
    [{ name: 'x', os_distro: 'http://ubuntu.com/ubuntu/22.04' }, null],
    [{ name: 'x', os_distro: 'ubuntujammy' }, null],
    [{ name: 'Ubuntu 22.04 LTS' }, 'ubuntu22.04', 'high', 'warning'],
    [{ name: 'debian-11-genericcloud-amd64' }, 'debian11', 'high', 'warning'],
    [{ name: 'Windows Server 2022 Standard' }, 'win2k22', 'high', 'warning'],
    [{ name: 'win2k19-datacenter' }, 'win2k19', 'high', 'warning'],
    [{ name: 'Rocky-9-GenericCloud-Base-9.3' }, 'rocky9', 'high', 'warning'],
    [{ name: 'golden-image-v3' }, undefined, undefined, 'warning'],
    // osinfo-db 20221203 has no Debian 12: say so instead of guessing
    [{ name: 'Debian 12 bookworm' }, undefined, undefined, 'warning'],
    // Glance's convention: not wrong, but Nova's lookup needs the short-id
    [{ name: 'base', os_distro: 'ubuntu', os_version: '22.04' }, 'ubuntu22.04', 'high', 'info'],
    [{ name: 'Ubuntu 20.04', os_distro: 'ubuntu' }, 'ubuntu20.04', 'high', 'info'],
    [{ name: 'x', os_distro: 'Ubuntu22.04' }, 'ubuntu22.04', 'high', 'warning'],
    [{ name: 'Ubuntu 22.04', os_distro: 'canonical-ubuntu' }, 'ubuntu22.04', 'high', 'warning'],
    // a newer release than the database knows
    [{ name: 'noble', os_distro: 'ubuntu24.04' }, undefined, undefined, 'info'],
  ];
  for (const [fields, proposed, confidence, severity] of cases) {
    it(`${JSON.stringify(fields)} → ${proposed === null ? 'fine' : (proposed ?? 'no guess')}`, () => {
      const verdict = inspectOsDistro(viewImage(image(fields), undefined), env);
      if (proposed === null) {
        assert.equal(verdict, null);
        return;
      }
      assert.ok(verdict);
      assert.equal(verdict.evidence.proposed, proposed ?? null);
      assert.equal(verdict.evidence.confidence, confidence ?? null);
      const finding = toFinding(image(fields), verdict);
      assert.equal(finding.severity, severity);
      assert.equal(finding.fixable, proposed !== undefined);
      if (proposed !== undefined) assert.deepEqual(verdict.changes, { os_distro: proposed });
    });
  }

  it('says how sure the guess is in the message', () => {
    const verdict = inspectOsDistro(viewImage(image({ name: 'Ubuntu 22.04 LTS' }), undefined), env);
    assert.match(
      verdict?.problems[0]?.message ?? '',
      /suggest "ubuntu22\.04" \(high confidence: the name matches "Ubuntu 22\.04 LTS"\)/,
    );
  });

  it('takes --set os_distro for every flagged image', () => {
    const verdict = inspectOsDistro(viewImage(image({ name: 'golden' }), undefined), {
      ...env,
      override: 'debian11',
    });
    assert.deepEqual(verdict?.changes, { os_distro: 'debian11' });
    assert.equal(verdict?.evidence.confidence, 'given');
  });

  it('the policy names the value per image pattern, over any guess', () => {
    const policy = loadImagePolicy(
      'images:\n  - match: { name: "golden*" }\n    properties: { os_distro: debian11 }\n',
      'p.yaml',
    );
    assert.deepEqual(inspectOsDistro(viewImage(image({ name: 'golden-1' }), policy), env)?.changes, {
      os_distro: 'debian11',
    });
    assert.equal(
      inspectOsDistro(viewImage(image({ name: 'golden-2', os_distro: 'debian11' }), policy), env),
      null,
    );
  });
});
