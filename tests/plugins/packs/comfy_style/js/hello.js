console.log("comfy_style extension loaded");
