import { describe, expect, it } from "vitest";
import { comboValues, socketInputs, widgetSpecs } from "../src/graph/objectInfo";
import type { NodeDef } from "../src/graph/types";
import { nextControlledValue, applyControls } from "../src/widgets/control";
import { filterOptions, fuzzyScore } from "../src/widgets/filter";
import { dragNumber, hexToInt, intToHex, normalizeNumber, stepNumber } from "../src/widgets/numbers";
import { readWorkflow } from "../src/graph/workflow";
import { editorFiles, editorWorkflow, HAVE_DATA, objectInfo, SKIP_REASON } from "./fixtures";

describe.skipIf(!HAVE_DATA)(`widget order against real workflows (${HAVE_DATA ? "real files" : SKIP_REASON})`, () => {
  it("KSampler's widgets are seed, control, steps, cfg, sampler, scheduler, denoise", () => {
    const specs = widgetSpecs(objectInfo().KSampler);
    expect(specs.map((w) => w.name)).toEqual(
      ["seed", "control_after_generate", "steps", "cfg", "sampler_name", "scheduler", "denoise"]);
    expect(specs.map((w) => w.kind)).toEqual(["int", "control", "int", "float", "combo", "combo", "float"]);
    expect(specs[1].serialize).toBe(false);
  });

  it("LoadImage has a combo then an upload widget serialized as \"image\"", () => {
    const specs = widgetSpecs(objectInfo().LoadImage);
    expect(specs.map((w) => [w.name, w.kind, w.defaultValue])).toEqual([["image", "combo", "example.png"], ["upload", "upload", "image"]]);
  });

  it("EmptyImage's color input is a colour widget, V3 combos read their options", () => {
    const info = objectInfo();
    expect(widgetSpecs(info.EmptyImage).find((w) => w.name === "color")?.kind).toBe("color");
    expect(comboValues(info.ImageStitch.input.required!.direction)).toEqual(["right", "down", "left", "up"]);
    expect(socketInputs(info.KSampler).map((s) => s.name)).toEqual(["model", "positive", "negative", "latent_image"]);
  });

  it.each(editorFiles())("%s: every node has one value per widget", (name) => {
    const info = objectInfo();
    const graph = readWorkflow(editorWorkflow(name));
    for (const node of graph.nodes) {
      if (!info[node.type] || !Array.isArray(node.widgets_values)) continue;
      const specs = widgetSpecs(info[node.type], node.widgets_values);
      // Files saved before a node gained an input have fewer values; the canvas shows defaults for the rest.
      const older = node.type === "ImageScaleToTotalPixels" && node.widgets_values.length === specs.length - 1;
      if (!older) expect([node.type, node.widgets_values.length]).toEqual([node.type, specs.length]);
      specs.forEach((w, i) => {
        const v = node.widgets_values![i] as unknown;
        if (older && i === specs.length - 1) return;
        if (w.kind === "int" || w.kind === "float") expect(typeof v).toBe("number");
        if (w.kind === "control") expect(["fixed", "increment", "decrement", "randomize"]).toContain(v);
        if (w.kind === "boolean") expect(typeof v).toBe("boolean");
      });
    }
  });
});

describe.skipIf(!HAVE_DATA)("dynamic combos", () => {
  it("a dynamic combo's chosen option brings its own widgets right after it", () => {
    const def = objectInfo().ResizeImageMaskNode;
    const names = widgetSpecs(def, ["scale dimensions", 2048, 2048, "center", "lanczos"]).map((w) => w.name);
    expect(names).toEqual(["resize_type", "resize_type.width", "resize_type.height", "resize_type.crop", "scale_method"]);
    expect(widgetSpecs(def, ["scale by multiplier", 1, "area"]).map((w) => w.name))
      .toEqual(["resize_type", "resize_type.multiplier", "scale_method"]);
  });
});

describe("number widgets", () => {
  const cfg = { min: 0, max: 100, step: 0.1, round: 0.01 };
  it("clamps and rounds", () => {
    expect(normalizeNumber(150, cfg, false)).toBe(100);
    expect(normalizeNumber(-1, cfg, false)).toBe(0);
    expect(normalizeNumber(7.123456, cfg, false)).toBe(7.12);
    expect(normalizeNumber(7.6, { min: 1, max: 10000 }, true)).toBe(8);
  });
  it("steps and drags by the input's step", () => {
    expect(stepNumber(7, 1, cfg, false)).toBe(7.1);
    expect(stepNumber(0, -1, cfg, false)).toBe(0);
    expect(stepNumber(20, 1, { min: 1, max: 10000 }, true)).toBe(21);
    expect(dragNumber(20, 80, { min: 1, max: 10000 }, true)).toBe(30);
    expect(dragNumber(20, -800, { min: 1, max: 10000 }, true)).toBe(1);
  });
  it("converts colour integers", () => {
    expect(intToHex(0xff8000)).toBe("#ff8000");
    expect(hexToInt("#ff8000")).toBe(0xff8000);
  });
});

describe("control_after_generate", () => {
  it("increments, decrements within range, randomizes, and leaves fixed alone", () => {
    expect(nextControlledValue(5, "increment", { min: 0, max: 10 })).toBe(6);
    expect(nextControlledValue(10, "increment", { min: 0, max: 10 })).toBe(10);
    expect(nextControlledValue(0, "decrement", { min: 0, max: 10 })).toBe(0);
    expect(nextControlledValue(5, "fixed", { min: 0, max: 10 })).toBe(5);
    expect(nextControlledValue(5, "randomize", { min: 0, max: 10 }, () => 0.999)).toBe(10);
    expect(nextControlledValue(5, "randomize", { min: 0, max: 18446744073709551615 }, () => 0.5)).toBeLessThan(2 ** 53);
  });

  it("applies to the widget before each control, skipping linked and muted nodes", () => {
    const def: NodeDef = { input: { required: { seed: ["INT", { default: 0, min: 0, max: 100, control_after_generate: true }] } },
                           output: [], output_name: [], name: "S" };
    const node = (id: number, mode: number, mode2: string) => ({ id, type: "S", pos: [0, 0], size: [1, 1], flags: {}, order: 0,
      mode, inputs: [], outputs: [], properties: {}, widgets_values: [5, mode2] });
    const graph = readWorkflow({ nodes: [node(1, 0, "increment"), node(2, 2, "increment"), node(3, 0, "fixed")], links: [] });
    applyControls(graph, { S: def });
    expect(graph.nodes.map((n) => (n.widgets_values as unknown[])[0])).toEqual([6, 5, 5]);
  });
});

describe("combo filter", () => {
  it("puts prefix and substring matches first and drops non-matches", () => {
    const values = ["euler", "euler_ancestral", "dpmpp_2m", "dpmpp_2m_sde", "ddim"];
    expect(filterOptions(values, "2m")).toEqual(["dpmpp_2m", "dpmpp_2m_sde"]);
    expect(filterOptions(values, "eul")[0]).toBe("euler");
    expect(filterOptions(values, "dps")).toEqual(["dpmpp_2m_sde"]);
    expect(filterOptions(values, "")).toEqual(values);
    expect(fuzzyScore("xyz", "euler")).toBe(0);
  });
});
