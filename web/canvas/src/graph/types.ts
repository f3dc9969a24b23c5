/** Types of ComfyUI's editor workflow format (spec §3.2) and of `/object_info` (spec §1.6). */

/** Any JSON value; unknown fields are carried through untouched. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface NodeInput {
  name: string;
  type: string;
  link: number | null;
  widget?: { name: string };
  label?: string;
  [extra: string]: unknown;
}

export interface NodeOutput {
  name: string;
  type: string;
  links: number[] | null;
  slot_index?: number;
  label?: string;
  [extra: string]: unknown;
}

export interface EditorNode {
  id: number;
  type: string;
  pos: [number, number];
  size: [number, number];
  flags: { collapsed?: boolean; pinned?: boolean; [k: string]: unknown };
  order: number;
  mode: number;
  inputs: NodeInput[];
  outputs: NodeOutput[];
  properties: Record<string, unknown>;
  /** Absent on some nodes without widgets; kept absent so files round-trip unchanged. */
  widgets_values?: unknown[] | Record<string, unknown>;
  title?: string;
  color?: string;
  bgcolor?: string;
  [extra: string]: unknown;
}

/** A link, normalized to the version-1 object shape whatever the file used. */
export interface Link {
  id: number;
  origin_id: number;
  origin_slot: number;
  target_id: number;
  target_slot: number;
  type: string;
  [extra: string]: unknown;
}

export interface Group {
  id?: number;
  title: string;
  bounding: [number, number, number, number];
  color?: string;
  font_size?: number;
  [extra: string]: unknown;
}

/** The in-memory graph: the file's own fields plus normalized nodes, links and groups. */
export interface Graph {
  nodes: EditorNode[];
  links: Link[];
  groups: Group[];
  lastNodeId: number;
  lastLinkId: number;
  /** `0.4` writes links as arrays and `last_*_id` at the root; `1` writes link objects and `state`. */
  version: number;
  /** Every other root field of the file (id, revision, config, extra, models, definitions, …). */
  rest: Record<string, unknown>;
}

export const MODE_ALWAYS = 0;
export const MODE_NEVER = 2;
export const MODE_BYPASS = 4;

export type InputSpec = [string | string[], Record<string, unknown>?];

export interface NodeDef {
  input: {
    required?: Record<string, InputSpec>;
    optional?: Record<string, InputSpec>;
    hidden?: Record<string, unknown>;
  };
  input_order?: { required?: string[]; optional?: string[]; hidden?: string[] };
  output: (string | string[])[];
  output_is_list?: boolean[];
  output_name: string[];
  name: string;
  display_name?: string | null;
  description?: string;
  python_module?: string;
  category?: string;
  output_node?: boolean;
  deprecated?: boolean;
  experimental?: boolean;
}

export type ObjectInfo = Record<string, NodeDef>;
