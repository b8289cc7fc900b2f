import type { Severity } from '../core/check.js';
import type { JsonObject } from '../core/json.js';

/** Named groups of a signature's regex that matched; absent optional groups are left out. */
export type SignatureValues = Readonly<Record<string, string>>;

/** A resource a match is about (e.g. the instance of an orphaned allocation); matches are grouped by it. */
export interface SignatureResource {
  type: string;
  id: string;
}

export interface LogSignature {
  /** kebab-case id; also the name of its file under `src/logs/signatures/`. */
  id: string;
  title: string;
  /** Where the text comes from (source file, reference section). */
  references: readonly string[];
  /** The check whose problem this signature is evidence of, as `area/name`. */
  relatedCheck?: string;
  severity: Severity;
  /**
   * Exact substrings, one of which every matching line contains. Lines are only decoded and run through
   * `pattern` when a literal is found, so these must be specific: they decide the scanner's speed.
   */
  literals: readonly string[];
  /** Applied to the message part of the line (after the oslo.log prefix); named groups become values. */
  pattern: RegExp;
  /** Values → evidence (e.g. a service version mapped to its release). */
  describe(values: SignatureValues): JsonObject;
  /** Real lines (with their oslo.log prefix) that must match; the catalogue test scans them. */
  examples: readonly string[];
  /** Groups matches by resource; without it all matches of the signature form one finding. */
  resourceOf?(values: SignatureValues): SignatureResource;
}

const signatureIdPattern = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const checkIdPattern = /^[a-z0-9]+(?:-[a-z0-9]+)*\/[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** The scanner's line matcher needs literals at least this long to skip ahead quickly. */
export const minimumLiteralLength = 8;

/** Declares a signature; malformed metadata throws at load time so the catalogue test catches it. */
export function defineLogSignature(signature: LogSignature): LogSignature {
  const problems: string[] = [];
  if (!signatureIdPattern.test(signature.id)) problems.push(`id "${signature.id}" is not kebab-case`);
  if (signature.title.trim() === '') problems.push('title is empty');
  if (signature.references.length === 0) problems.push('no references');
  if (signature.relatedCheck !== undefined && !checkIdPattern.test(signature.relatedCheck)) {
    problems.push(`related check "${signature.relatedCheck}" is not area/name`);
  }
  if (signature.literals.length === 0) problems.push('no literals');
  for (const literal of signature.literals) {
    if (literal.length < minimumLiteralLength) problems.push(`literal "${literal}" is too short`);
  }
  if (signature.examples.length === 0) problems.push('no examples');
  if (signature.pattern.global || signature.pattern.sticky)
    problems.push('pattern must not be global or sticky');
  if (problems.length > 0) throw new Error(`invalid log signature ${signature.id}: ${problems.join('; ')}`);
  return signature;
}
