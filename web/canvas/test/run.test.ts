import { describe, expect, it } from "vitest";
import { decodeFrame } from "../src/api/frames";
import { categoryTree, searchNodes } from "../src/graph/search";
import { applyMessage, errorsFromNodeErrors, initialRun, type RunState } from "../src/store/runStore";
import { HAVE_DATA, objectInfo } from "./fixtures";

const fold = (msgs: [string, any][], state: RunState = initialRun) =>
  msgs.reduce((s, [type, data]) => applyMessage(s, { type, data }), state);

describe("run state from WebSocket messages", () => {
  it("follows a prompt: cached nodes, running node with progress, outputs into the gallery", () => {
    const images = [{ filename: "a_00001_.png", subfolder: "", type: "output" }];
    let s = fold([
      ["status", { status: { exec_info: { queue_remaining: 1 } }, sid: "abc" }],
      ["execution_start", { prompt_id: "p1" }],
      ["execution_cached", { nodes: ["4", "5"], prompt_id: "p1" }],
      ["executing", { node: "3", display_node: "3", prompt_id: "p1" }],
      ["progress", { value: 5, max: 20, node: "3", prompt_id: "p1" }],
    ]);
    expect([s.clientId, s.queueRemaining, s.running, s.cached, s.progress["3"]]).toEqual(["abc", 1, "3", ["4", "5"], [5, 20]]);
    s = fold([["executing", { node: "9", prompt_id: "p1" }], ["executed", { node: "9", output: { images }, prompt_id: "p1" }],
              ["execution_success", { prompt_id: "p1" }], ["executing", { node: null, prompt_id: "p1" }]], s);
    expect(s.running).toBeNull();
    expect(s.outputs["9"]).toEqual(images);
    expect(s.gallery[0]).toEqual(images[0]);
    expect(s.done).toEqual(expect.arrayContaining(["4", "5", "3", "9"]));
  });

  it("marks the node of a runtime error and ignores unknown message types", () => {
    const s = fold([["execution_error", { node_id: "7", exception_type: "RuntimeError", exception_message: "boom" }],
                    ["some_plugin_event", { x: 1 }]]);
    expect(s.errors["7"].message).toBe("RuntimeError: boom");
  });

  it("maps validation errors to the node and the input they name", () => {
    const errors = errorsFromNodeErrors({
      "5": { class_type: "EmptyLatentImage", dependent_outputs: ["9"], errors: [
        { type: "value_bigger_than_max", message: "Value 99999 bigger than max of 16384", details: "width",
          extra_info: { input_name: "width" } },
        { type: "required_input_missing", message: "Required input is missing", details: "samples",
          extra_info: { input_name: "samples" } }] },
    });
    expect(errors["5"].inputs).toEqual({ width: "Value 99999 bigger than max of 16384: width",
                                         samples: "Required input is missing: samples" });
    expect(errors["5"].message.split("\n")).toHaveLength(2);
  });
});

describe("binary frames", () => {
  const frame = (parts: (number | Uint8Array)[]) => {
    const size = parts.reduce<number>((n, p) => n + (typeof p === "number" ? 4 : p.length), 0);
    const out = new Uint8Array(size);
    const view = new DataView(out.buffer);
    let at = 0;
    for (const p of parts) {
      if (typeof p === "number") { view.setUint32(at, p); at += 4; } else { out.set(p, at); at += p.length; }
    }
    return out.buffer;
  };

  it("decodes type-1 previews, type-4 previews with metadata and type-3 text", () => {
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff]);
    expect(decodeFrame(frame([1, 1, jpeg]))).toEqual({ kind: "preview", mime: "image/jpeg", image: jpeg });
    const meta = new TextEncoder().encode(JSON.stringify({ node_id: "3", display_node_id: "3", image_type: "image/png" }));
    expect(decodeFrame(frame([4, meta.length, meta, jpeg]))).toEqual({ kind: "preview", mime: "image/png", image: jpeg, nodeId: "3" });
    const id = new TextEncoder().encode("12");
    expect(decodeFrame(frame([3, id.length, id, new TextEncoder().encode("hi")]))).toEqual({ kind: "text", nodeId: "12", text: "hi" });
    expect(decodeFrame(frame([1]))).toBeNull();
  });
});

