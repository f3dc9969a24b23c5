/** The HTTP calls the canvas makes to a diffloom (or ComfyUI) server. */
import type { ObjectInfo } from "../graph/types";

export class ApiError extends Error {
  constructor(message: string, readonly status: number, readonly body: any) {
    super(message);
  }
}

async function request(path: string, init?: RequestInit): Promise<any> {
  const response = await fetch(path, init);
  const text = await response.text();
  let body: any = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    /* plain-text answer (an aiohttp error page, say) */
  }
  if (!response.ok) {
    const err = body?.error;
    const detail = err?.message ? `${err.message}${err.details ? `: ${err.details}` : ""}`
      : typeof err === "string" ? err : typeof body === "string" ? body.slice(0, 300) : "";
    throw new ApiError(`${init?.method ?? "GET"} ${path} failed (${response.status}): ${detail}`, response.status, body);
  }
  return body;
}

const postJson = (path: string, body: unknown) =>
  request(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

export const api = {
  objectInfo: (): Promise<ObjectInfo> => request("/api/object_info"),
  extensions: (): Promise<string[]> => request("/api/extensions"),
  /** Editor workflow → API prompt, by the server's one converter. */
  async convert(workflow: unknown): Promise<Record<string, any>> {
    const body = await postJson("/api/diffloom/convert", workflow);
    return body && typeof body === "object" && "prompt" in body && !("class_type" in (body.prompt ?? {})) ? body.prompt : body;
  },
  queuePrompt: (payload: { prompt: unknown; client_id: string | null; front?: boolean; extra_data: unknown }) =>
    postJson("/api/prompt", payload),
  /** Editor workflow → converted, validated and queued by the server in one request (diffloom only). */
  queueWorkflow: (payload: { workflow: unknown; client_id: string | null; front?: boolean }) =>
    postJson("/api/diffloom/queue", payload),
  queue: () => request("/api/queue"),
  history: (maxItems = 50) => request(`/api/history?max_items=${maxItems}`),
  historyOf: (promptId: string) => request(`/api/history/${encodeURIComponent(promptId)}`),
  deleteQueued: (ids: string[]) => postJson("/api/queue", { delete: ids }),
  clearHistory: () => postJson("/api/history", { clear: true }),
  interrupt: () => postJson("/api/interrupt", {}),
  templates: (): Promise<any> => request("/api/diffloom/workflows"),
  template: (name: string) => request(`/api/diffloom/workflows/${encodeURIComponent(name)}`),
  async uploadImage(file: File): Promise<{ name: string; subfolder: string; type: string }> {
    const form = new FormData();
    form.append("image", file, file.name);
    return request("/api/upload/image", { method: "POST", body: form });
  },
};

export function viewUrl(ref: { filename: string; subfolder?: string; type?: string }): string {
  const q = new URLSearchParams({ filename: ref.filename, subfolder: ref.subfolder ?? "", type: ref.type ?? "output" });
  return `/api/view?${q}`;
}
