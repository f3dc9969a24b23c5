/** Real ComfyUI files from ../shared/data/comfyui-workflows (third-party data, read in place, never copied). */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ObjectInfo } from "../src/graph/types";

export const DATA_DIR = resolve(__dirname, "../../../../shared/data/comfyui-workflows");
export const HAVE_DATA = existsSync(join(DATA_DIR, "object_info-core.json"));
export const SKIP_REASON = `real ComfyUI workflows not found at ${DATA_DIR}`;

export function objectInfo(): ObjectInfo {
  return JSON.parse(readFileSync(join(DATA_DIR, "object_info-core.json"), "utf8"));
}

export function editorFiles(): string[] {
  return HAVE_DATA ? readdirSync(join(DATA_DIR, "editor")).filter((f) => f.endsWith(".json")).sort() : [];
}

export function editorWorkflow(name: string): any {
  return JSON.parse(readFileSync(join(DATA_DIR, "editor", name), "utf8"));
}

export function apiPrompt(name: string): any {
  return JSON.parse(readFileSync(join(DATA_DIR, "api", name), "utf8"));
}
