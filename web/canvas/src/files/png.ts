/** Reads the text chunks (tEXt, iTXt, zTXt) of a PNG, where ComfyUI stores `workflow` and `prompt` (spec §4). */

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

export class PngError extends Error {}

async function inflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export function isPng(bytes: Uint8Array): boolean {
  return SIGNATURE.every((b, i) => bytes[i] === b);
}

export async function readPngText(bytes: Uint8Array): Promise<Record<string, string>> {
  if (!isPng(bytes)) throw new PngError("not a PNG file (bad signature)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const latin1 = new TextDecoder("latin1");
  const utf8 = new TextDecoder();
  const out: Record<string, string> = {};
  let offset = 8;
  while (offset + 8 <= bytes.length) {
    const length = view.getUint32(offset);
    const type = latin1.decode(bytes.slice(offset + 4, offset + 8));
    const data = bytes.slice(offset + 8, offset + 8 + length);
    if (data.length < length) throw new PngError(`PNG chunk ${type} is truncated`);
    offset += 12 + length;
    if (type === "IEND") break;
    const nul = data.indexOf(0);
    if (nul < 0) continue;
    const keyword = latin1.decode(data.slice(0, nul));
    if (type === "tEXt") out[keyword] = latin1.decode(data.slice(nul + 1));
    else if (type === "zTXt") out[keyword] = latin1.decode(await inflate(data.slice(nul + 2)));
    else if (type === "iTXt") {
      const compressed = data[nul + 1] === 1;
      const langEnd = data.indexOf(0, nul + 3);
      const transEnd = data.indexOf(0, langEnd + 1);
      const text = data.slice(transEnd + 1);
      out[keyword] = utf8.decode(compressed ? await inflate(text) : text);
    }
  }
  return out;
}
