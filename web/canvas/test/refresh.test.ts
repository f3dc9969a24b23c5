import { describe, expect, it } from "vitest";
import { addNode, connect } from "../src/graph/edits";
import { nodeRows } from "../src/canvas/nodeRows";
import type { NodeDef, ObjectInfo } from "../src/graph/types";
import { emptyGraph } from "../src/graph/workflow";
import { activeGraph, useGraphStore } from "../src/store/graphStore";

const def = (required: NodeDef["input"]["required"], output: string[] = ["IMAGE"]): NodeDef => ({
  input: { required }, output, output_name: output, name: "Tint", display_name: "Tint", category: "test",
  description: "",
});

const before: ObjectInfo = {
  Tint: def({ image: ["IMAGE"], strength: ["FLOAT", { default: 0.5 }], seed: ["INT", { control_after_generate: true }] }),
  Source: def({}),
  Gone: def({ text: ["STRING", {}] }),
};
// A reloaded pack: Tint gains a widget in the middle and a socket, Gone disappears, Fresh is new.
const after: ObjectInfo = {
  Tint: def({ image: ["IMAGE"], mode: [["add", "multiply"], {}], mask: ["MASK"],
              strength: ["FLOAT", { default: 0.5 }], seed: ["INT", { control_after_generate: true }] }),
  Source: before.Source,
  Fresh: def({}),
};

function graph() {
  const g = emptyGraph();
  const src = addNode(g, before, "Source", [0, 0]);
  const tint = addNode(g, before, "Tint", [300, 0]);
  const gone = addNode(g, before, "Gone", [600, 0]);
  connect(g, before, src.id, 0, tint.id, "image");
  tint.widgets_values = [0.8, 1234, "fixed"];
  gone.widgets_values = ["keep me"];
  return { g, src, tint, gone };
}

describe("refreshing node definitions", () => {
  it("keeps widget values by name, adds new inputs, keeps links and leaves vanished types as placeholders", () => {
    const { g, tint, gone, src } = graph();
    useGraphStore.setState({ defs: before });
    useGraphStore.getState().openTab("pack", g);
    useGraphStore.getState().updateDefs(after);
    const state = useGraphStore.getState();
    expect(state.defs).toBe(after);
    const now = activeGraph(state);
    const t = now.nodes.find((n) => n.id === tint.id)!;
    expect(t.widgets_values).toEqual(["add", 0.8, 1234, "fixed"]);
    expect(t.inputs.map((i) => i.name)).toEqual(["image", "mask"]);
    expect(t.inputs[0].link).toBe(now.links[0].id);
    expect(nodeRows(t, state.defs).widgets.map((w) => w.spec.name)).toEqual(["mode", "strength", "seed", "control_after_generate"]);
    const placeholder = now.nodes.find((n) => n.id === gone.id)!;
    expect(placeholder.widgets_values).toEqual(["keep me"]);
    expect(nodeRows(placeholder, state.defs).kind).toBe("missing");
    expect(now.nodes.find((n) => n.id === src.id)).toBe(g.nodes[0]); // unchanged definition: untouched node
  });

  it("fits undo steps too, so undoing after a reload keeps values in the new order", () => {
    const { g, tint } = graph();
    useGraphStore.setState({ defs: before });
    useGraphStore.getState().openTab("undo", g);
    useGraphStore.getState().edit((draft) => { draft.nodes.find((n) => n.id === tint.id)!.widgets_values = [0.9, 1, "fixed"]; });
    useGraphStore.getState().updateDefs(after);
    useGraphStore.getState().undo();
    const t = activeGraph(useGraphStore.getState()).nodes.find((n) => n.id === tint.id)!;
    expect(t.widgets_values).toEqual(["add", 0.8, 1234, "fixed"]);
  });

  it("leaves a graph whose definitions did not change as the same object", () => {
    const { g } = graph();
    useGraphStore.setState({ defs: before });
    useGraphStore.getState().openTab("same", g);
    const prev = activeGraph(useGraphStore.getState());
    useGraphStore.getState().updateDefs({ ...before });
    expect(activeGraph(useGraphStore.getState())).toBe(prev);
  });
});
