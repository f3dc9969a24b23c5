"""VAE nodes against a stand-in VAE (conftest) that follows the VAE contract: cropping, masking, tiling args."""

import pytest
import torch

from nodes.stages import vae as V


def image(batch=1, height=16, width=16, seed=0):
    return torch.rand(batch, height, width, 3, generator=torch.Generator().manual_seed(seed))


def test_encode_centre_crops_to_multiples_of_the_downscale_ratio(vae):
    pixels = image(height=45, width=70)
    (latent,) = V.VAEEncode().encode(vae, pixels)
    assert torch.equal(vae.encoded[0], pixels[:, 2:42, 3:67])
    assert latent["samples"].shape == (1, 4, 5, 8)


def test_encode_drops_alpha_and_refuses_non_images(vae):
    V.VAEEncode().encode(vae, torch.rand(1, 8, 8, 4))
    assert vae.encoded[0].shape[-1] == 3
    with pytest.raises(ValueError, match="VAEEncode: input 'pixels'"):
        V.VAEEncode().encode(vae, torch.rand(8, 8, 3))


def test_decode_round_trips_through_the_vae(vae):
    (latent,) = V.VAEEncode().encode(vae, torch.full((2, 16, 16, 3), 0.25))
    (decoded,) = V.VAEDecode().decode(vae, latent)
    assert decoded.shape == (2, 16, 16, 3)
    assert torch.allclose(decoded, torch.full_like(decoded, 0.25))


def test_decode_names_a_latent_from_another_model_family(vae):
    with pytest.raises(ValueError, match="VAEDecode: input 'samples' has 16 channels"):
        V.VAEDecode().decode(vae, {"samples": torch.zeros(1, 16, 4, 4)})


def test_tiled_nodes_pass_tile_sizes_in_latent_and_pixel_units(vae):
    V.VAEDecodeTiled().decode(vae, {"samples": torch.zeros(1, 4, 4, 4)}, tile_size=512, overlap=64)
    V.VAEDecodeTiled().decode(vae, {"samples": torch.zeros(1, 4, 4, 4)}, tile_size=128, overlap=64)
    V.VAEEncodeTiled().encode(vae, image(), tile_size=256, overlap=32)
    assert vae.tiled_calls == [{"tile_x": 64, "tile_y": 64, "overlap": 8},
                               {"tile_x": 16, "tile_y": 16, "overlap": 4},  # overlap capped at tile/4
                               {"tile_x": 256, "tile_y": 256, "overlap": 32}]


def test_encode_for_inpaint_greys_masked_pixels_and_grows_the_noise_mask(vae):
    pixels = image(height=32, width=32)
    mask = torch.zeros(1, 32, 32)
    mask[0, 10, 20] = 1.0
    (latent,) = V.VAEEncodeForInpaint().encode(vae, pixels, mask, grow_mask_by=6)
    sent = vae.encoded[0]
    assert sent[0, 10, 20].tolist() == [0.5, 0.5, 0.5]
    assert torch.equal(sent[0, 11, 20], pixels[0, 11, 20])
    expected = torch.zeros(1, 1, 32, 32)
    expected[0, 0, 8:14, 18:24] = 1.0  # a 6×6 box around the pixel (even size: one more after it)
    assert torch.equal(latent["noise_mask"], expected)
    (plain,) = V.VAEEncodeForInpaint().encode(vae, pixels, mask, grow_mask_by=0)
    assert torch.equal(plain["noise_mask"], mask.reshape(1, 1, 32, 32))


def test_encode_for_inpaint_resizes_the_mask_and_crops_with_the_pixels(vae):
    pixels = image(height=36, width=34)
    mask = torch.ones(1, 9, 17)
    (latent,) = V.VAEEncodeForInpaint().encode(vae, pixels, mask, grow_mask_by=0)
    assert latent["noise_mask"].shape == (1, 1, 32, 32)
    assert torch.equal(vae.encoded[0], torch.full((1, 32, 32, 3), 0.5))


