/** Turns a dropped or opened file (workflow JSON, API JSON, PNG with metadata) into a graph, or says why not. */
import type { Graph, ObjectInfo } from "../graph/types";
import { isApiPrompt, readWorkflow, WorkflowError } from "../graph/workflow";
import { graphFromPrompt } from "./fromPrompt";
import { isPng, readPngText } from "./png";

export class OpenError extends Error {}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new OpenError(`${source} is not valid JSON: ${(err as Error).message}`);
  }
}

/** A graph from parsed JSON: an editor workflow or an API prompt. */
export function graphFromJson(data: unknown, defs: ObjectInfo, source: string): Graph {
  if (isApiPrompt(data)) return graphFromPrompt(data, defs);
  try {
    return readWorkflow(data);
  } catch (err) {
    if (err instanceof WorkflowError) throw new OpenError(`${source}: ${err.message}`);
    throw err;
  }
}

export async function graphFromBytes(name: string, bytes: Uint8Array, defs: ObjectInfo): Promise<Graph> {
  if (isPng(bytes)) {
    const text = await readPngText(bytes);
    if (text.workflow) return graphFromJson(parseJson(text.workflow, `${name} (workflow chunk)`), defs, name);
    if (text.prompt) return graphFromJson(parseJson(text.prompt, `${name} (prompt chunk)`), defs, name);
    throw new OpenError(`${name} is a PNG without a workflow: it has no "workflow" or "prompt" text chunk`);
  }
  const text = new TextDecoder().decode(bytes);
  if (!/^\s*[{[]/.test(text)) throw new OpenError(`${name} is neither a workflow JSON nor a PNG with a workflow`);
  return graphFromJson(parseJson(text, name), defs, name);
}

export async function graphFromFile(file: File, defs: ObjectInfo): Promise<Graph> {
  return graphFromBytes(file.name, new Uint8Array(await file.arrayBuffer()), defs);
}
