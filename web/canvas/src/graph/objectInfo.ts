/** Reads `/object_info` node definitions: which inputs are sockets, which are widgets, and in what order. */
import type { EditorNode, InputSpec, NodeDef } from "./types";

export type WidgetKind =
  | "int" | "float" | "slider" | "color" | "string" | "text" | "boolean" | "combo" | "control" | "upload" | "custom";

export interface WidgetSpec {
  name: string;
  kind: WidgetKind;
  /** The socket type the widget becomes when converted to an input. */
  type: string;
  options: Record<string, unknown>;
  /** Combo choices (also for `control`). */
  values?: string[];
  /** False for the control and upload widgets: kept in widgets_values but never sent to the server. */
  serialize: boolean;
  defaultValue: unknown;
}

export interface SocketSpec {
  name: string;
  type: string;
  optional: boolean;
}

export const CONTROL_VALUES = ["fixed", "increment", "decrement", "randomize"];
const WIDGET_TYPES = new Set(["INT", "FLOAT", "STRING", "BOOLEAN", "COMBO", "COMFY_DYNAMICCOMBO_V3"]);
/** Input types an extension draws as a widget (see extensions.ts). */
const customWidgetTypes = new Set<string>();

export function registerWidgetType(type: string): void {
  customWidgetTypes.add(type);
}

/** The input specs of a definition in widget order: required then optional, each in `input_order`. */
export function orderedInputs(def: NodeDef): { name: string; spec: InputSpec; optional: boolean }[] {
  const out: { name: string; spec: InputSpec; optional: boolean }[] = [];
  for (const group of ["required", "optional"] as const) {
    const specs = def.input[group] ?? {};
    const order = def.input_order?.[group] ?? Object.keys(specs);
    for (const name of order) if (specs[name]) out.push({ name, spec: specs[name], optional: group === "optional" });
  }
  return out;
}

export function comboValues(spec: InputSpec): string[] | undefined {
  const [type, options = {}] = spec;
  if (Array.isArray(type)) return type.map(String);
  if (type === "COMBO") return ((options.options as unknown[]) ?? []).map(String);
  if (type === "COMFY_DYNAMICCOMBO_V3")
    return ((options.options as { key: string }[]) ?? []).map((o) => String(o.key));
  return undefined;
}

export function isWidgetInput(spec: InputSpec): boolean {
  const [type, options = {}] = spec;
  if (options.forceInput) return false;
  return Array.isArray(type) || WIDGET_TYPES.has(type) || customWidgetTypes.has(type);
}

function widgetFor(name: string, spec: InputSpec): WidgetSpec {
  const [type, options = {}] = spec;
  const values = comboValues(spec);
  if (values) {
    const dflt = options.default ?? values[0] ?? "";
    return { name, kind: "combo", type: "COMBO", options, values, serialize: true, defaultValue: dflt };
  }
  const t = type as string;
  if (customWidgetTypes.has(t))
    return { name, kind: "custom", type: t, options, serialize: true, defaultValue: options.default ?? null };
  if (t === "INT" || t === "FLOAT") {
    const kind: WidgetKind = options.display === "color" ? "color" : options.display === "slider" ? "slider"
      : t === "INT" ? "int" : "float";
    const dflt = options.default ?? (typeof options.min === "number" ? Math.max(0, options.min as number) : 0);
    return { name, kind, type: t, options, serialize: true, defaultValue: dflt };
  }
  if (t === "BOOLEAN")
    return { name, kind: "boolean", type: t, options, serialize: true, defaultValue: options.default ?? false };
  return { name, kind: options.multiline ? "text" : "string", type: "STRING", options, serialize: true,
           defaultValue: options.default ?? "" };
}

/** Every widget of a node in serialization order (spec §3.2 "widgets_values order").
 * `values` (the node's widgets_values) picks the option of a dynamic combo, whose own widgets follow it. */
export function widgetSpecs(def: NodeDef, values?: unknown[]): WidgetSpec[] {
  const widgets: WidgetSpec[] = [];
  const visit = (name: string, spec: InputSpec) => {
    if (!isWidgetInput(spec)) return;
    const widget = widgetFor(name, spec);
    widgets.push(widget);
    const options = spec[1] ?? {};
    if (options.control_after_generate && (widget.kind === "int" || widget.kind === "float"))
      widgets.push({ name: "control_after_generate", kind: "control", type: "COMBO", options: {},
                     values: CONTROL_VALUES, serialize: false, defaultValue: "randomize" });
    if (options.image_upload)
      widgets.push({ name: "upload", kind: "upload", type: "IMAGEUPLOAD", options: { target: name },
                     serialize: false, defaultValue: "image" });
    if (spec[0] === "COMFY_DYNAMICCOMBO_V3") {
      const chosen = values?.[widgets.length - 1] ?? widget.defaultValue;
      const option = (options.options as { key: string; inputs?: NodeDef["input"] }[] | undefined)
        ?.find((o) => o.key === chosen);
      for (const group of ["required", "optional"] as const)
        for (const [sub, subSpec] of Object.entries(option?.inputs?.[group] ?? {})) visit(`${name}.${sub}`, subSpec);
    }
  };
  for (const { name, spec } of orderedInputs(def)) visit(name, spec);
  return widgets;
}

/** The widgets of a node as it stands (its values choose dynamic-combo options). */
export function nodeWidgetSpecs(node: EditorNode, def: NodeDef): WidgetSpec[] {
  return widgetSpecs(def, Array.isArray(node.widgets_values) ? node.widgets_values : undefined);
}

/** Inputs that are sockets only (no widget), in definition order. */
export function socketInputs(def: NodeDef): SocketSpec[] {
  return orderedInputs(def)
    .filter(({ spec }) => !isWidgetInput(spec))
    .map(({ name, spec, optional }) => ({ name, type: socketType(spec), optional }));
}

/** The connection type of an input spec (a combo connects as `COMBO`). */
export function socketType(spec: InputSpec): string {
  const [type, options = {}] = spec;
  if (Array.isArray(type) || type === "COMBO" || type === "COMFY_DYNAMICCOMBO_V3") return "COMBO";
  if (type === "COMFY_MATCHTYPE_V3") {
    const allowed = (options.template as { allowed_types?: string } | undefined)?.allowed_types;
    return allowed ?? "*";
  }
  return type;
}

export function outputType(t: string | string[]): string {
  return Array.isArray(t) ? "COMBO" : t === "COMFY_MATCHTYPE_V3" ? "*" : t;
}

export function displayName(def: NodeDef | undefined, type: string): string {
  return def?.display_name || def?.name || type;
}

export function defaultWidgetValues(def: NodeDef): unknown[] {
  return widgetSpecs(def).map((w) => w.defaultValue);
}
