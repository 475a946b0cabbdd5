/**
 * A request's fields as the wire decoder hands them over: XML elements and JSON keys alike.
 * A repeated element (or a JSON array) is a list; a nested element is a map; everything else is
 * a string (JSON numbers and booleans are turned into strings by the decoder).
 */
export type FieldValue = string | FieldValue[] | FieldMap;
export interface FieldMap {
  [key: string]: FieldValue;
}
