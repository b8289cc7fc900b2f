import { z } from 'zod';
import type { CloudSession } from './types.js';

/** Mistral's API (catalog type `workflowv2`); paths are relative to the `/v2` endpoint. */

const pageSize = 1000;

export const mistralActionSchema = z
  .object({
    id: z.string().nullable().optional(),
    name: z.string(),
    is_system: z.boolean().nullable().optional(),
    scope: z.string().nullable().optional(),
    definition: z.string().nullable().optional(),
    namespace: z.string().nullable().optional(),
  })
  .catchall(z.unknown());
export type MistralAction = z.infer<typeof mistralActionSchema>;

const actionPageSchema = z.object({ actions: z.array(mistralActionSchema), next: z.string().optional() });

/**
 * Every action `GET /v2/actions` lists. Mistral pages by name with a `next` URL whose `marker` is the last
 * name of the page; the provider-based implementation (Victoria on) lists the marker again at the start of
 * the next page, so names are de-duplicated and a page adding nothing new ends the walk.
 */
export async function listMistralActions(cloud: CloudSession): Promise<MistralAction[]> {
  const byName = new Map<string, MistralAction>();
  let marker: string | undefined;
  for (;;) {
    const response = await cloud.request('workflowv2', {
      path: '/actions',
      query: { limit: pageSize, sort_keys: 'name', sort_dirs: 'asc', marker },
      schema: actionPageSchema,
    });
    let added = 0;
    for (const action of response.body.actions) {
      if (!byName.has(action.name)) added += 1;
      byName.set(action.name, action);
    }
    const next =
      response.body.next === undefined
        ? null
        : new URL(response.body.next, 'http://x').searchParams.get('marker');
    if (next === null || added === 0 || next === marker) return [...byName.values()];
    marker = next;
  }
}

/**
 * Whether the API has `/v2/dynamic_actions`, added in Wallaby (Mistral 12), after action providers came in
 * Victoria (11): a 200 proves a provider-based Mistral, a 404 leaves Ussuri or Victoria open.
 */
export async function hasDynamicActionsApi(cloud: CloudSession): Promise<boolean> {
  const response = await cloud.request('workflowv2', {
    path: '/dynamic_actions',
    query: { limit: 1 },
    acceptStatus: [200, 404],
  });
  return response.status === 200;
}
