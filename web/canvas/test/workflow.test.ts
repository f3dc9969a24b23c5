import { describe, expect, it } from "vitest";
import { readWorkflow, writeWorkflow, WorkflowError, isApiPrompt } from "../src/graph/workflow";
import { editorFiles, editorWorkflow, HAVE_DATA, SKIP_REASON } from "./fixtures";

describe.skipIf(!HAVE_DATA)(`editor workflow round trip (${HAVE_DATA ? "real files" : SKIP_REASON})`, () => {
  it.each(editorFiles())("%s is written back unchanged", (name) => {
    const original = editorWorkflow(name);
    const written = JSON.parse(JSON.stringify(writeWorkflow(readWorkflow(structuredClone(original)))));
    expect(written).toEqual(original);
  });
});

describe("reading workflows", () => {
  it("keeps unknown root, node and link fields, and unknown node types", () => {
    const data = {
      last_node_id: 2, last_link_id: 1, version: 0.4, mystery: { keep: [1, 2] },
      nodes: [
        { id: 1, type: "NotOnServer", pos: [0, 0], size: [100, 50], flags: {}, order: 0, mode: 0, inputs: [],
          outputs: [{ name: "X", type: "X", links: [1] }], properties: {}, widgets_values: [1, "a"], custom: true },
        { id: 2, type: "Other", pos: { 0: 5, 1: 6 }, size: [100, 50], flags: {}, order: 1, mode: 0,
          inputs: [{ name: "x", type: "X", link: 1 }], outputs: [], properties: {}, widgets_values: [] },
      ],
      links: [[1, 1, 0, 2, 0, "X"]], groups: [],
    };
    const graph = readWorkflow(data);
    expect(graph.links[0]).toMatchObject({ id: 1, origin_id: 1, target_id: 2, type: "X" });
    expect(graph.nodes[1].pos).toEqual([5, 6]);
    const out = writeWorkflow(graph) as any;
    expect(out.mystery).toEqual({ keep: [1, 2] });
    expect(out.nodes[0].custom).toBe(true);
    expect(out.nodes[0].widgets_values).toEqual([1, "a"]);
    expect(out.links).toEqual([[1, 1, 0, 2, 0, "X"]]);
  });

  it("writes version-1 files with link objects and state", () => {
    const data = { version: 1, state: { lastGroupId: 0, lastNodeId: 3, lastLinkId: 0, lastRerouteId: 0 },
                   nodes: [], links: [{ id: 4, origin_id: 1, origin_slot: 0, target_id: 2, target_slot: 0, type: "X" }] };
    const out = writeWorkflow(readWorkflow(data)) as any;
    expect(out.state).toEqual({ lastGroupId: 0, lastNodeId: 3, lastLinkId: 4, lastRerouteId: 0 });
    expect(out.links[0]).toEqual(data.links[0]);
  });

  it("explains what is wrong with foreign JSON", () => {
    expect(() => readWorkflow([1, 2])).toThrow(WorkflowError);
    expect(() => readWorkflow({ hello: 1 })).toThrow(/no "nodes" list/);
    expect(() => readWorkflow({ nodes: [{ id: 1 }] })).toThrow(/node 1 has no "type"/);
    expect(() => readWorkflow({ nodes: [], links: [[1, 2]] })).toThrow(/link #0 has 2 fields/);
  });

  it("tells API prompts from editor workflows", () => {
    expect(isApiPrompt({ "3": { class_type: "KSampler", inputs: {} } })).toBe(true);
    expect(isApiPrompt({ nodes: [] })).toBe(false);
    expect(isApiPrompt({})).toBe(false);
  });
});
