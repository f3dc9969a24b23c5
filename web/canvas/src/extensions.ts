/** Plugin JavaScript from `/extensions` and the small hook API it uses (documented in docs/canvas.md). */
import { registerWidgetType } from "./graph/objectInfo";

export interface WidgetContext {
  nodeId: number;
  name: string;
  value: unknown;
  setValue(value: unknown): void;
}

export interface Extension {
  name: string;
  setup?(app: DiffloomApp): void | Promise<void>;
  commands?: { label: string; run(app: DiffloomApp): void }[];
  nodeMenu?: { label: string; run(app: DiffloomApp, nodeId: number): void }[];
  /** Input type → a function drawing its widget into `container`; may return a cleanup function. */
  widgets?: Record<string, (container: HTMLElement, ctx: WidgetContext) => void | (() => void)>;
  onEvent?(type: string, data: unknown): void;
  beforeQueue?(workflow: unknown, prompt: Record<string, unknown>): void | Promise<void>;
}

/** What extensions may call; filled in by the app at boot. */
export interface DiffloomApp {
  registerExtension(ext: Extension): void;
  getWorkflow(): unknown;
  loadWorkflow(workflow: unknown, name?: string): void;
  queue(front?: boolean): Promise<void>;
  addNode(type: string, pos?: [number, number]): number | undefined;
  notify(text: string, level?: "info" | "error"): void;
  /** Refetches `/object_info` (after a node pack was reloaded) and redraws every node. */
  refreshDefinitions(): Promise<void>;
  /** Calls `handler(data)` for every WebSocket message of `type` (also custom ones a node pack sends). */
  on(type: string, handler: (data: unknown) => void): () => void;
}

declare global {
  interface Window {
    diffloom?: DiffloomApp;
  }
}

export const extensions: Extension[] = [];

export function registerExtension(ext: Extension): void {
  if (!ext || typeof ext.name !== "string") throw new Error("registerExtension needs an object with a \"name\"");
  if (extensions.some((e) => e.name === ext.name)) return;
  extensions.push(ext);
  for (const type of Object.keys(ext.widgets ?? {})) registerWidgetType(type);
}

export function customWidget(type: string) {
  for (const ext of extensions) if (ext.widgets?.[type]) return ext.widgets[type];
  return undefined;
}

/** Whether any loaded extension defines `hook`. */
export function hasHook(hook: "setup" | "onEvent" | "beforeQueue"): boolean {
  return extensions.some((ext) => typeof ext[hook] === "function");
}

/** Calls every extension's hook, logging (not propagating) failures so one plugin cannot break the editor. */
export async function callHook<K extends "setup" | "onEvent" | "beforeQueue">(hook: K, ...args: unknown[]): Promise<void> {
  for (const ext of extensions) {
    const fn = ext[hook] as ((...a: unknown[]) => unknown) | undefined;
    if (!fn) continue;
    try {
      await fn.apply(ext, args);
    } catch (err) {
      console.error(`extension ${ext.name}: ${hook} failed`, err);
    }
  }
}

const listeners = new Map<string, Set<(data: unknown) => void>>();

export function addListener(type: string, handler: (data: unknown) => void): () => void {
  if (!listeners.has(type)) listeners.set(type, new Set());
  listeners.get(type)!.add(handler);
  return () => listeners.get(type)?.delete(handler);
}

export function emitEvent(type: string, data: unknown): void {
  void callHook("onEvent", type, data);
  for (const handler of listeners.get(type) ?? []) {
    try {
      handler(data);
    } catch (err) {
      console.error(`listener for ${type} failed`, err);
    }
  }
}

/** Imports every script the server lists at `/api/extensions`; a failing script is reported and skipped. */
export async function loadExtensionScripts(urls: string[], report: (text: string) => void): Promise<void> {
  await Promise.all(urls.map(async (url) => {
    try {
      await import(/* @vite-ignore */ url);
    } catch (err) {
      report(`extension ${url} failed to load: ${(err as Error).message}`);
    }
  }));
}
