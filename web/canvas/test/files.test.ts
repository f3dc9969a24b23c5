import { deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { graphFromBytes, OpenError } from "../src/files/openFile";
import { readPngText } from "../src/files/png";
import { findMissing } from "../src/graph/missing";
import { readWorkflow } from "../src/graph/workflow";
import { apiPrompt, editorWorkflow, HAVE_DATA, objectInfo, SKIP_REASON } from "./fixtures";

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  new DataView(out.buffer).setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  return out; // CRC left zero: the reader does not check it
}

function png(...chunks: Uint8Array[]): Uint8Array {
  const parts = [new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", new Uint8Array(13)), ...chunks,
                 chunk("IEND", new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

const enc = (s: string) => new TextEncoder().encode(s);
const tEXt = (k: string, v: string) => chunk("tEXt", new Uint8Array([...enc(k), 0, ...enc(v)]));

describe("PNG text chunks", () => {
  it("reads tEXt, iTXt (plain and compressed) and zTXt", async () => {
    const itxt = chunk("iTXt", new Uint8Array([...enc("a"), 0, 0, 0, 0, 0, ...enc("ünïcode")]));
    const itxtZ = chunk("iTXt", new Uint8Array([...enc("b"), 0, 1, 0, 0, 0, ...deflateSync(enc("packed"))]));
    const ztxt = chunk("zTXt", new Uint8Array([...enc("c"), 0, 0, ...deflateSync(enc("zipped"))]));
    const text = await readPngText(png(tEXt("prompt", "{}"), itxt, itxtZ, ztxt));
    expect(text).toEqual({ prompt: "{}", a: "ünïcode", b: "packed", c: "zipped" });
  });

  it("rejects non-PNG bytes", async () => {
    await expect(readPngText(enc("GIF89a...."))).rejects.toThrow(/not a PNG/);
  });
});

describe.skipIf(!HAVE_DATA)(`opening files (${HAVE_DATA ? "real files" : SKIP_REASON})`, () => {
  const defs = HAVE_DATA ? objectInfo() : {};

  it("loads the workflow chunk of a ComfyUI PNG", async () => {
    const wf = editorWorkflow("lora.json");
    const graph = await graphFromBytes("out.png", png(tEXt("prompt", JSON.stringify(apiPrompt("lora.json"))),
                                                       tEXt("workflow", JSON.stringify(wf))), defs);
    expect(graph.nodes.map((n) => n.id)).toEqual(wf.nodes.map((n: any) => n.id));
  });

  it("rebuilds a graph from the prompt chunk alone, links and widget values included", async () => {
    const prompt = apiPrompt("lora.json");
    const graph = await graphFromBytes("p.png", png(tEXt("prompt", JSON.stringify(prompt))), defs);
    expect(graph.nodes).toHaveLength(Object.keys(prompt).length);
    const linkCount = Object.values(prompt).flatMap((n: any) => Object.values(n.inputs))
      .filter((v) => Array.isArray(v) && typeof v[0] === "string").length;
    expect(graph.links).toHaveLength(linkCount);
    const sampler = graph.nodes.find((n) => n.type === "KSampler")!;
    const expected = Object.values(prompt).find((n: any) => n.class_type === "KSampler") as any;
    expect((sampler.widgets_values as unknown[])[2]).toBe(expected.inputs.steps);
  });

  it("says clearly when a file carries no workflow", async () => {
    await expect(graphFromBytes("plain.png", png(tEXt("Software", "x")), defs)).rejects.toThrow(OpenError);
    await expect(graphFromBytes("plain.png", png(), defs)).rejects.toThrow(/PNG without a workflow/);
    await expect(graphFromBytes("a.json", enc("{broken"), defs)).rejects.toThrow(/a.json is not valid JSON/);
    await expect(graphFromBytes("b.json", enc('{"foo": 1}'), defs)).rejects.toThrow(/b.json: not a ComfyUI workflow/);
    await expect(graphFromBytes("c.txt", enc("hello"), defs)).rejects.toThrow(/neither a workflow JSON nor a PNG/);
  });

  it("lists node types and model files the server lacks", () => {
    const graph = readWorkflow(editorWorkflow("lora.json"));
    graph.nodes[0].type = "FancyCustomNode";
    const missing = findMissing(graph, defs);
    expect(missing.types).toEqual(["FancyCustomNode"]); // front-end nodes (MarkdownNote) are not missing
    expect(missing.files.some((line) => /ckpt_name = /.test(line))).toBe(true);
  });
});
