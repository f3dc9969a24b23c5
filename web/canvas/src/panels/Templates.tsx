/** The shipped workflows (server's `workflows/` folder) offered as templates. */
import { useEffect, useState } from "react";
import { api } from "../api/client";
import { openTemplate } from "../actions";

function names(list: unknown): string[] {
  if (!Array.isArray(list)) return Object.keys((list as Record<string, unknown>) ?? {});
  return list.map((item) => (typeof item === "string" ? item : String((item as { name?: string }).name ?? "")));
}

export function Templates() {
  const [list, setList] = useState<string[] | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api.templates().then((l) => setList(names(l?.workflows ?? l))).catch((e) => setError((e as Error).message));
  }, []);
  return (
    <div className="dl-panel dl-templates">
      <div className="dl-panel-head"><b>Templates</b></div>
      {error && <div className="dl-error-text">{error}</div>}
      <ul>
        {(list ?? []).map((name) => <li key={name}><button onClick={() => openTemplate(name)}>{name}</button></li>)}
        {list && !list.length && <li className="empty">no templates shipped</li>}
      </ul>
    </div>
  );
}
