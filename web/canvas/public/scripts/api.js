// ComfyUI-style import for plugin scripts: `import { api } from "../../scripts/api.js"`.
// addEventListener delivers WebSocket messages as CustomEvents whose `detail` is the message data, as ComfyUI does.
export const api = {
  addEventListener(type, listener) {
    return window.diffloom.on(type, (data) => listener(new CustomEvent(type, { detail: data })));
  },
  fetchApi(route, options) {
    return fetch(`/api${route}`, options);
  },
  apiURL(route) {
    return `/api${route}`;
  },
};
