import { beforeEach, describe, expect, it } from "vitest";
import { addNode, connect, copyNodes, EditError, pasteNodes, removeLink, removeNodes, setWidgetValue, toggleMode } from "../src/graph/edits";
import type { Graph } from "../src/graph/types";
import { emptyGraph, readWorkflow, writeWorkflow } from "../src/graph/workflow";
import { activeGraph, useGraphStore } from "../src/store/graphStore";
import { nodeRows, primitiveTarget } from "../src/canvas/nodeRows";
import { commit, createHistory, redo, undo } from "../src/store/history";
import { editorWorkflow, HAVE_DATA, objectInfo, SKIP_REASON } from "./fixtures";

const defs = HAVE_DATA ? objectInfo() : {};

function txt2img(g: Graph) {
  const ckpt = addNode(g, defs, "CheckpointLoaderSimple", [0, 0]);
  const pos = addNode(g, defs, "CLIPTextEncode", [300, 0]);
  const neg = addNode(g, defs, "CLIPTextEncode", [300, 200]);
  const latent = addNode(g, defs, "EmptyLatentImage", [300, 400]);
  const sampler = addNode(g, defs, "KSampler", [600, 0]);
  const decode = addNode(g, defs, "VAEDecode", [900, 0]);
  const save = addNode(g, defs, "SaveImage", [1100, 0]);
  connect(g, defs, ckpt.id, 0, sampler.id, "model");
  connect(g, defs, ckpt.id, 1, pos.id, "clip");
  connect(g, defs, ckpt.id, 1, neg.id, "clip");
  connect(g, defs, pos.id, 0, sampler.id, "positive");
  connect(g, defs, neg.id, 0, sampler.id, "negative");
  connect(g, defs, latent.id, 0, sampler.id, "latent_image");
  connect(g, defs, sampler.id, 0, decode.id, "samples");
  connect(g, defs, ckpt.id, 2, decode.id, "vae");
  connect(g, defs, decode.id, 0, save.id, "images");
  return { ckpt, pos, neg, latent, sampler, decode, save };
}

describe("undo history", () => {
  it("undoes and redoes, merges same-key commits, and drops the redo branch on a new edit", () => {
    let h = createHistory(0);
    h = commit(h, 1);
    h = commit(h, 2, "typing", 1000);
    h = commit(h, 3, "typing", 1500);
    expect(h.past).toEqual([0, 1]);
    h = undo(h);
    expect(h.present).toBe(1);
    h = redo(h);
    expect(h.present).toBe(3);
    h = undo(undo(h));
    h = commit(h, 9);
    expect([h.present, h.future]).toEqual([9, []]);
  });
});

