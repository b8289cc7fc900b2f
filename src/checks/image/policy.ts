import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { StackdoctorError } from '../../core/errors.js';
import { booleanProperties, enumProperties, kvmRestricted, parseNovaBoolean } from './nova-properties.js';

/** A mistake in the operator's image policy file; the message starts with `FILE:LINE:`. */
export class ImagePolicyError extends StackdoctorError {
  constructor(message: string) {
    super('image-policy', message, { hint: 'see docs/policy.md for the format of stackdoctor.yaml' });
    this.name = 'ImagePolicyError';
  }
}

export interface ImagePolicyRule {
  /** `FILE:LINE` of the rule, shown in findings so the operator knows which rule asked for a value. */
  source: string;
  /** Case-insensitive globs (`*`, `?`) on the image name; empty: every name. */
  names: readonly string[];
  nameMatchers: readonly RegExp[];
  osType: string | undefined;
  /** Wanted value per property; null: the property must be absent. */
  properties: Readonly<Record<string, string | null>>;
  ignore: readonly string[];
}

export interface ImagePolicy {
  file: string;
  rules: readonly ImagePolicyRule[];
}

const propertyNamePattern = /^[A-Za-z0-9_.:-]+$/;
const booleanPropertySet: ReadonlySet<string> = new Set(booleanProperties);

/** Parses and validates `stackdoctor.yaml`. Pure: the caller reads the file. */
export function loadImagePolicy(text: string, file: string): ImagePolicy {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  const at = (node: Node | null | undefined): string => {
    const offset = node?.range?.[0];
    return `${file}:${offset === undefined ? 1 : lineCounter.linePos(offset).line}`;
  };
  const fail = (node: Node | null | undefined, message: string): never => {
    throw new ImagePolicyError(`${at(node)}: ${message}`);
  };
  const firstError = document.errors[0];
  if (firstError) {
    const line = firstError.linePos?.[0].line ?? 1;
    throw new ImagePolicyError(`${file}:${line}: ${firstError.message.split('\n')[0]}`);
  }
  const root = document.contents;
  if (root === null) return { file, rules: [] };
  if (!isMap(root)) return fail(root, 'expected a mapping with an "images" list');
  const rules: ImagePolicyRule[] = [];
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (key !== 'images') fail(pair.key as Node, `unknown key "${key}" (expected "images")`);
    const list = pair.value as Node | null;
    if (list === null) continue;
    if (!isSeq(list)) return fail(list, '"images" must be a list of rules');
    for (const item of list.items) rules.push(readRule(item as Node, at, fail));
  }
  return { file, rules };
}

type Fail = (node: Node | null | undefined, message: string) => never;

function readString(node: Node | null | undefined, what: string, fail: Fail): string {
  if (!isScalar(node) || typeof node.value !== 'string' || node.value === '') {
    return fail(node, `${what} must be a non-empty string`);
  }
  return node.value;
}

