/** Editor commands shared by keyboard shortcuts, menus, the toolbar and extensions. */
import { api, ApiError } from "./api/client";
import { callHook, hasHook } from "./extensions";
import { addGroup, copyNodes, type Clip, pasteNodes, removeNodes, toggleMode } from "./graph/edits";
import { findMissing } from "./graph/missing";
import type { Graph } from "./graph/types";
import { writeWorkflow } from "./graph/workflow";
import { graphFromFile, graphFromJson, OpenError } from "./files/openFile";
import { activeGraph, activeTab, useGraphStore } from "./store/graphStore";
import { errorsFromNodeErrors, useRunStore } from "./store/runStore";
import { applyControls } from "./widgets/control";
import { pollHistory } from "./api/historyPoll";

const store = () => useGraphStore.getState();

export function selectedNodeIds(): number[] {
  return store().selection.filter((id) => !id.startsWith("g")).map(Number);
}

export function currentWorkflow(): Record<string, unknown> {
  return writeWorkflow(activeGraph(store()));
}

/** Converts the graph by the server's converter (POST /api/diffloom/convert). */
export async function toApiPrompt(workflow = currentWorkflow()): Promise<Record<string, any>> {
  return api.convert(workflow);
}

/** What the server answered for a queued workflow, and how many nodes its prompt has (the progress total). */
export interface Queued {
  result: any;
  nodeCount: number;
}

/**
 * Queues an editor workflow in one request (POST /api/diffloom/queue: converted, validated and queued there).
 * An extension with a `beforeQueue` hook must see the API prompt first, so then the canvas converts, calls the
 * hooks and posts the prompt itself (POST /api/prompt), embedding the workflow as the one request would.
 */
export async function submitWorkflow(workflow: Record<string, unknown>, clientId: string | null,
                                     front: boolean): Promise<Queued> {
  if (!hasHook("beforeQueue")) {
    const result = await api.queueWorkflow({ workflow, client_id: clientId, front });
    return { result, nodeCount: Number(result?.node_count ?? 0) };
  }
  const prompt = await toApiPrompt(workflow);
  await callHook("beforeQueue", workflow, prompt);
  const result = await api.queuePrompt({ prompt, client_id: clientId, front, extra_data: { extra_pnginfo: { workflow } } });
  return { result, nodeCount: Object.keys(prompt).length };
}

/** Queues the active workflow; validation errors land on the offending nodes and inputs. */
export async function queuePrompt(front = false): Promise<void> {
  const s = store();
  const run = useRunStore.getState();
  const workflow = currentWorkflow();
  run.setOwner(s.activeId);
  try {
    const { result, nodeCount } = await submitWorkflow(workflow, run.clientId, front);
    run.setErrors(errorsFromNodeErrors(result?.node_errors ?? {}));
    run.setTotal(nodeCount);
    s.edit((g) => applyControls(g, s.defs), "control_after_generate");
    s.notify("info", `Queued prompt ${String(result?.prompt_id ?? "").slice(0, 8)}`);
    if (!run.connected && result?.prompt_id) void pollHistory(String(result.prompt_id));
  } catch (err) {
    if (err instanceof ApiError && err.body?.node_errors) {
      run.setErrors(errorsFromNodeErrors(err.body.node_errors));
      const top = err.body.error;
      s.notify("error", top?.message ? `${top.message}${top.details ? `: ${top.details}` : ""}` : err.message);
    } else s.notify("error", (err as Error).message);
  }
}

