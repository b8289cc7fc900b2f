import type { Check } from '../../core/check.js';
import { type Listing, type RenderOptions, renderListing } from '../../reporters/format.js';

export function listChecks(checks: readonly Check[], render: RenderOptions): string {
  const listing: Listing = {
    columns: ['ID', 'Severity', 'Targets', 'Fix', 'Title'],
    rows: checks.map((check) => [
      check.meta.id,
      check.meta.severity,
      check.meta.targets.join(','),
      check.meta.fix ? `${check.meta.fix.safety}${check.meta.fix.reversible ? ', reversible' : ''}` : 'no',
      check.meta.title,
    ]),
  };
  return renderListing(listing, render);
}
