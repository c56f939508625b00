/**
 * Stored output is the tail of a stream: its last bytes, after a one-line
 * marker when earlier bytes were cut. This module owns that marker, so the
 * runner that writes it and the readers that follow a stream agree on it.
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MARKER = /^\[queuectl: (\d+) earlier bytes cut; the last (\d+) are kept\]\n/;

/** The marker line put before a tail when `dropped` bytes were cut to keep `cap`. */
export function cutMarker(dropped: number, cap: number): Uint8Array {
  return encoder.encode(`[queuectl: ${dropped} earlier bytes cut; the last ${cap} are kept]\n`);
}

/** A stored tail split into its cut count and the kept bytes. */
export interface Tail {
  /** Bytes cut before the kept ones (0 when nothing was cut). */
  dropped: number;
  /** The kept bytes, the end of the stream. */
  kept: Uint8Array;
}

/**
 * Splits stored output into the marker's cut count and the kept bytes. Output
 * that merely starts like a marker is taken as it is: a real marker says how
 * many bytes follow it, and they must be exactly that many.
 */
export function parseTail(stored: Uint8Array): Tail {
  if (stored[0] === 0x5b) {
    const head = decoder.decode(stored.subarray(0, 120));
    const match = MARKER.exec(head);
    if (match) {
      const markerLength = encoder.encode(match[0]).length;
      if (stored.length - markerLength === Number(match[2])) {
        return { dropped: Number(match[1]), kept: stored.subarray(markerLength) };
      }
    }
  }
  return { dropped: 0, kept: stored };
}

/**
 * The bytes of a stream from offset `from` on, out of its stored tail, and
 * the stream's length: bytes already cut are skipped.
 */
export function tailFrom(stored: Uint8Array, from: number): { bytes: Uint8Array; total: number } {
  const { dropped, kept } = parseTail(stored);
  const total = dropped + kept.length;
  const start = Math.max(0, from - dropped);
  return { bytes: start >= kept.length ? new Uint8Array() : kept.subarray(start), total };
}