def test_inpaint_model_conditioning_adds_concat_entries_without_touching_inputs(vae):
    pixels = image(height=16, width=16)
    mask = torch.zeros(1, 16, 16)
    mask[:, :8] = 1.0
    positive = [[torch.zeros(1, 77, 8), {"pooled_output": torch.zeros(1, 8)}]]
    negative = [[torch.ones(1, 77, 8), {}]]
    pos, neg, latent = InpaintNode().encode(positive, negative, pixels, vae, mask, noise_mask=True)
    assert set(pos[0][1]) == {"pooled_output", "concat_latent_image", "concat_mask"}
    assert torch.equal(neg[0][0], negative[0][0]) and "concat_mask" not in negative[0][1]
    concat, full = vae.encoded
    assert torch.equal(concat[0, :8], torch.full((8, 16, 3), 0.5)) and torch.equal(full, pixels)
    assert torch.equal(latent["noise_mask"], mask.reshape(1, 1, 16, 16))
    _, _, without = InpaintNode().encode(positive, negative, pixels, vae, mask, noise_mask=False)
    assert "noise_mask" not in without


InpaintNode = V.InpaintModelConditioning


# --- with the real VAE wrapper around a tiny random AutoencoderKL (tests/tiny_models.py) -------------------------

@pytest.fixture(scope="module")
def tiny_vae():
    from diffusers import AutoencoderKL

    from runtime.vae.autoencoder import VAE
    from tests.tiny_models import tiny_vae_config

    torch.manual_seed(0)
    return VAE(AutoencoderKL(**tiny_vae_config("sd1")).eval().requires_grad_(False))


def test_real_vae_encode_is_the_posterior_mode_of_the_cropped_pixels(tiny_vae):
    pixels = image(height=70, width=66)
    (latent,) = V.VAEEncode().encode(tiny_vae, pixels)
    assert latent["samples"].shape == (1, 4, 8, 8)
    cropped = pixels[:, 3:67, 1:65].movedim(-1, 1) * 2 - 1
    with torch.no_grad():
        expected = tiny_vae.autoencoder.encode(cropped).latent_dist.mode()
    assert torch.allclose(latent["samples"], expected, atol=1e-5)


def test_real_vae_decode_gives_an_image_in_range_and_tiled_matches_untiled_in_one_tile(tiny_vae):
    samples = {"samples": torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(1))}
    (decoded,) = V.VAEDecode().decode(tiny_vae, samples)
    assert decoded.shape == (2, 64, 64, 3) and decoded.dtype == torch.float32
    assert decoded.min() >= 0 and decoded.max() <= 1
    (one_tile,) = V.VAEDecodeTiled().decode(tiny_vae, samples, tile_size=512, overlap=64)
    assert torch.allclose(one_tile, decoded, atol=1e-5)
    (tiles,) = V.VAEDecodeTiled().decode(tiny_vae, samples, tile_size=64, overlap=32)
    assert tiles.shape == decoded.shape and torch.isfinite(tiles).all()


def test_real_vae_inpaint_encoders(tiny_vae):
    pixels, mask = image(height=64, width=64), torch.zeros(1, 64, 64)
    mask[:, 16:32, 16:32] = 1.0
    (latent,) = V.VAEEncodeForInpaint().encode(tiny_vae, pixels, mask, grow_mask_by=6)
    assert latent["samples"].shape == (1, 4, 8, 8) and latent["noise_mask"].shape == (1, 1, 64, 64)
    positive = [[torch.zeros(1, 77, 32), {}]]
    pos, _, out = V.InpaintModelConditioning().encode(positive, positive, pixels, tiny_vae, mask, True)
    assert pos[0][1]["concat_latent_image"].shape == (1, 4, 8, 8)
    assert not torch.allclose(pos[0][1]["concat_latent_image"], out["samples"])  # greyed vs original image
