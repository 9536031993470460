/**
 * Schema validation for the contracts: one compiled TypeBox validator per schema (cached), and
 * TypeBox errors flattened into `FieldError`s whose paths point at the offending value.
 */
import type { TSchema } from 'typebox';
import { Compile, type Validator } from 'typebox/compile';
import type { FieldError } from './common.js';

const validators = new WeakMap<TSchema, Validator>();

function validatorFor(schema: TSchema): Validator {
  let validator = validators.get(schema);
  if (validator === undefined) {
    validator = Compile(schema);
    validators.set(schema, validator);
  }
  return validator;
}

/** JSON Pointer escaping of one path segment (RFC 6901). */
export function pointerSegment(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** True when `value` satisfies `schema`. */
export function isValid(schema: TSchema, value: unknown): boolean {
  return validatorFor(schema).Check(value);
}

/**
 * The problems of `value` against `schema` (empty when valid), each with a JSON Pointer path.
 * `prefix` is prepended to every path (e.g. '/data'). TypeBox caps the number of collected errors
 * (System Settings `maxErrors`, default 8), which also bounds the work done on hostile input.
 */
export function validate(schema: TSchema, value: unknown, prefix = ''): FieldError[] {
  const validator = validatorFor(schema);
  if (validator.Check(value)) return [];
  const problems: FieldError[] = [];
  const seen = new Set<string>();
  const push = (path: string, message: string) => {
    const key = `${path}\u0000${message}`;
    if (seen.has(key)) return;
    seen.add(key);
    problems.push({ path, message });
  };
  for (const error of validator.Errors(value)) {
    const at = prefix + error.instancePath;
    switch (error.keyword) {
      case 'required':
        for (const property of error.params.requiredProperties) push(`${at}/${pointerSegment(property)}`, 'is required');
        break;
      case 'additionalProperties':
        for (const property of error.params.additionalProperties) push(`${at}/${pointerSegment(property)}`, 'is not allowed');
        break;
      case 'boolean':
        // `additionalProperties: false` reports each extra key twice; the keyword above names it.
        if (error.schemaPath.endsWith('/additionalProperties')) push(at, 'is not allowed');
        else push(at, error.message);
        break;
      default:
        push(at, error.message);
    }
  }
  // A failed Check always yields at least one problem, even if the error pass finds none.
  if (problems.length === 0) push(prefix, 'is invalid');
  return problems;
}
