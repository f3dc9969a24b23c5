/** Workflows kept in the server's user storage, `workflows/` under `/api/userdata` as ComfyUI's front end keeps them. */
import { ApiError } from "./client";

const DIR = "workflows";

/** The file name a workflow is saved under: `.json` added, and refused when it could leave the folder. */
export function workflowFileName(name: string): string {
  const trimmed = name.trim();
  if (!trimmed) throw new Error("a workflow needs a name");
  if (trimmed.split("/").some((part) => part === ".." || part === "." || !part) || trimmed.includes("\\"))
    throw new Error(`"${name}" is not a usable workflow name (no empty, "." or ".." path parts, no backslashes)`);
  return /\.json$/i.test(trimmed) ? trimmed : `${trimmed}.json`;
}

/** `/api/userdata/workflows%2F<name>`: the whole path is one URL segment, slashes encoded. */
export function workflowUrl(fileName: string): string {
  return `/api/userdata/${encodeURIComponent(`${DIR}/${fileName}`)}`;
}

async function checked(response: Response, what: string): Promise<Response> {
  if (response.ok) return response;
  const text = await response.text();
  throw new ApiError(`${what} failed (${response.status}): ${text.slice(0, 300)}`, response.status, text);
}

export const userWorkflows = {
  /** Saved workflow file names, sorted; none (not an error) before the first save creates the folder. */
  async list(): Promise<string[]> {
    const response = await fetch(`/api/userdata?dir=${DIR}&recurse=true&split=false`);
    if (response.status === 404) return [];
    const names = (await (await checked(response, "listing saved workflows")).json()) as string[];
    return names.filter((n) => /\.json$/i.test(n)).sort((a, b) => a.localeCompare(b));
  },
  async load(fileName: string): Promise<unknown> {
    return (await checked(await fetch(workflowUrl(fileName)), `opening workflow "${fileName}"`)).json();
  },
  async save(fileName: string, workflow: unknown): Promise<void> {
    await checked(await fetch(`${workflowUrl(fileName)}?overwrite=true`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(workflow),
    }), `saving workflow "${fileName}"`);
  },
  async remove(fileName: string): Promise<void> {
    await checked(await fetch(workflowUrl(fileName), { method: "DELETE" }), `deleting workflow "${fileName}"`);
  },
};
