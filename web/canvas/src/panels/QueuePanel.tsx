/** The queue and history panel: pending and running prompts, past runs, cancel, delete, load a past workflow. */
import { useEffect, useState } from "react";
import { api } from "../api/client";
import { openJson } from "../actions";
import { useGraphStore } from "../store/graphStore";
import { useRunStore } from "../store/runStore";

type QueueItem = [number, string, unknown, { extra_pnginfo?: { workflow?: unknown } }, unknown];

export function QueuePanel() {
  const version = useRunStore((s) => s.queueVersion);
  const notify = useGraphStore((s) => s.notify);
  const [queue, setQueue] = useState<{ running: QueueItem[]; pending: QueueItem[] }>({ running: [], pending: [] });
  const [history, setHistory] = useState<[string, any][]>([]);
  const refresh = async () => {
    try {
      const q = await api.queue();
      const pending = [...(q.queue_pending ?? [])].sort((a: QueueItem, b: QueueItem) => a[0] - b[0]);
      setQueue({ running: q.queue_running ?? [], pending });
      setHistory(Object.entries(await api.history(30)).reverse() as [string, any][]);
    } catch (err) {
      notify("error", (err as Error).message);
    }
  };
  useEffect(() => { void refresh(); }, [version]);
  const load = (item: QueueItem | undefined, id: string) => {
    const workflow = item?.[3]?.extra_pnginfo?.workflow;
    if (workflow) openJson(workflow, `run ${id.slice(0, 8)}`);
    else notify("error", `run ${id} has no editor workflow stored`);
  };
  return (
    <div className="dl-panel dl-queue">
      <div className="dl-panel-head">
        <b>Queue</b>
        <button onClick={() => api.interrupt()}>Interrupt</button>
        <button onClick={() => api.deleteQueued(queue.pending.map((p) => p[1])).then(refresh)}>Clear pending</button>
      </div>
      <ul>
        {queue.running.map((item) => <li key={item[1]} className="running">▶ running #{item[0]} <small>{item[1].slice(0, 8)}</small></li>)}
        {queue.pending.map((item) => (
          <li key={item[1]}>#{item[0]} <small>{item[1].slice(0, 8)}</small>
            <button onClick={() => api.deleteQueued([item[1]]).then(refresh)}>cancel</button></li>
        ))}
        {!queue.running.length && !queue.pending.length && <li className="empty">queue is empty</li>}
      </ul>
      <div className="dl-panel-head"><b>History</b><button onClick={() => api.clearHistory().then(refresh)}>Clear</button></div>
      <ul>
        {history.map(([id, entry]) => (
          <li key={id} className={entry.status?.status_str === "error" ? "failed" : ""}>
            <small>{id.slice(0, 8)}</small> {entry.status?.status_str ?? ""}
            <button onClick={() => load(entry.prompt, id)}>load</button>
          </li>
        ))}
      </ul>
    </div>
  );
}
