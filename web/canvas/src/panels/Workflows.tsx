/** The workflow browser: workflows saved in the server's user storage, saved into it and opened from it. */
import { useCallback, useEffect, useState } from "react";
import { currentWorkflow, openJson } from "../actions";
import { userWorkflows, workflowFileName } from "../api/userWorkflows";
import { activeTab, useGraphStore } from "../store/graphStore";

export function Workflows() {
  const tabName = useGraphStore((s) => activeTab(s).name);
  const [list, setList] = useState<string[] | null>(null);
  const [name, setName] = useState(tabName);
  const [error, setError] = useState("");
  const guard = (work: () => Promise<void>) => () => work().then(() => setError("")).catch((e) => setError((e as Error).message));
  const refresh = useCallback(() => userWorkflows.list().then(setList), []);

  useEffect(() => { guard(refresh)(); }, [refresh]);
  useEffect(() => setName(tabName), [tabName]);

  const save = guard(async () => {
    const file = workflowFileName(name);
    await userWorkflows.save(file, currentWorkflow());
    const store = useGraphStore.getState();
    store.renameTab(store.activeId, file.replace(/\.json$/i, ""));
    store.markSaved();
    store.notify("info", `Saved workflows/${file}`);
    await refresh();
  });
  const open = (file: string) => guard(async () => openJson(await userWorkflows.load(file), file.replace(/\.json$/i, "")))();
  const remove = (file: string) => guard(async () => {
    if (!window.confirm(`Delete workflows/${file}?`)) return;
    await userWorkflows.remove(file);
    await refresh();
  })();

  return (
    <div className="dl-panel dl-workflows">
      <div className="dl-panel-head"><b>Workflows</b></div>
      <form className="dl-workflows-save" onSubmit={(e) => { e.preventDefault(); save(); }}>
        <input value={name} onChange={(e) => setName(e.target.value)} aria-label="workflow name" />
        <button type="submit">Save</button>
      </form>
      {error && <div className="dl-error-text">{error}</div>}
      <ul>
        {(list ?? []).map((file) => (
          <li key={file}>
            <button className="dl-workflow-open" onClick={() => open(file)}>{file.replace(/\.json$/i, "")}</button>
            <button className="dl-workflow-delete" title="delete" onClick={() => remove(file)}>×</button>
          </li>
        ))}
        {list && !list.length && <li className="empty">nothing saved yet</li>}
      </ul>
    </div>
  );
}
