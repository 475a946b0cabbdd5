/** Redaction is a domain rule (domain/redact.ts); storage code and older callers reach it here. */
export * from '../domain/redact.ts';
