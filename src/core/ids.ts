/**
 * Generated job ids: 12 characters of Crockford base32 (60 random bits).
 * @module
 */

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

/** A new random job id such as `k3j9x2m4q8w1`. */
export function newJobId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  let id = "";
  for (const byte of bytes) id += ALPHABET[byte & 31];
  return id;
}
