/**
 * A request's fields as the wire decoder hands them over: XML elements and JSON keys alike.
 * A repeated element (or a JSON array) is a list; a nested element is a map; everything else is
 * a string (JSON numbers and booleans are turned into strings by the decoder).
 */
export type FieldValue = string | FieldValue[] | FieldMap;
export interface FieldMap {
  [key: string]: FieldValue;
}

/**
 * A value read where one is expected: a one-item list counts as its item, as one XML element
 * does (the wire decoder already reads JSON this way; this keeps stored and built-in fields to
 * the same rule). A longer list stays a list, for the caller to refuse by name.
 */
export function single(value: FieldValue): FieldValue {
  return Array.isArray(value) && value.length === 1 ? value[0]! : value;
}
