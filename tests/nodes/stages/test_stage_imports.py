"""The stage modules of this package import without torch (the server lists nodes before loading models)."""

import subprocess
import sys


def test_latent_vae_image_mask_modules_import_without_torch():
    code = ("import sys; import nodes.stages.latent, nodes.stages.vae, nodes.stages.image, nodes.stages.mask, "
            "nodes.stages.latent_files, "
            "runtime.imaging.files, runtime.imaging.png_metadata; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
