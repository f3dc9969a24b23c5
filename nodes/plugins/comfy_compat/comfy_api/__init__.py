"""ComfyUI's V3 node API (`comfy_api.latest`), enough for packs that declare nodes with `io.ComfyNode` schemas.

diffloom runs V3 nodes through the same executor as V1 ones: `latest._adapter.v1_class` turns a schema into the V1
declaration (INPUT_TYPES, RETURN_TYPES, …) and wraps `execute`. What is provided is listed in docs/plugins.md.
"""
