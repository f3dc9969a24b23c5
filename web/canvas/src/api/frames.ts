/** Decodes the server's binary WebSocket frames (spec §2.4). */

export interface PreviewFrame {
  kind: "preview";
  mime: string;
  image: Uint8Array;
  /** Set by type-4 frames; type-1 frames belong to the node currently running. */
  nodeId?: string;
}

export interface TextFrame {
  kind: "text";
  nodeId: string;
  text: string;
}

export function decodeFrame(buffer: ArrayBuffer): PreviewFrame | TextFrame | null {
  const view = new DataView(buffer);
  if (buffer.byteLength < 8) return null;
  const eventType = view.getUint32(0);
  const bytes = new Uint8Array(buffer);
  if (eventType === 1) {
    const mime = view.getUint32(4) === 2 ? "image/png" : "image/jpeg";
    return { kind: "preview", mime, image: bytes.slice(8) };
  }
  if (eventType === 3) {
    const len = view.getUint32(4);
    const decoder = new TextDecoder();
    return { kind: "text", nodeId: decoder.decode(bytes.slice(8, 8 + len)), text: decoder.decode(bytes.slice(8 + len)) };
  }
  if (eventType === 4) {
    const len = view.getUint32(4);
    const meta = JSON.parse(new TextDecoder().decode(bytes.slice(8, 8 + len)));
    const nodeId = String(meta.display_node_id ?? meta.node_id);
    return { kind: "preview", mime: meta.image_type ?? "image/jpeg", image: bytes.slice(8 + len), nodeId };
  }
  return null;
}
