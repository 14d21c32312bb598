/**
 * The bridge's one error class. `code` says what went wrong, for callers
 * that branch on it; the message names the server (credentials stripped),
 * the stream, the subject or the element, and what to do.
 */
export type BridgeErrorCode =
  | "UNREACHABLE" // no NATS server at the URL
  | "AUTH" // the server refused the credentials
  | "NO_STREAM" // no stream (and no --create)
  | "SUBJECT" // the stream does not capture the subject
  | "RECORD" // the record size does not divide the traffic, or a record does not fit
  | "FRAME" // a frame that cannot be bridged (too large, or the traffic ends inside one)
  | "RESUME" // the resume state does not fit the element
  | "PUBLISH" // JetStream refused a message for good (permissions, size)
  | "CONFIG"; // bad options

export class BridgeError extends Error {
  override readonly name = "BridgeError";
  readonly code: BridgeErrorCode;

  constructor(code: BridgeErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** A server URL fit to print: user:password@ (or a token@) removed. */
export function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/g, "//");
}
