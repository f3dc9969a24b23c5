"""A few steps of the real training recipe: losses fall, runs repeat exactly, and the file is an SD1.x checkpoint."""

import json

import numpy as np
import pytest
import torch

from tools.toymodel import models
from tools.toymodel.recipe import Recipe
from tools.toymodel.train import Trainer, main

TINY = dict(vae_steps=40, vae_batch=8, unet_steps=30, unet_batch=8, noisy_steps=10, warmup_steps=3, save_every=20,
            log_every=10, eval_count=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny run of the full recipe (all three stages), shared by the checks below."""
    root = tmp_path_factory.mktemp("toy")
    trainer = Trainer(Recipe(**TINY), root / "toy.safetensors", root / "work", log=lambda _: None)
    history = trainer.run()
    return trainer, history, root / "toy.safetensors"


def mean(values):
    return sum(values) / len(values)


@pytest.mark.slow
def test_the_losses_fall_and_stage_3_trains(trained):
    _, history, _ = trained
    assert len(history["vae"]) == 40 and len(history["unet"]) == 30 and len(history["noisy"]) == 10
    # the VAE first plateaus at the mean colour (about 0.4); the UNet's noise-prediction loss falls fast from 1
    assert mean(history["vae"][-8:]) < 0.9 * mean(history["vae"][:8])
    assert mean(history["unet"][-8:]) < 0.7 * mean(history["unet"][:8])


@pytest.mark.slow
def test_the_log_records_losses_and_scores_of_each_saved_checkpoint(trained):
    trainer, _, _ = trained
    records = [json.loads(line) for line in (trainer.work_dir / "log.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["step"]) for r in records if r["stage"] != "eval"] == (
        [("vae", s) for s in (10, 20, 30, 40)] + [("unet", s) for s in (10, 20, 30)] + [("noisy", 10)])
    evaluations = [r for r in records if r["stage"] == "eval"]
    # the save at stage 2 step 20, then the final checkpoint, each with and without guidance
    assert [(r["step"], r["cfg"]) for r in evaluations] == [(20, 7.0), (20, 1.0), (10, 7.0), (10, 1.0)]
    assert all(0 <= r["all"] <= 1 and 0 <= r["colour"] <= 1 for r in evaluations)


@pytest.mark.slow
def test_checkpoint_holds_all_three_networks_under_sd1_names(trained):
    from safetensors import safe_open

    _, _, path = trained
    with safe_open(str(path), framework="pt") as handle:
        keys = set(handle.keys())
        assert handle.get_tensor("model.diffusion_model.input_blocks.0.0.weight").dtype == torch.float16
        assert json.loads(handle.metadata()["diffloom_toymodel_recipe"])["unet_steps"] == 30
        assert handle.metadata()["diffloom_toymodel_stage"] == "done:30+10"
    for key in ("model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight",
                "model.diffusion_model.middle_block.1.proj_in.weight", "model.diffusion_model.out.2.weight",
                "first_stage_model.encoder.down.2.block.0.conv1.weight",
                "first_stage_model.decoder.up.0.block.1.conv2.weight",
                "first_stage_model.quant_conv.weight", "first_stage_model.decoder.mid.attn_1.q.weight",
                "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight",
                "cond_stage_model.transformer.text_model.encoder.layers.2.mlp.fc2.weight"):
        assert key in keys, key
    prefixes = {k.split(".")[0] for k in keys}
    assert prefixes == {"model", "first_stage_model", "cond_stage_model"}


@pytest.mark.slow
def test_checkpoint_loader_simple_reads_the_model_and_text_encoder_that_were_trained(trained):
    from runtime.loaders import load_checkpoint

    trainer, _, path = trained
    unet, _, text_encoder = trainer.shipped_networks()
    model, clip, _ = load_checkpoint(path, output_vae=False)
    sampling = (model.family, model.model_sampling.prediction_type, model.latent_format.scale_factor)
    assert sampling == ("sd1", "eps", 0.18215)
    caption = "a red circle on a blue background in the top left"
    with torch.no_grad():
        ours = models.encode_text(text_encoder.eval(), models.CaptionTokenizer()([caption]))
        cond = clip.encode(caption)[0][0]
        torch.testing.assert_close(cond.float(), ours, atol=2e-2, rtol=2e-2)
        latents = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
        timestep = torch.tensor([500.0, 500.0])
        expected = unet.eval()(latents, timestep, ours.expand(2, -1, -1)).sample
        got = model.unet_forward(latents, timestep, cond.expand(2, -1, -1).float(), {})
        torch.testing.assert_close(got.float(), expected, atol=3e-2, rtol=3e-2)


@pytest.mark.slow
def test_the_vae_reads_back_and_the_checkpoint_samples_through_diffloom(trained):
    """The VAE rebuilt with the loader's key map decodes like the trained one; KSampler's path makes pictures."""
    from tools.toymodel import quality
    from tools.toymodel.checkpoint import load_for_sampling

    trainer, _, path = trained
    model, clip, vae = load_for_sampling(path)
    assert vae.downscale_ratio == 4
    latents = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(vae.autoencoder.decode(latents).sample.float(),
                                   trainer.vae.eval().decode(latents).sample, atol=2e-2, rtol=2e-2)
    caption = quality.prompt_specs(0, 1)[0].caption
    first = quality.generate(model, clip, vae, caption, seed=3, steps=3)
    assert first.shape == (32, 32, 3) and first.dtype == np.uint8
    assert np.array_equal(first, quality.generate(model, clip, vae, caption, seed=3, steps=3))
    assert not np.array_equal(first, quality.generate(model, clip, vae, caption, seed=4, steps=3))


@pytest.mark.slow
def test_checkpoint_loader_simple_reads_the_vae(trained):
    from runtime.loaders import load_checkpoint

    _, _, path = trained
    _, _, vae = load_checkpoint(path)
    assert vae.downscale_ratio == 4


@pytest.mark.slow
def test_the_checkpoint_ships_the_weight_average_not_the_last_step(trained):
    trainer, _, _ = trained
    shipped, _, shipped_text = trainer.shipped_networks()
    assert trainer.recipe.ema_decay > 0
    assert not torch.equal(shipped.conv_in.weight, trainer.unet.conv_in.weight)
    layer = "encoder.layers.0.mlp.fc1.weight"
    assert not torch.equal(shipped_text.state_dict()[layer], trainer.text_encoder.state_dict()[layer])
    table = "embeddings.token_embedding.weight"  # frozen, so the average is the table itself
    assert torch.equal(shipped_text.state_dict()[table], trainer.text_encoder.state_dict()[table])


@pytest.mark.slow
def test_same_seed_repeats_exactly_and_a_stopped_run_resumes_to_the_same_result(tmp_path):
    recipe = dict(vae_steps=4, vae_batch=4, unet_steps=4, unet_batch=4, noisy_steps=3, warmup_steps=2, save_every=100,
                  log_every=1000, normalise_pictures=64)
    quiet = dict(log=lambda _: None)
    whole = Trainer(Recipe(**recipe), tmp_path / "a.safetensors", tmp_path / "a", **quiet)
    losses = whole.run()
    again = Trainer(Recipe(**recipe), tmp_path / "b.safetensors", tmp_path / "b", **quiet).run()
    assert again == losses

    first = Trainer(Recipe(**recipe), tmp_path / "c.safetensors", tmp_path / "c", stop_after=6, **quiet)
    assert first.run() == {"vae": losses["vae"], "unet": losses["unet"][:2], "noisy": []}
    assert not (tmp_path / "c.safetensors").exists()
    second = Trainer(Recipe(**recipe), tmp_path / "c.safetensors", tmp_path / "c", **quiet)
    second.resume()
    rest = second.run()
    assert rest["unet"] == losses["unet"][2:] and rest["noisy"] == losses["noisy"]
    from runtime.weights.files import load_state_dict

    whole_file, resumed_file = load_state_dict(tmp_path / "a.safetensors"), load_state_dict(tmp_path / "c.safetensors")
    assert whole_file.keys() == resumed_file.keys()
    assert all(torch.equal(whole_file[k], resumed_file[k]) for k in whole_file)


@pytest.mark.slow
def test_a_run_finished_without_stage_3_goes_on_into_it(tmp_path):
    """How the shipped toy was made: stage 2 ended first (its state from before stage 3 existed, without the
    setting), then --resume --noisy-steps N trained stage 3 from it."""
    recipe = dict(vae_steps=2, vae_batch=2, unet_steps=3, unet_batch=2, warmup_steps=1, save_every=100,
                  log_every=1000, normalise_pictures=16)
    quiet = dict(log=lambda _: None)
    Trainer(Recipe(**recipe, noisy_steps=0), tmp_path / "a.safetensors", tmp_path / "w", **quiet).run()
    state = torch.load(tmp_path / "w" / "state.pt", weights_only=True)
    del state["recipe"]["noisy_steps"], state["recipe"]["noisy_lr"], state["recipe"]["caption_noise"]
    torch.save(state, tmp_path / "w" / "state.pt")
    resumed = Trainer(Recipe(**recipe, noisy_steps=2), tmp_path / "a.safetensors", tmp_path / "w", **quiet)
    resumed.resume()
    assert (resumed.stage, resumed.step) == ("noisy", 0)
    assert [len(v) for v in resumed.run().values()] == [0, 0, 2]
    from safetensors import safe_open

    with safe_open(str(tmp_path / "a.safetensors"), framework="pt") as handle:
        assert handle.metadata()["diffloom_toymodel_stage"] == "done:3+2"


def test_resume_refuses_a_state_trained_with_another_seed(tmp_path):
    recipe = dict(vae_steps=2, vae_batch=2, unet_steps=0, noisy_steps=0, warmup_steps=1, save_every=100,
                  log_every=1000, normalise_pictures=16)
    Trainer(Recipe(**recipe), tmp_path / "a.safetensors", tmp_path / "w", log=lambda _: None).run()
    other = Trainer(Recipe(**recipe, seed=5), tmp_path / "a.safetensors", tmp_path / "w", log=lambda _: None)
    with pytest.raises(ValueError, match=r"other settings for \['seed'\]"):
        other.resume()


def test_command_line_rejects_an_unknown_text_encoder_mode(capsys):
    with pytest.raises(SystemExit):
        main(["--text-encoder", "sometimes"])
    assert "invalid choice: 'sometimes'" in capsys.readouterr().err