function readRule(node: Node, at: (node: Node | null | undefined) => string, fail: Fail): ImagePolicyRule {
  if (!isMap(node)) return fail(node, 'a rule must be a mapping with match, properties and/or ignore');
  const rule = { source: at(node), names: [] as string[], osType: undefined as string | undefined };
  const properties: Record<string, string | null> = {};
  const ignore: string[] = [];
  for (const pair of node.items) {
    const keyNode = pair.key as Node;
    const value = pair.value as Node | null;
    const key = isScalar(keyNode) ? String(keyNode.value) : '';
    if (key === 'match') {
      if (!isMap(value)) return fail(value ?? keyNode, '"match" must be a mapping (name, os_type)');
      for (const matchPair of value.items) {
        const matchKey = isScalar(matchPair.key) ? String(matchPair.key.value) : '';
        const matchValue = matchPair.value as Node | null;
        if (matchKey === 'name') {
          rule.names = isSeq(matchValue)
            ? matchValue.items.map((item) => readString(item as Node, 'a name pattern', fail))
            : [readString(matchValue, 'match.name', fail)];
        } else if (matchKey === 'os_type') {
          const osType = readString(matchValue, 'match.os_type', fail);
          if (osType !== 'linux' && osType !== 'windows')
            fail(matchValue, 'match.os_type must be linux or windows');
          rule.osType = osType;
        } else {
          fail(matchPair.key as Node, `unknown match key "${matchKey}" (expected name or os_type)`);
        }
      }
    } else if (key === 'properties') {
      if (!isMap(value)) return fail(value ?? keyNode, '"properties" must be a mapping of property: value');
      for (const propertyPair of value.items) {
        const nameNode = propertyPair.key as Node;
        const name = isScalar(nameNode) ? String(nameNode.value) : '';
        if (!propertyNamePattern.test(name)) fail(nameNode, `"${name}" is not an image property name`);
        properties[name] = readPropertyValue(name, propertyPair.value as Node | null, fail);
      }
    } else if (key === 'ignore') {
      if (!isSeq(value)) return fail(value ?? keyNode, '"ignore" must be a list of property names');
      for (const item of value.items) {
        const name = readString(item as Node, 'an ignored property', fail);
        if (!propertyNamePattern.test(name)) fail(item as Node, `"${name}" is not an image property name`);
        ignore.push(name);
      }
    } else {
      fail(keyNode, `unknown rule key "${key}" (expected match, properties, ignore)`);
    }
  }
  return { ...rule, nameMatchers: rule.names.map(globToRegExp), properties, ignore };
}

/** Glance keeps every extra property as a string; YAML booleans and numbers are written the way Glance would. */
function readPropertyValue(name: string, node: Node | null, fail: Fail): string | null {
  if (node === null || (isScalar(node) && node.value === null)) return null;
  if (!isScalar(node)) return fail(node, `${name}: expected a string, a boolean, a number or null`);
  const raw = node.value;
  if (typeof raw !== 'string' && typeof raw !== 'boolean' && typeof raw !== 'number') {
    return fail(node, `${name}: expected a string, a boolean, a number or null`);
  }
  const value = String(raw);
  // A policy that asks for a value Nova rejects would make stackdoctor break images: refuse it here.
  const allowed = kvmRestricted[name] ?? enumProperties[name];
  if (allowed && !allowed.includes(value)) {
    fail(node, `${name}: "${value}" is not accepted by Nova on KVM (${allowed.join(', ')})`);
  }
  if (booleanPropertySet.has(name) && parseNovaBoolean(value).kind === 'invalid') {
    fail(node, `${name}: "${value}" is not a boolean Nova understands (true/false, yes/no, on/off, 1/0)`);
  }
  return value;
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${body}$`, 'i');
}

export interface PolicyWish {
  value: string | null;
  source: string;
}

export interface ResolvedImagePolicy {
  wanted: ReadonlyMap<string, PolicyWish>;
  ignored: ReadonlySet<string>;
}

export const emptyResolvedPolicy: ResolvedImagePolicy = { wanted: new Map(), ignored: new Set() };

/** What the policy wants for one image: every matching rule in file order, later rules winning. */
export function resolveImagePolicy(
  policy: ImagePolicy | undefined,
  image: { name: string | undefined; osType: string | undefined },
): ResolvedImagePolicy {
  if (!policy) return emptyResolvedPolicy;
  const wanted = new Map<string, PolicyWish>();
  const ignored = new Set<string>();
  for (const rule of policy.rules) {
    if (rule.osType !== undefined && image.osType?.toLowerCase() !== rule.osType) continue;
    if (rule.names.length > 0 && !rule.names.some((glob) => globToRegExp(glob).test(image.name ?? '')))
      continue;
    for (const [name, value] of Object.entries(rule.properties)) {
      wanted.set(name, { value, source: rule.source });
      ignored.delete(name);
    }
    for (const name of rule.ignore) {
      ignored.add(name);
      wanted.delete(name);
    }
  }
  return { wanted, ignored };
}
