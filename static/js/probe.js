// Decoding of binary probe frames (docs/protocol.md, the binary probe frame):
//
//     "CSP1" | uint32 LE header length H | H bytes of UTF-8 JSON header | uint8 payload
//
// Each blob in the header names a slice of the payload; we hand out views, never copies.

/** @typedef {import('./types.js').ProbeFrame} ProbeFrame */
/** @typedef {import('./types.js').Blob} Blob */

const MAGIC = [0x43, 0x53, 0x50, 0x31]; // "CSP1"
const decoder = new TextDecoder("utf-8");

export class ProbeDecodeError extends Error {}

/**
 * Decode one binary frame. Throws ProbeDecodeError with a reason when the frame is malformed.
 * @param {ArrayBuffer} buffer
 * @returns {ProbeFrame}
 */
export function decodeProbe(buffer) {
  const bytes = new Uint8Array(buffer);
  if (bytes.length < 8 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new ProbeDecodeError("not a probe frame (bad magic)");
  }
  const headerLength = new DataView(buffer).getUint32(4, true);
  if (8 + headerLength > bytes.length) {
    throw new ProbeDecodeError(`header length ${headerLength} runs past the frame (${bytes.length} bytes)`);
  }
  /** @type {ProbeFrame} */
  const header = JSON.parse(decoder.decode(bytes.subarray(8, 8 + headerLength)));
  const payloadStart = 8 + headerLength;
  const payloadLength = bytes.length - payloadStart;
  for (const blob of header.blobs || []) {
    const expected = blob.count * blob.height * blob.width * blob.channels;
    if (blob.offset < 0 || blob.offset + blob.length > payloadLength || blob.length < expected) {
      throw new ProbeDecodeError(`blob ${blob.kind} of layer ${blob.layer} lies outside the payload`);
    }
    blob.pixels = new Uint8Array(buffer, payloadStart + blob.offset, expected);
  }
  header.blobs = header.blobs || [];
  return header;
}

/**
 * The blobs of a frame grouped by layer index, then kind.
 * @param {ProbeFrame} frame
 * @returns {Map<number, Map<string, Blob>>}
 */
export function blobsByLayer(frame) {
  const layers = new Map();
  for (const blob of frame.blobs) {
    if (!layers.has(blob.layer)) layers.set(blob.layer, new Map());
    layers.get(blob.layer).set(blob.kind, blob);
  }
  return layers;
}
