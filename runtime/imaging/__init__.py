"""Pixel and latent tensor operations behind the image, mask, latent and VAE nodes.

This package file stays torch-free (the node declarations read the method lists below); the modules that do the
work import torch and are imported lazily from node functions.
"""

# Options of the upscale_method combos, in ComfyUI's order (the first is the default).
IMAGE_UPSCALE_METHODS = ["nearest-exact", "bilinear", "area", "bicubic", "lanczos"]
LATENT_UPSCALE_METHODS = ["nearest-exact", "bilinear", "area", "bicubic", "bislerp"]
CROP_METHODS = ["disabled", "center"]
MASK_OPERATIONS = ["multiply", "add", "subtract", "and", "or", "xor"]
