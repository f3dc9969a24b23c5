"""The jobs API (`/api/jobs`, spec §1.5): queue and history as one filterable, sortable list of jobs."""

from __future__ import annotations

from aiohttp import web

from web.server.queue_store import QueueItem
from web.server.state import state_of

routes = web.RouteTableDef()

STATUSES = ("pending", "in_progress", "completed", "failed")
_MEDIA_KEYS = ("images", "video", "audio")
_MODEL_SUFFIXES = (".obj", ".fbx", ".gltf", ".glb")


class JobQueryError(ValueError):
    """A bad jobs query parameter; answered as `{"error": message}` (the jobs API's own error shape)."""


def _workflow_id(extra_data: dict) -> str | None:
    workflow = (extra_data.get("extra_pnginfo") or {}).get("workflow") if isinstance(extra_data, dict) else None
    return workflow.get("id") if isinstance(workflow, dict) else None


def _previewable(key: str, item) -> bool:
    if not isinstance(item, dict):
        return False
    fmt, name = str(item.get("format", "")), str(item.get("filename", ""))
    return key in _MEDIA_KEYS or fmt.startswith(("video/", "audio/")) or name.lower().endswith(_MODEL_SUFFIXES)


def _output_items(outputs: dict):
    for node_id, ui in (outputs or {}).items():
        for key, items in (ui or {}).items() if isinstance(ui, dict) else ():
            if key != "animated" and isinstance(items, list):
                for item in items:
                    yield node_id, key, item


def _preview_output(outputs: dict) -> dict | None:
    candidates = [(n, k, i) for n, k, i in _output_items(outputs) if _previewable(k, i)]
    candidates.sort(key=lambda c: c[2].get("type") != "output")  # stable: prefer saved outputs
    if not candidates:
        return None
    node_id, key, item = candidates[0]
    return {**item, "nodeId": node_id, "mediaType": _media_type(key, item)}


def _media_type(key: str, item: dict) -> str:
    if key in _MEDIA_KEYS:
        return key
    fmt = str(item.get("format", ""))
    return fmt.split("/")[0] if fmt.startswith(("video/", "audio/")) else "3d"


def _message_time(messages: list, name: str) -> int | None:
    for event, data in messages or []:
        if event == name and isinstance(data, dict):
            return data.get("timestamp")
    return None


def _pending_job(item: QueueItem, status: str) -> dict:
    return {"id": item.prompt_id, "status": status, "priority": item.number,
            "create_time": item.extra_data.get("create_time"), "workflow_id": _workflow_id(item.extra_data),
            "outputs_count": 0}


def _history_job(prompt_id: str, entry: dict, full: bool) -> dict:
    number, _, prompt, extra_data, _ = entry["prompt"]
    status = entry.get("status") or {}
    messages = status.get("messages", [])
    outputs = entry.get("outputs", {})
    error = next((data for event, data in messages if event == "execution_error"), None)
    job = {"id": prompt_id, "status": "failed" if status.get("status_str") == "error" else "completed",
           "priority": number, "create_time": extra_data.get("create_time"), "workflow_id": _workflow_id(extra_data),
           "outputs_count": sum(1 for _ in _output_items(outputs)),
           "execution_start_time": _message_time(messages, "execution_start"),
           "execution_end_time": _message_time(messages, "execution_success")
           or _message_time(messages, "execution_error") or _message_time(messages, "execution_interrupted"),
           "execution_error": error, "preview_output": _preview_output(outputs)}
    if full:
        job.update(outputs=outputs, execution_status=status, workflow={"prompt": prompt, "extra_data": extra_data})
    return job


def _all_jobs(state, full: bool = False) -> list[dict]:
    jobs = [_pending_job(item, "in_progress") for item in state.store.running()]
    jobs += [_pending_job(item, "pending") for item in state.store.pending()]
    jobs += [_history_job(pid, entry, full) for pid, entry in state.store.history().items()]
    return jobs


def _query(request: web.Request) -> dict:
    q = request.query
    statuses = [s.strip() for s in q.get("status", "").split(",") if s.strip()]
    bad = [s for s in statuses if s not in STATUSES]
    if bad:
        raise JobQueryError(f"Invalid status value(s): {', '.join(bad)}. Valid values: {', '.join(STATUSES)}")
    sort_by, order = q.get("sort_by", "created_at"), q.get("sort_order", "desc")
    if sort_by not in ("created_at", "execution_duration"):
        raise JobQueryError("sort_by must be 'created_at' or 'execution_duration'")
    if order not in ("asc", "desc"):
        raise JobQueryError("sort_order must be 'asc' or 'desc'")
    limit = _int(q.get("limit"), "limit")
    if limit is not None and limit <= 0:
        raise JobQueryError("limit must be a positive integer")
    offset = max(_int(q.get("offset"), "offset") or 0, 0)
    return {"statuses": statuses, "workflow_id": q.get("workflow_id"), "sort_by": sort_by, "desc": order == "desc",
            "limit": limit, "offset": offset}


def _int(raw: str | None, name: str) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise JobQueryError(f"{name} must be an integer")


def _duration(job: dict) -> int:
    start, end = job.get("execution_start_time"), job.get("execution_end_time")
    return end - start if start and end else 0


def _sort_key(sort_by: str):
    return _duration if sort_by == "execution_duration" else (lambda job: job.get("create_time") or 0)


def _without_nulls(job: dict) -> dict:
    return {k: v for k, v in job.items() if v is not None}


@routes.get("/api/jobs")
async def list_jobs(request: web.Request) -> web.Response:
    try:
        query = _query(request)
    except JobQueryError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    jobs = _all_jobs(state_of(request))
    if query["statuses"]:
        jobs = [j for j in jobs if j["status"] in query["statuses"]]
    if query["workflow_id"]:
        jobs = [j for j in jobs if j.get("workflow_id") == query["workflow_id"]]
    jobs.sort(key=_sort_key(query["sort_by"]), reverse=query["desc"])
    total, offset, limit = len(jobs), query["offset"], query["limit"]
    page = jobs[offset:] if limit is None else jobs[offset:offset + limit]
    return web.json_response({"jobs": [_without_nulls(j) for j in page],
                              "pagination": {"offset": offset, "limit": limit, "total": total,
                                             "has_more": offset + len(page) < total}})


@routes.get("/api/jobs/{job_id}")
async def get_job(request: web.Request) -> web.Response:
    job_id = request.match_info["job_id"]
    state = state_of(request)
    entry = state.store.history_entry(job_id)
    if entry is not None:
        return web.json_response(_without_nulls(_history_job(job_id, entry, full=True)))
    live = [(item, "in_progress") for item in state.store.running()]
    for item, status in live + [(item, "pending") for item in state.store.pending()]:
        if item.prompt_id == job_id:
            return web.json_response(_without_nulls(_pending_job(item, status)))
    return web.json_response({"error": "Job not found"}, status=404)
