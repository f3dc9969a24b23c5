import { describe, expect, it } from "vitest";
import { nodeRows } from "../src/canvas/nodeRows";
import { addNode, connect } from "../src/graph/edits";
import { emptyGraph, readWorkflow } from "../src/graph/workflow";
import { activeGraph, useGraphStore } from "../src/store/graphStore";
import { persistTabs, restoreTabs } from "../src/store/persist";
import { HAVE_DATA, objectInfo } from "./fixtures";

function memoryStorage(): Storage {
  const data = new Map<string, string>();
  return {
    get length() { return data.size; },
    clear: () => data.clear(),
    getItem: (k) => data.get(k) ?? null,
    key: (i) => [...data.keys()][i] ?? null,
    removeItem: (k) => { data.delete(k); },
    setItem: (k, v) => { data.set(k, String(v)); },
  };
}

describe("open tabs across reloads", () => {
  it("saves every tab's workflow and restores them with the active one", async () => {
    const storage = memoryStorage();
    const stop = persistTabs(storage);
    const s = useGraphStore.getState;
    s().openTab("one", readWorkflow({ nodes: [], links: [], extra: { mark: 1 } }));
    s().openTab("two", readWorkflow({ nodes: [], links: [], extra: { mark: 2 } }));
    await new Promise((r) => setTimeout(r, 400));
    stop();
    useGraphStore.setState({ tabs: [], activeId: "" });
    expect(restoreTabs(storage)).toBe(true);
    expect(s().tabs.map((t) => t.name).slice(-2)).toEqual(["one", "two"]);
    expect(activeGraph(s()).rest.extra).toEqual({ mark: 2 });
  });

  it("ignores a corrupt saved state", () => {
    const storage = memoryStorage();
    storage.setItem("diffloom.tabs", "{not json");
    expect(restoreTabs(storage)).toBe(false);
  });
});

describe.skipIf(!HAVE_DATA)("node rows", () => {
  const defs = HAVE_DATA ? objectInfo() : {};
  it("a linked widget shows as a socket instead of a widget", () => {
    const g = emptyGraph();
    const sampler = addNode(g, defs, "KSampler", [0, 0]);
    const prim = addNode(g, defs, "PrimitiveNode", [0, 0]);
    expect(nodeRows(sampler, defs).widgets.map((w) => w.spec.name)).toContain("seed");
    connect(g, defs, prim.id, 0, sampler.id, "seed");
    const rows = nodeRows(sampler, defs);
    expect(rows.widgets.map((w) => w.spec.name)).not.toContain("seed");
    expect(rows.sockets.map((s) => s.name)).toEqual(["model", "positive", "negative", "latent_image", "seed"]);
    expect(nodeRows(prim, defs).widgets.map((w) => w.spec.kind)).toEqual(["int", "control"]);
  });

  it("a node type the server lacks keeps its sockets and no widgets", () => {
    const node = readWorkflow({ nodes: [{ id: 1, type: "Nope", inputs: [{ name: "a", type: "X", link: null, widget: { name: "a" } }],
                                          outputs: [{ name: "B", type: "Y", links: [] }], widgets_values: [3] }] }).nodes[0];
    const rows = nodeRows(node, defs);
    expect(rows).toMatchObject({ kind: "missing", widgets: [] });
    expect(rows.sockets.map((s) => s.name)).toEqual(["a"]);
    expect(rows.outputs.map((s) => s.type)).toEqual(["Y"]);
  });
});
