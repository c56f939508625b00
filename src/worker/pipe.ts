/**
 * Reading child-process pipes without a fresh zeroed 64 KiB buffer per read:
 * a default stream reader allocates one for every chunk, which dominated the
 * supervisor's CPU (two events per job) and cost every job two more. A BYOB
 * reader fills buffers taken from a small free list instead.
 * @module
 */

const BUFFER_SIZE = 64 * 1024;
const free: ArrayBuffer[] = [];

/** Calls `onChunk` with each chunk of `stream` (a copy, so it may be kept) until the end. */
export async function readChunks(
  stream: ReadableStream<Uint8Array>,
  onChunk: (chunk: Uint8Array) => void,
): Promise<void> {
  const reader = stream.getReader({ mode: "byob" });
  let buffer = free.pop() ?? new ArrayBuffer(BUFFER_SIZE);
  try {
    while (true) {
      const { value, done } = await reader.read(new Uint8Array(buffer));
      if (value) buffer = value.buffer as ArrayBuffer;
      if (done) break;
      onChunk(value!.slice());
    }
  } catch {
    // The pipe broke: the process is gone. Keep what arrived.
    return;
  } finally {
    reader.releaseLock();
  }
  if (buffer.byteLength === BUFFER_SIZE && free.length < 8) free.push(buffer);
}
