"""CLIPTextEncode and friends: ComfyUI prompt syntax on the tiny encoders, checked against diffusers pipelines."""

import pytest
import torch

from runtime.text import tokens as tok
from runtime.text.prompt import parse_weights
from nodes.stages.loaders import CheckpointLoaderSimple
from nodes.stages.text import CLIPSetLastLayer, CLIPTextEncode, CLIPTextEncodeSDXL, CLIPTextEncodeSDXLRefiner


@pytest.fixture
def sd1(tiny_checkpoints, tiny_models_paths):
    return CheckpointLoaderSimple().load_checkpoint(tiny_checkpoints["sd1"].name)[1], tiny_checkpoints["sd1"]


@pytest.fixture
def sdxl(tiny_checkpoints, tiny_models_paths):
    return CheckpointLoaderSimple().load_checkpoint(tiny_checkpoints["sdxl"].name)[1], tiny_checkpoints["sdxl"]


def _pipeline(tiny):
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline, StableDiffusionXLPipeline

    if tiny.family == "sd1":
        return StableDiffusionPipeline(**tiny.pipeline_components(), scheduler=EulerDiscreteScheduler(),
                                       safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    return StableDiffusionXLPipeline(**tiny.pipeline_components(), scheduler=EulerDiscreteScheduler())


def test_parse_weights():
    assert parse_weights("a (b:1.5) c") == [("a ", 1.0), ("b", 1.5), (" c", 1.0)]
    assert parse_weights("((x))") == [("x", pytest.approx(1.21))]
    assert parse_weights("((x:0.5))") == [("x", 0.5)]  # absolute weight discards the outer 1.1
    assert parse_weights("(a:b)") == [("a:b", pytest.approx(1.1))]  # not a number: colon stays
    assert parse_weights("(x:1:2)") == [("x:1", 2.0)]  # the last colon counts
    assert parse_weights(r"\(lit\) (y)") == [("(lit) ", 1.0), ("y", pytest.approx(1.1))]
    assert parse_weights("open (never closed") == [("open ", 1.0), ("(never closed", 1.0)]
    assert parse_weights("[word]") == [("[word]", 1.0)]  # no de-emphasis syntax


def test_chunks_hold_75_tokens_and_move_short_words():
    words = [[(1, 1.0)]] * 74 + [[(2, 1.0)] * 3]
    chunks = tok.chunk_words(words, pad=tok.END)
    assert len(chunks) == 2 and all(len(c) == 77 for c in chunks)
    assert chunks[0][75] == (tok.END, 1.0) and chunks[0][74] == (1, 1.0)  # the 3-token word moved
    assert [t for t, _ in chunks[1][:5]] == [tok.START, 2, 2, 2, tok.END]
    long_word = [[(1, 1.0)]] * 74 + [[(3, 1.0)] * 8]
    split = tok.chunk_words(long_word, pad=0)
    assert split[0][75][0] == 3 and [t for t, _ in split[1][:9]] == [tok.START] + [3] * 7 + [tok.END]
    assert split[1][9] == (0, 1.0)  # padded with the encoder's pad token


def test_sd1_plain_prompt_equals_diffusers(sd1):
    clip, tiny = sd1
    (cond, options), = CLIPTextEncode().encode(clip, "a photo of a cat")[0]
    expected, _ = _pipeline(tiny).encode_prompt("a photo of a cat", "cpu", 1, False)
    torch.testing.assert_close(cond, expected, atol=1e-5, rtol=1e-5)
    assert options["pooled_output"].shape == (1, 32)


def test_sdxl_prompt_and_pooled_equal_diffusers(sdxl):
    clip, tiny = sdxl
    (cond, options), = CLIPTextEncode().encode(clip, "a watercolor fox")[0]
    embeds, _, pooled, _ = _pipeline(tiny).encode_prompt("a watercolor fox", device="cpu",
                                                         do_classifier_free_guidance=False)
    torch.testing.assert_close(cond, embeds, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(options["pooled_output"], pooled, atol=1e-5, rtol=1e-5)


def test_weights_move_tokens_away_from_the_empty_prompt(sd1):
    clip, _ = sd1
    plain = clip.encode("red cat")[0][0]
    weighted = clip.encode("red (cat:1.5)")[0][0]
    empty = clip.encode_from_tokens({"l": [tok.empty_chunk(tok.END)]}, return_pooled=False)
    torch.testing.assert_close(weighted[0, 2], (plain[0, 2] - empty[0, 2]) * 1.5 + empty[0, 2])
    torch.testing.assert_close(weighted[0, 1], plain[0, 1])


def test_long_prompt_is_encoded_in_chunks_with_first_chunk_pooled(sd1):
    clip, _ = sd1
    long_prompt = " ".join(["cat"] * 80)
    (cond, options), = clip.encode(long_prompt)
    assert cond.shape == (1, 154, 32)
    first = clip.encode(" ".join(["cat"] * 75))
    torch.testing.assert_close(options["pooled_output"], first[0][1]["pooled_output"])


def test_embedding_word_inserts_its_vectors(sd1, tmp_path):
    from safetensors.torch import save_file

    clip, _ = sd1
    inner = clip.slots[0].model
    cat_id = tok.word_ids("cat")[0]
    vector = inner.embeddings.token_embedding.weight[cat_id].clone()
    save_file({"emb_params": vector[None]}, str(tmp_path / "catlike.safetensors"))
    clip.embeddings = type(clip.embeddings)([tmp_path])
    torch.testing.assert_close(clip.encode("a embedding:catlike")[0][0], clip.encode("a cat")[0][0])
    # a missing embedding is dropped with a warning, like an absent word
    torch.testing.assert_close(clip.encode("a embedding:missing")[0][0], clip.encode("a")[0][0])


def test_set_last_layer_uses_normed_hidden_layer_and_leaves_original(sd1):
    clip, _ = sd1
    skipped = CLIPSetLastLayer().set_last_layer(clip, -2)[0]
    assert clip.slots[0].layer is None and skipped.slots[0].layer == -2
    model = clip.slots[0].model
    ids = torch.tensor([[t for t, _ in tok.tokenize("a dog", tok.END)[0]]])
    out = model(input_ids=ids, output_hidden_states=True)
    expected = model.final_layer_norm(out.hidden_states[-2])
    torch.testing.assert_close(CLIPTextEncode().encode(skipped, "a dog")[0][0][0], expected)
    torch.testing.assert_close(CLIPTextEncode().encode(clip, "a dog")[0][0][0], out.last_hidden_state)


def test_sdxl_nodes_add_size_and_aesthetic_options(sdxl, tiny_checkpoints):
    clip, _ = sdxl
    (cond, options), = CLIPTextEncodeSDXL().encode(clip, 832, 1216, 0, 8, 1024, 1024, "a fox", "orange fur")[0]
    assert cond.shape == (1, 77, 96)
    assert (options["width"], options["height"], options["crop_h"], options["target_width"]) == (832, 1216, 8, 1024)
    g_only = clip.encode_from_tokens({"g": clip.tokenize("a fox")["g"], "l": clip.tokenize("a fox")["l"]})[0]
    assert torch.allclose(cond[..., 32:], g_only[..., 32:]) and not torch.allclose(cond[..., :32], g_only[..., :32])
    refiner = CheckpointLoaderSimple().load_checkpoint(tiny_checkpoints["sdxl_refiner"].name)[1]
    (rcond, roptions), = CLIPTextEncodeSDXLRefiner().encode(refiner, 2.5, 1024, 1024, "a fox")[0]
    assert rcond.shape == (1, 77, 64) and roptions["aesthetic_score"] == 2.5
    with pytest.raises(ValueError, match="CLIPTextEncodeSDXLRefiner.*'clip'"):
        CLIPTextEncodeSDXLRefiner().encode(CheckpointLoaderSimple().load_checkpoint("tiny_sd1.safetensors")[1],
                                           6.0, 1024, 1024, "x")


def test_missing_clip_is_a_clear_error():
    with pytest.raises(RuntimeError, match="CLIPTextEncode: clip input is invalid: None"):
        CLIPTextEncode().encode(None, "x")


def test_refiner_prompt_equals_diffusers(tiny_checkpoints, tiny_models_paths):
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLImg2ImgPipeline

    tiny = tiny_checkpoints["sdxl_refiner"]
    clip = CheckpointLoaderSimple().load_checkpoint(tiny.name)[1]
    pipe = StableDiffusionXLImg2ImgPipeline(**tiny.pipeline_components(), text_encoder=None, tokenizer=None,
                                            scheduler=EulerDiscreteScheduler(), requires_aesthetics_score=True)
    embeds, _, pooled, _ = pipe.encode_prompt("a red barn", device="cpu", do_classifier_free_guidance=False)
    (cond, options), = CLIPTextEncode().encode(clip, "a red barn")[0]
    torch.testing.assert_close(cond, embeds, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(options["pooled_output"], pooled, atol=1e-5, rtol=1e-5)