export function download(name: string, data: unknown): void {
  const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

const baseName = () => activeTab(store()).name.replace(/\.json$/i, "") || "workflow";

export function saveWorkflow(): void {
  download(`${baseName()}.json`, currentWorkflow());
  store().markSaved();
}

export async function exportApi(): Promise<void> {
  try {
    download(`${baseName()}_api.json`, await toApiPrompt());
  } catch (err) {
    store().notify("error", (err as Error).message);
  }
}

/** Opens a graph in a new tab and says what it references that the server lacks. */
export function openGraph(name: string, graph: Graph): void {
  const s = store();
  s.openTab(name, graph);
  const missing = findMissing(graph, s.defs);
  if (missing.types.length)
    s.notify("error", `Node types not on the server (kept as placeholders): ${missing.types.join(", ")}`, true);
  if (missing.files.length) s.notify("error", `Files missing on the server:\n${missing.files.join("\n")}`, true);
}

export async function openFiles(files: Iterable<File>): Promise<void> {
  for (const file of files) {
    try {
      openGraph(file.name.replace(/\.(json|png)$/i, ""), await graphFromFile(file, store().defs));
    } catch (err) {
      store().notify("error", err instanceof OpenError ? err.message : `${file.name}: ${(err as Error).message}`);
    }
  }
}

export function openJson(data: unknown, name: string): void {
  try {
    openGraph(name, graphFromJson(data, store().defs, name));
  } catch (err) {
    store().notify("error", (err as Error).message);
  }
}

/** The workflow a first visit (no saved tabs) starts with, so a new user can queue right away. */
export const FIRST_RUN_TEMPLATE = "txt2img.json";

/** Opens the first-run template; a server without it (ComfyUI itself) just leaves the empty canvas. */
export async function openFirstRunTemplate(): Promise<void> {
  try {
    openGraph(FIRST_RUN_TEMPLATE.replace(/\.json$/i, ""), graphFromJson(await api.template(FIRST_RUN_TEMPLATE), store().defs,
                                                                        FIRST_RUN_TEMPLATE));
  } catch (err) {
    console.warn("no first-run template", err);
  }
}

export async function openTemplate(name: string): Promise<void> {
  try {
    openJson(await api.template(name), name.replace(/\.json$/i, ""));
  } catch (err) {
    store().notify("error", (err as Error).message);
  }
}

const CLIP_KEY = "diffloom.clipboard";

export function copySelection(): void {
  const ids = selectedNodeIds();
  if (!ids.length) return;
  localStorage.setItem(CLIP_KEY, JSON.stringify(copyNodes(activeGraph(store()), ids)));
}

/** Pastes with the clip's top-left corner at `at`; `keepInputLinks` reconnects links from outside the clip. */
export function paste(at: [number, number], keepInputLinks: boolean): void {
  const text = localStorage.getItem(CLIP_KEY);
  if (!text) return;
  const clip = JSON.parse(text) as Clip;
  if (!clip.nodes?.length) return;
  const left = Math.min(...clip.nodes.map((n) => n.pos[0]));
  const top = Math.min(...clip.nodes.map((n) => n.pos[1]));
  let pasted: number[] = [];
  store().edit((g) => { pasted = pasteNodes(g, clip, [at[0] - left, at[1] - top], keepInputLinks); });
  store().select(pasted.map(String));
}

export function deleteSelection(): void {
  const s = store();
  const nodes = selectedNodeIds();
  const groups = s.selection.filter((id) => id.startsWith("g")).map((id) => Number(id.slice(1)));
  if (!nodes.length && !groups.length) return;
  s.edit((g) => {
    removeNodes(g, nodes);
    g.groups = g.groups.filter((_, i) => !groups.includes(i));
  });
  s.select([]);
}

export function toggleSelectionMode(mode: number): void {
  const ids = selectedNodeIds();
  if (ids.length) store().edit((g) => toggleMode(g, ids, mode));
}

export function groupSelection(boxes: { pos: [number, number]; size: [number, number] }[]): void {
  if (boxes.length) store().edit((g) => { addGroup(g, boxes); });
}

/** Collapses the nodes, or expands them all when the first one is collapsed. */
export function toggleCollapsed(ids: number[]): void {
  if (!ids.length) return;
  store().edit((g) => {
    const nodes = g.nodes.filter((n) => ids.includes(n.id));
    const collapse = !nodes[0]?.flags.collapsed;
    for (const n of nodes) n.flags = { ...n.flags, collapsed: collapse };
  });
}
