/** Option checks shared by the framers (internal to codec). Bad options are programming errors, not peer errors, so they throw TypeError/RangeError rather than a CodecError. */

/** A byte limit: mandatory, a non-negative safe integer. */
export function requireByteLimit(owner: string, name: string, value: unknown): number {
  if (value === undefined) throw new TypeError(`${owner}: the option ${name} is required (every decoder has a maximum frame size)`);
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${owner}: ${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

export function requireByteOrder(owner: string, value: unknown, fallback: 'big' | 'little'): 'big' | 'little' {
  if (value === undefined) return fallback;
  if (value !== 'big' && value !== 'little') throw new RangeError(`${owner}: byteOrder must be 'big' or 'little', got ${String(value)}`);
  return value;
}
