// ComfyUI-style import for plugin scripts: `import { app } from "../../scripts/app.js"`.
// diffloom's app object (docs/canvas.md): registerExtension, getWorkflow, loadWorkflow, queue, addNode, notify, on.
// LiteGraph-specific hooks (beforeRegisterNodeDef, nodeCreated, …) have no equivalent here and are ignored.
export const app = window.diffloom;