describe.skipIf(!HAVE_DATA)("node search", () => {
  const defs = HAVE_DATA ? objectInfo() : {};
  it("finds by fuzzy name and filters by what a dragged link can attach to", () => {
    expect(searchNodes(defs, "ksampler")[0].type).toBe("KSampler");
    expect(searchNodes(defs, "save img").map((h) => h.type)).toContain("SaveImage");
    const takesLatent = searchNodes(defs, "", { fromOutput: "LATENT" }, 500);
    expect(takesLatent.find((h) => h.type === "VAEDecode")?.slot).toBe("samples");
    expect(takesLatent.some((h) => h.type === "CLIPTextEncode")).toBe(false);
    const givesModel = searchNodes(defs, "", { fromInput: "MODEL" }, 500);
    expect(givesModel.find((h) => h.type === "CheckpointLoaderSimple")?.slot).toBe(0);
    expect(givesModel.some((h) => h.type === "SaveImage")).toBe(false);
  });

  it("builds the categorized add-node menu", () => {
    const tree = categoryTree(defs);
    const sampling = tree.children.find((c) => c.name === "sampling")!;
    expect(sampling.types.map((t) => t.type)).toContain("KSampler");
    expect(tree.children.find((c) => c.name === "utils")!.types.map((t) => t.type)).toContain("Reroute");
  });
});

describe("run state ownership", () => {
  it("queueing from another tab drops the node results of the previous one", async () => {
    const { useRunStore } = await import("../src/store/runStore");
    const run = useRunStore.getState;
    run().setOwner("tab-a");
    run().receive({ type: "executed", data: { node: "9", output: { images: [{ filename: "a.png", subfolder: "", type: "output" }] } } });
    run().setOwner("tab-a");
    expect(run().outputs["9"]).toHaveLength(1);
    run().setOwner("tab-b");
    expect([run().tabId, run().outputs, run().gallery.length]).toEqual(["tab-b", {}, 1]);
  });
});

describe("progress_state messages", () => {
  const entry = (node_id: string, state: string, value: number, max: number, display_node_id = node_id) =>
    ({ [node_id]: { node_id, display_node_id, real_node_id: node_id, parent_node_id: null, prompt_id: "p1", state, value, max } });

  it("shows per-node progress, on the canvas node an expansion's inner nodes belong to", () => {
    let s = fold([["execution_start", { prompt_id: "p1" }],
                  ["progress_state", { prompt_id: "p1", nodes: { ...entry("3", "finished", 1, 1), ...entry("12", "running", 0, 1),
                                                                 ...entry("12.0.1", "running", 4, 10, "12") } }]]);
    expect(s.progress["12"]).toEqual([4, 10]);
    expect(s.active).toEqual(["12"]);
    expect(s.done).toEqual(["3"]);
    // A plain `progress` of the inner node lands on the canvas node too.
    s = fold([["progress", { value: 6, max: 10, node: "12.0.1", prompt_id: "p1" }]], s);
    expect(s.progress["12"]).toEqual([6, 10]);
    expect(s.progress["12.0.1"]).toBeUndefined();
    s = fold([["progress_state", { prompt_id: "p1", nodes: { ...entry("3", "finished", 1, 1), ...entry("12", "finished", 1, 1),
                                                             ...entry("12.0.1", "finished", 10, 10, "12") } }]], s);
    expect(s.active).toEqual([]);
    expect(s.done.sort()).toEqual(["12", "3"]);
  });

  it("ignores another prompt's progress and clears running nodes when the prompt ends", () => {
    let s = fold([["execution_start", { prompt_id: "p1" }],
                  ["progress_state", { prompt_id: "other", nodes: entry("5", "running", 1, 2) }]]);
    expect(s.progress).toEqual({});
    s = fold([["progress_state", { prompt_id: "p1", nodes: entry("5", "running", 1, 2) }],
              ["execution_error", { prompt_id: "p1", node_id: "5", exception_type: "E", exception_message: "x" }]], s);
    expect(s.active).toEqual([]);
    expect(s.errors["5"].message).toBe("E: x");
  });
});