describe.skipIf(!HAVE_DATA)(`graph edits (${HAVE_DATA ? "core object_info" : SKIP_REASON})`, () => {
  it("builds txt2img with consistent links on both ends", () => {
    const g = emptyGraph();
    const { sampler, ckpt } = txt2img(g);
    expect(g.links).toHaveLength(9);
    for (const l of g.links) {
      const target = g.nodes.find((n) => n.id === l.target_id)!;
      const origin = g.nodes.find((n) => n.id === l.origin_id)!;
      expect(target.inputs[l.target_slot].link).toBe(l.id);
      expect(origin.outputs[l.origin_slot].links).toContain(l.id);
    }
    expect(sampler.widgets_values).toEqual([0, "randomize", 20, 8, "euler", "simple", 1]);
    expect(ckpt.outputs.map((o) => o.type)).toEqual(["MODEL", "CLIP", "VAE"]);
  });

  it("refuses incompatible sockets and unknown inputs with a clear message", () => {
    const g = emptyGraph();
    const { ckpt, sampler, decode } = txt2img(g);
    expect(() => connect(g, defs, ckpt.id, 2, sampler.id, "model")).toThrow(/cannot connect VAE to input "model" of type MODEL/);
    expect(() => connect(g, defs, decode.id, 0, sampler.id, "nope")).toThrow(EditError);
  });

  it("converts a widget to an input when linked and back when unlinked, renumbering target slots", () => {
    const g = emptyGraph();
    const { sampler, decode, save } = txt2img(g);
    const prim = addNode(g, defs, "PrimitiveNode", [0, 600]);
    const link = connect(g, defs, prim.id, 0, sampler.id, "seed");
    expect(sampler.inputs.map((i) => i.name)).toEqual(["model", "positive", "negative", "latent_image", "seed"]);
    expect(prim.outputs[0].type).toBe("INT");
    expect(prim.widgets_values).toEqual([0, "fixed"]);
    const steps = connect(g, defs, prim.id, 0, sampler.id, "steps");
    removeLink(g, link.id);
    expect(sampler.inputs.map((i) => i.name)).toEqual(["model", "positive", "negative", "latent_image", "steps"]);
    expect(g.links.find((l) => l.id === steps.id)!.target_slot).toBe(4);
    expect(() => connect(g, defs, decode.id, 0, save.id, "filename_prefix")).toThrow(/IMAGE to input "filename_prefix" of type STRING/);
  });

  it("a PrimitiveNode feeding a combo shows that combo's choices, not a text field", () => {
    const g = emptyGraph();
    const { sampler } = txt2img(g);
    const prim = addNode(g, defs, "PrimitiveNode", [0, 600]);
    expect(nodeRows(prim, defs, primitiveTarget(g, prim)).widgets).toEqual([]);
    connect(g, defs, prim.id, 0, sampler.id, "sampler_name");
    expect(prim.outputs[0].type).toBe("COMBO");
    const [widget] = nodeRows(prim, defs, primitiveTarget(g, prim)).widgets;
    expect(widget.spec.kind).toBe("combo");
    expect(widget.spec.values).toContain("dpmpp_2m");
    expect(widget.spec.defaultValue).toBe(prim.widgets_values![0]);
    const seed = addNode(g, defs, "PrimitiveNode", [0, 800]);
    connect(g, defs, seed.id, 0, sampler.id, "seed");
    expect(nodeRows(seed, defs, primitiveTarget(g, seed)).widgets.map((w) => w.spec.kind)).toEqual(["int", "control"]);
  });

  it("replaces the link feeding an input instead of adding a second one", () => {
    const g = emptyGraph();
    const { neg, pos, sampler } = txt2img(g);
    connect(g, defs, neg.id, 0, sampler.id, "positive");
    expect(g.links.filter((l) => l.target_id === sampler.id && l.target_slot === 1)).toHaveLength(1);
    expect(pos.outputs[0].links).toEqual([]);
  });

  it("removes nodes with their links; toggles bypass and mute", () => {
    const g = emptyGraph();
    const { sampler, decode, pos } = txt2img(g);
    removeNodes(g, [sampler.id]);
    expect(g.links.some((l) => l.origin_id === sampler.id || l.target_id === sampler.id)).toBe(false);
    expect(decode.inputs[0].link).toBeNull();
    expect(pos.outputs[0].links).toEqual([]);
    toggleMode(g, [decode.id, pos.id], 4);
    expect([decode.mode, pos.mode]).toEqual([4, 4]);
    toggleMode(g, [decode.id, pos.id], 4);
    expect([decode.mode, pos.mode]).toEqual([0, 0]);
  });

  it("pastes copies with fresh ids; Ctrl+Shift+V also keeps links from outside", () => {
    const g = emptyGraph();
    const { sampler, decode, ckpt } = txt2img(g);
    const clip = copyNodes(g, [sampler.id, decode.id]);
    const plain = pasteNodes(g, clip, [0, 500]);
    const copies = plain.map((id) => g.nodes.find((n) => n.id === id)!);
    expect(copies[1].inputs[0].link).not.toBeNull(); // sampler → decode kept inside the clip
    expect(copies[1].inputs[1].link).toBeNull(); // vae came from outside
    const linked = pasteNodes(g, clip, [0, 900], true);
    const decodeCopy = g.nodes.find((n) => n.id === linked[1])!;
    const vae = g.links.find((l) => l.id === decodeCopy.inputs[1].link)!;
    expect(vae.origin_id).toBe(ckpt.id);
  });

  it("a dynamic combo change rebuilds its sub-widgets by name", () => {
    const g = emptyGraph();
    const node = addNode(g, defs, "ResizeImageMaskNode", [0, 0]);
    expect(node.widgets_values).toEqual(["scale by multiplier", 1, "area"]);
    setWidgetValue(g, defs, node.id, 0, "scale dimensions");
    expect(node.widgets_values).toEqual(["scale dimensions", 512, 512, "center", "area"]);
  });

  it("keeps a loaded workflow lossless through edits of other nodes", () => {
    const original = editorWorkflow("lora.json");
    const g = readWorkflow(structuredClone(original));
    const extra = addNode(g, defs, "EmptyImage", [0, 0]);
    removeNodes(g, [extra.id]);
    const out = JSON.parse(JSON.stringify(writeWorkflow(g)));
    expect(out.nodes).toEqual(original.nodes);
    expect(out.links).toEqual(original.links);
  });
});

describe.skipIf(!HAVE_DATA)("the store", () => {
  beforeEach(() => {
    useGraphStore.setState({ defs });
    useGraphStore.getState().openTab("t", emptyGraph());
  });

  it("every edit is one undo step; a drag gesture is one step however many moves", () => {
    const s = useGraphStore.getState;
    s().edit((g) => { addNode(g, defs, "EmptyImage", [0, 0]); });
    const id = activeGraph(s()).nodes.at(-1)!.id;
    s().edit((g) => setWidgetValue(g, defs, id, 0, 64), `w:${id}:0`);
    s().edit((g) => setWidgetValue(g, defs, id, 0, 640), `w:${id}:0`);
    s().beginGesture();
    for (let x = 1; x <= 5; x++) s().editTransient((g) => { g.nodes.find((n) => n.id === id)!.pos = [x, x]; });
    s().endGesture();
    const node = () => activeGraph(s()).nodes.find((n) => n.id === id);
    expect(node()!.pos).toEqual([5, 5]);
    s().undo();
    expect(node()!.pos).toEqual([0, 0]);
    expect(node()!.widgets_values![0]).toBe(640);
    s().undo();
    expect(node()!.widgets_values![0]).toBe(512);
    s().undo();
    expect(node()).toBeUndefined();
    s().redo();
    s().redo();
    expect(node()!.widgets_values![0]).toBe(640);
  });

  it("a refused edit changes nothing and leaves a notice", () => {
    const s = useGraphStore.getState;
    const before = activeGraph(s());
    expect(s().edit((g) => { addNode(g, defs, "NoSuchNode", [0, 0]); })).toBe(false);
    expect(activeGraph(s())).toBe(before);
    expect(s().notices.at(-1)!.text).toMatch(/NoSuchNode/);
  });
});

describe.skipIf(!HAVE_DATA)("widget values saved by name", () => {
  it("keeps the object shape some custom nodes use", () => {
    const g = readWorkflow({ nodes: [{ id: 1, type: "EmptyImage", widgets_values: { width: 64, height: 8, extra: "kept" } }], links: [] });
    setWidgetValue(g, defs, 1, 1, 16);
    expect(g.nodes[0].widgets_values).toEqual({ width: 64, height: 16, extra: "kept" });
  });
});
