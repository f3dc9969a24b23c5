"""ComfyUI's `comfy_execution` for custom nodes: `graph_utils` (GraphBuilder, is_link), `graph` (ExecutionBlocker)."""
