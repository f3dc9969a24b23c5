"""The aiohttp server: ComfyUI's HTTP + WebSocket API, the queue worker, security and the canvas."""
