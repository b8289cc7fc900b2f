import { z } from 'zod';
import type { Json, JsonObject } from '../core/json.js';
import type { AuthMethod, AuthScope, DomainRef, UserRef } from './config.js';
import type { AuthenticatedIdentity } from './types.js';

/** Keystone v3 token requests and responses (reference §1.1–1.3). */

/**
 * The v3 base of an auth_url. Operators write `http://host:5000`, `…:5000/v3` or `…/identity/v3`; the
 * token API lives under `/v3` in every case. A `/v2.0` suffix (Keystone v2 is gone since Queens) is swapped.
 */
export function identityV3Url(authUrl: string): string {
  const trimmed = authUrl.replace(/\/+$/, '');
  if (/\/v3$/.test(trimmed)) return trimmed;
  return `${trimmed.replace(/\/v2\.0$/, '')}/v3`;
}

function domainJson(domain: DomainRef): JsonObject {
  return 'id' in domain ? { id: domain.id } : { name: domain.name };
}

function userJson(user: UserRef): JsonObject {
  return 'id' in user ? { id: user.id } : { name: user.name, domain: domainJson(user.domain) };
}

function scopeJson(scope: AuthScope): JsonObject | undefined {
  switch (scope.kind) {
    case 'project':
      return {
        project:
          'id' in scope.project
            ? { id: scope.project.id }
            : { name: scope.project.name, domain: domainJson(scope.project.domain) },
      };
    case 'domain':
      return { domain: domainJson(scope.domain) };
    case 'system':
      return { system: { all: true } };
    case 'trust':
      return { 'OS-TRUST:trust': { id: scope.trustId } };
    case 'unscoped':
      return undefined;
  }
}

/** The body of `POST /v3/auth/tokens` for the methods that talk to Keystone. */
export function buildTokenRequest(auth: AuthMethod): Json {
  switch (auth.type) {
    case 'password': {
      const identity: JsonObject = {
        methods: ['password'],
        password: { user: { ...userJson(auth.user), password: auth.password } },
      };
      const scope = scopeJson(auth.scope);
      return { auth: scope === undefined ? { identity } : { identity, scope } };
    }
    case 'application-credential': {
      const credential: JsonObject =
        'id' in auth.credential
          ? { id: auth.credential.id, secret: auth.secret }
          : { name: auth.credential.name, user: userJson(auth.credential.user), secret: auth.secret };
      // Never a scope: Keystone rejects one ("Application credentials cannot request a scope").
      return {
        auth: { identity: { methods: ['application_credential'], application_credential: credential } },
      };
    }
    case 'token': {
      const identity: JsonObject = { methods: ['token'], token: { id: auth.token } };
      const scope = scopeJson(auth.scope);
      return { auth: scope === undefined ? { identity } : { identity, scope } };
    }
    case 'admin-token':
    case 'none':
      throw new Error(`auth type ${auth.type} does not request tokens`);
  }
}

/** Who the credentials name, for messages: never a secret. */
export function describeCredentials(auth: AuthMethod): string {
  const user = (ref: UserRef) =>
    'id' in ref ? `user id ${ref.id}` : `user "${ref.name}" (domain ${describeDomain(ref.domain)})`;
  switch (auth.type) {
    case 'password':
      return `${user(auth.user)}${describeScope(auth.scope)}`;
    case 'application-credential':
      return 'id' in auth.credential
        ? `application credential ${auth.credential.id}`
        : `application credential "${auth.credential.name}" of ${user(auth.credential.user)}`;
    case 'token':
      return `the configured token${describeScope(auth.scope)}`;
    case 'admin-token':
      return 'the admin token';
    case 'none':
      return 'no credentials';
  }
}

function describeDomain(domain: DomainRef): string {
  return 'id' in domain ? `id ${domain.id}` : domain.name;
}

function describeScope(scope: AuthScope): string {
  switch (scope.kind) {
    case 'project':
      return 'id' in scope.project
        ? `, project id ${scope.project.id}`
        : `, project "${scope.project.name}" (domain ${describeDomain(scope.project.domain)})`;
    case 'domain':
      return `, domain ${describeDomain(scope.domain)}`;
    case 'system':
      return ', system scope';
    case 'trust':
      return `, trust ${scope.trustId}`;
    case 'unscoped':
      return '';
  }
}

const namedRef = z.looseObject({ id: z.string().optional(), name: z.string().optional() });

export const catalogEndpointSchema = z.looseObject({
  interface: z.string(),
  region: z.string().nullish(),
  region_id: z.string().nullish(),
  url: z.string(),
});

export const catalogEntrySchema = z.looseObject({
  type: z.string(),
  name: z.string().optional(),
  endpoints: z.array(catalogEndpointSchema),
});
export type CatalogEntry = z.infer<typeof catalogEntrySchema>;

export const tokenResponseSchema = z.object({
  token: z.looseObject({
    expires_at: z.string(),
    issued_at: z.string().optional(),
    methods: z.array(z.string()),
    user: z.looseObject({ id: z.string(), name: z.string().optional(), domain: namedRef.optional() }),
    project: z
      .looseObject({ id: z.string(), name: z.string().optional(), domain: namedRef.optional() })
      .optional(),
    domain: namedRef.optional(),
    roles: z.array(z.looseObject({ id: z.string().optional(), name: z.string() })).optional(),
    catalog: z.array(catalogEntrySchema).optional(),
  }),
});
export type TokenResponse = z.infer<typeof tokenResponseSchema>;

export function identityFromToken(response: TokenResponse): AuthenticatedIdentity {
  const { token } = response;
  const roles = (token.roles ?? []).map((role) => role.name);
  return {
    userId: token.user.id,
    userName: token.user.name,
    userDomain: token.user.domain?.name ?? token.user.domain?.id,
    projectId: token.project?.id,
    projectName: token.project?.name,
    projectDomain: token.project?.domain?.name ?? token.project?.domain?.id,
    roles,
    // Keystone role names are case-insensitive.
    isAdmin: roles.some((role) => role.toLowerCase() === 'admin'),
    method: token.methods.join('+'),
    expiresAt: token.expires_at,
  };
}
