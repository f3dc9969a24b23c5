"""Stage 3's loose captions: each of colour, background and shape is wrong at the set rate, never outside the
domain, repeatably; a rate of 0 leaves the training draws exactly as they were before the stage existed."""

import torch

from tools.toymodel import data, domain, models

CONFIG = domain.DomainConfig()


def _words(caption: str) -> tuple[str, str, str]:
    words = caption.split()  # "a <colour> <shape> on a <background> background ..."
    return words[1], words[5], words[2]


def test_each_word_is_wrong_at_the_rate_and_the_caption_stays_in_the_domain():
    samples = data.step_batch(7, 0, 3000, CONFIG)
    captions = data.noisy_captions(samples, 0.15, torch.Generator().manual_seed(1), CONFIG)
    wrong = torch.tensor([[a != b for a, b in zip(_words(s.caption), _words(c))] for s, c in zip(samples, captions)])
    rates = wrong.float().mean(0)
    assert torch.all((rates > 0.12) & (rates < 0.18)), rates
    fully_right = float((~wrong.any(1)).float().mean())
    assert abs(fully_right - 0.85 ** 3) < 0.03
    for sample, caption in zip(samples, captions):
        colour, background, shape = _words(caption)
        assert colour in CONFIG.colours and background in CONFIG.backgrounds and shape in CONFIG.shapes
        assert colour != background
        # everything but the three words is the sample's own caption (the position phrase included)
        assert caption.split()[6:] == sample.caption.split()[6:]


def test_the_same_generator_state_gives_the_same_captions():
    samples = data.step_batch(3, 5, 64, CONFIG)
    first = data.noisy_captions(samples, 0.3, torch.Generator().manual_seed(9), CONFIG)
    assert first == data.noisy_captions(samples, 0.3, torch.Generator().manual_seed(9), CONFIG)
    assert first != data.noisy_captions(samples, 0.3, torch.Generator().manual_seed(10), CONFIG)
    assert data.noisy_captions(samples, 0.0, torch.Generator().manual_seed(9), CONFIG) == [s.caption for s in samples]


def test_without_caption_noise_a_step_draws_exactly_what_it_drew_before():
    tokenizer = models.CaptionTokenizer()
    samples, generator, tokens = data.captioned_step(2, 11, 32, CONFIG, 0.1, tokenizer)
    # the pre-stage-3 order: dropout straight from the step's generator, then noise and timesteps
    reference = data.step_generator(2, 11)
    expected = tokenizer(data.captions_with_dropout(samples, 0.1, reference))
    assert torch.equal(tokens, expected)
    assert torch.equal(torch.rand(4, generator=generator), torch.rand(4, generator=reference))
    noisy = data.captioned_step(2, 11, 32, CONFIG, 0.5, tokenizer)[2]
    assert not torch.equal(noisy, tokens)
