"""Initial and per-step noise are drawn exactly as ComfyUI draws them."""

import torch

from runtime.sampling.noise import (BrownianTreeNoiseSampler, SeededNoise, ZeroNoise, default_noise_sampler,
                                   prepare_noise)
from runtime.sampling.sample import fix_empty_latent_channels


def test_initial_noise_is_one_randn_from_the_seeded_cpu_generator():
    latent = torch.zeros(2, 4, 8, 8)
    torch.manual_seed(1234)
    expected = torch.randn(2, 4, 8, 8)
    assert torch.equal(prepare_noise(latent, 1234), expected)
    assert prepare_noise(latent, 1234).dtype == torch.float32


def test_seeds_up_to_two_to_the_64_are_accepted():
    assert prepare_noise(torch.zeros(1, 4, 2, 2), 2 ** 64 - 1).shape == (1, 4, 2, 2)


def test_batch_index_gives_each_image_its_noise_when_generated_alone():
    latent = torch.zeros(2, 4, 8, 8)
    one_by_one = torch.cat([torch.randn(1, 4, 8, 8, generator=g) for g in [torch.Generator().manual_seed(7)] * 4])
    noise = prepare_noise(latent, 7, batch_index=[3, 1])
    assert torch.equal(noise[0], one_by_one[3]) and torch.equal(noise[1], one_by_one[1])
    repeated = prepare_noise(torch.zeros(2, 4, 8, 8), 7, batch_index=[2, 2])
    assert torch.equal(repeated[0], repeated[1])


def test_step_noise_on_cpu_uses_seed_plus_one():
    x = torch.zeros(1, 4, 4, 4)
    sample = default_noise_sampler(x, 10)
    first = sample(None, None)
    assert torch.equal(first, torch.randn(1, 4, 4, 4, generator=torch.Generator().manual_seed(11)))
    assert not torch.equal(first, sample(None, None))


def test_brownian_noise_is_unit_gaussian_and_reproducible():
    x = torch.zeros(1, 4, 32, 32)
    a = BrownianTreeNoiseSampler(x, 0.03, 14.6, seed=3)
    b = BrownianTreeNoiseSampler(x, 0.03, 14.6, seed=3)
    step_a, step_b = a(torch.tensor(2.0), torch.tensor(1.5)), b(torch.tensor(2.0), torch.tensor(1.5))
    assert torch.equal(step_a, step_b)
    assert abs(float(step_a.std()) - 1.0) < 0.05
    # the tree is consistent: W(σ→σ'') = W(σ→σ') + W(σ'→σ'') once unnormalised
    whole = a(torch.tensor(2.0), torch.tensor(1.0)) * 1.0 ** 0.5
    parts = a(torch.tensor(2.0), torch.tensor(1.5)) * 0.5 ** 0.5 + a(torch.tensor(1.5), torch.tensor(1.0)) * 0.5 ** 0.5
    assert torch.allclose(whole, parts, atol=1e-4)


def test_noise_objects():
    latent = {"samples": torch.zeros(1, 4, 4, 4), "batch_index": [2]}
    assert torch.equal(SeededNoise(5).generate_noise(latent), prepare_noise(latent["samples"], 5, [2]))
    assert ZeroNoise().seed == 0 and not ZeroNoise().generate_noise(latent).any()


def test_empty_latent_is_widened_to_the_model_channels_but_a_real_one_is_not():
    assert fix_empty_latent_channels(torch.zeros(1, 4, 2, 2), 9).shape == (1, 9, 2, 2)
    real = torch.ones(1, 4, 2, 2)
    assert fix_empty_latent_channels(real, 9) is real
