/** Execution state shown on the canvas, folded from the server's WebSocket messages (spec §2.2). */
import { create } from "zustand";

export interface ImageRef {
  filename: string;
  subfolder: string;
  type: string;
}

export interface NodeError {
  message: string;
  /** Input name → the server's message for it. */
  inputs: Record<string, string>;
}

export interface RunState {
  clientId: string | null;
  connected: boolean;
  queueRemaining: number;
  promptId: string | null;
  running: string | null;
  cached: string[];
  /** Node id → [value, max] of its own progress bar. */
  progress: Record<string, [number, number]>;
  /** Nodes the last `progress_state` called running (by the id shown on the canvas): they show their progress bar. */
  active: string[];
  /** Executed node id (inside an expansion: "12.0.3") → the canvas node it belongs to, learnt from `progress_state`. */
  displayOf: Record<string, string>;
  /** Nodes finished in the current prompt (for the overall bar). */
  done: string[];
  total: number;
  outputs: Record<string, ImageRef[]>;
  previews: Record<string, string>;
  errors: Record<string, NodeError>;
  gallery: ImageRef[];
  /** The tab whose workflow was queued last: node ids only mean something there. */
  tabId: string | null;
  /** Bumped when the queue or history changed, so the panel refetches. */
  queueVersion: number;
}

export const initialRun: RunState = {
  clientId: null, connected: false, queueRemaining: 0, promptId: null, running: null, cached: [], progress: {},
  active: [], displayOf: {}, done: [], total: 0, outputs: {}, previews: {}, errors: {}, gallery: [], tabId: null, queueVersion: 0,
};

export interface WsMessage {
  type: string;
  data: Record<string, any>;
}

/** The next run state after one text message; unknown types leave it unchanged. */
export function applyMessage(state: RunState, { type, data }: WsMessage): RunState {
  switch (type) {
    case "status": {
      const remaining = data?.status?.exec_info?.queue_remaining ?? state.queueRemaining;
      return { ...state, queueRemaining: remaining, clientId: data?.sid ?? state.clientId,
               queueVersion: state.queueVersion + 1 };
    }
    case "execution_start":
      return { ...state, promptId: data.prompt_id, running: null, cached: [], progress: {}, active: [], displayOf: {},
               done: [], errors: {}, previews: {} };
    case "execution_cached":
      return { ...state, cached: (data.nodes ?? []).map(String), done: [...state.done, ...(data.nodes ?? []).map(String)] };
    case "executing": {
      if (data.node == null) return { ...state, running: null, active: [], queueVersion: state.queueVersion + 1 };
      const node = String(data.display_node ?? data.node);
      const done = state.running && !state.done.includes(state.running) ? [...state.done, state.running] : state.done;
      return { ...state, running: node, done };
    }
    case "progress": {
      const node = data.node == null ? state.running : state.displayOf[String(data.node)] ?? String(data.node);
      return { ...state, progress: { ...state.progress, [String(node)]: [data.value, data.max] } };
    }
    case "progress_state":
      return applyProgressState(state, data);
    case "executed": {
      const node = String(data.display_node ?? data.node);
      const images: ImageRef[] = data.output?.images ?? [];
      if (!images.length) return state;
      return { ...state, outputs: { ...state.outputs, [node]: images }, gallery: [...images, ...state.gallery].slice(0, 200) };
    }
    case "execution_success":
      return { ...state, running: null, active: [], done: state.running ? [...state.done, state.running] : state.done };
    case "execution_error": {
      if (data.node_id == null) return { ...state, running: null, active: [] };
      const node = state.displayOf[String(data.node_id)] ?? String(data.node_id);
      const message = `${data.exception_type}: ${data.exception_message}`;
      return { ...state, running: null, active: [], errors: { ...state.errors, [node]: { message, inputs: {} } } };
    }
    case "execution_interrupted":
      return { ...state, running: null, active: [] };
    default:
      return state;
  }
}

interface NodeProgress {
  value: number;
  max: number;
  state: string;
  node_id?: string;
  display_node_id?: string;
}

/** Folds one `progress_state` (every non-pending node of the prompt, spec §2.2) into the per-node bars. */
function applyProgressState(state: RunState, data: Record<string, any>): RunState {
  if (data.prompt_id && state.promptId && data.prompt_id !== state.promptId) return state; // another client's prompt
  const progress = { ...state.progress };
  const displayOf = { ...state.displayOf };
  const active: string[] = [];
  const done = new Set(state.done);
  for (const [key, entry] of Object.entries((data.nodes ?? {}) as Record<string, NodeProgress>)) {
    const real = String(entry.node_id ?? key);
    const shown = String(entry.display_node_id ?? real);
    displayOf[real] = shown;
    if (entry.state === "running") {
      progress[shown] = [entry.value, entry.max];
      if (!active.includes(shown)) active.push(shown);
    } else if (entry.state === "finished" && real === shown) {
      done.add(shown); // a node inside an expansion finishing does not finish the node that expanded
    }
  }
  // A node that expanded stays running while any of its inner nodes does.
  for (const id of active) done.delete(id);
  return { ...state, progress, displayOf, active, done: state.done.length === done.size &&
           state.done.every((id) => done.has(id)) ? state.done : [...done] };
}

/** Validation errors of a rejected `POST /prompt` (spec §1.3, §6.8) as per-node, per-input messages. */
export function errorsFromNodeErrors(nodeErrors: Record<string, any>): Record<string, NodeError> {
  const out: Record<string, NodeError> = {};
  for (const [id, entry] of Object.entries(nodeErrors ?? {})) {
    const inputs: Record<string, string> = {};
    const lines: string[] = [];
    for (const err of entry.errors ?? []) {
      const text = err.details ? `${err.message}: ${err.details}` : err.message;
      lines.push(text);
      const name = err.extra_info?.input_name;
      if (name) inputs[name] = inputs[name] ? `${inputs[name]}; ${text}` : text;
    }
    out[id] = { message: lines.join("\n"), inputs };
  }
  return out;
}

interface RunActions {
  receive(msg: WsMessage): void;
  setPreview(node: string, url: string): void;
  setErrors(errors: Record<string, NodeError>): void;
  setConnected(connected: boolean, clientId?: string): void;
  setTotal(total: number): void;
  setOwner(tabId: string): void;
}

export const useRunStore = create<RunState & RunActions>((set) => ({
  ...initialRun,
  receive: (msg) => set((s) => applyMessage(s, msg)),
  setPreview: (node, url) => set((s) => {
    if (s.previews[node]) URL.revokeObjectURL(s.previews[node]);
    return { previews: { ...s.previews, [node]: url } };
  }),
  setErrors: (errors) => set({ errors }),
  setConnected: (connected, clientId) => set((s) => ({ connected, clientId: clientId ?? s.clientId })),
  setTotal: (total) => set({ total }),
  setOwner: (tabId) => set((s) => (s.tabId === tabId ? s : { tabId, outputs: {}, previews: {}, errors: {} })),
}));
