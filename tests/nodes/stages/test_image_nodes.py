"""Image nodes: loading (alpha → mask, frames, bad files), saving with metadata and counters, transforms."""

import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from runtime.imaging.png_metadata import read_workflow
from nodes.stages import image as I


def write_png(path, pixels, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(pixels, dtype=np.uint8), mode).save(path)
    return path


def test_load_image_turns_alpha_into_an_inverted_mask(folders):
    rgba = np.zeros((5, 7, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 255
    rgba[0, 0, 3] = 0
    write_png(folders.input_dir / "rgba.png", rgba)
    image, mask = I.LoadImage().load_image("rgba.png")
    assert image.shape == (1, 5, 7, 3) and image.dtype == torch.float32
    assert torch.equal(image[0, 1, 1], torch.tensor([1.0, 0.0, 0.0]))
    assert mask.shape == (1, 5, 7)
    assert mask[0, 0, 0] == 1.0 and mask.sum() == 1.0


def test_load_image_without_alpha_gives_a_64x64_zero_mask(folders):
    write_png(folders.input_dir / "rgb.png", np.full((10, 12, 3), 128))
    image, mask = I.LoadImage().load_image("rgb.png")
    assert torch.allclose(image, torch.full((1, 10, 12, 3), 128 / 255))
    assert mask.shape == (1, 64, 64) and mask.abs().sum() == 0


def test_load_image_reads_every_frame_of_an_animation(folders):
    frames = [Image.new("RGB", (8, 6), color) for color in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(folders.input_dir / "anim.gif", save_all=True, append_images=frames[1:])
    image, mask = I.LoadImage().load_image("anim.gif")
    assert image.shape == (3, 6, 8, 3)
    assert image[:, 0, 0].argmax(-1).tolist() == [0, 1, 2]
    assert mask.shape[0] == 3


def test_load_image_resolves_subfolders_and_annotations(folders):
    write_png(folders.output_dir / "run" / "x.png", np.zeros((4, 4, 3)))
    image, _ = I.LoadImage().load_image("run/x.png [output]")
    assert image.shape == (1, 4, 4, 3)
    with pytest.raises(ValueError, match="outside"):
        I.LoadImage().load_image("../../etc/passwd")


def test_load_image_names_node_input_and_file_for_a_non_image(folders):
    (folders.input_dir / "notes.png").write_text("not a picture")
    with pytest.raises(ValueError, match=r"LoadImage: input 'image': .*notes\.png is not an image"):
        I.LoadImage().load_image("notes.png")


def test_combo_lists_only_images_and_validation_checks_existence(folders):
    write_png(folders.input_dir / "b.png", np.zeros((2, 2, 3)))
    write_png(folders.input_dir / "a.jpg", np.zeros((2, 2, 3)))
    (folders.input_dir / "readme.txt").write_text("x")
    (folders.input_dir / "sub").mkdir()
    assert I.LoadImage.INPUT_TYPES()["required"]["image"][0] == ["a.jpg", "b.png"]
    assert I.LoadImageMask.INPUT_TYPES()["required"]["image"][0] == ["a.jpg", "b.png", "readme.txt"]
    assert I.LoadImage.VALIDATE_INPUTS("b.png") is True
    assert I.LoadImage.VALIDATE_INPUTS("nope.png") == "Invalid image file: nope.png"


def test_is_changed_is_the_file_sha256(folders):
    path = write_png(folders.input_dir / "c.png", np.zeros((2, 2, 3)))
    first = I.LoadImage.IS_CHANGED("c.png")
    import hashlib

    assert first == hashlib.sha256(path.read_bytes()).hexdigest()
    write_png(path, np.ones((2, 2, 3)))
    assert I.LoadImage.IS_CHANGED("c.png") != first


def test_load_image_mask_channels(folders):
    rgba = np.zeros((3, 3, 4), dtype=np.uint8)
    rgba[..., 0] = 51
    rgba[..., 3] = 255
    write_png(folders.input_dir / "m.png", rgba)
    (red,) = I.LoadImageMask().load_image("m.png", "red")
    (alpha,) = I.LoadImageMask().load_image("m.png", "alpha")
    assert red.shape == (1, 3, 3) and torch.allclose(red, torch.full_like(red, 0.2))
    assert torch.equal(alpha, torch.zeros_like(alpha))


def test_save_image_writes_counted_pngs_with_prompt_and_workflow(folders):
    images = torch.full((2, 4, 6, 3), 0.5)
    prompt = {"1": {"class_type": "SaveImage", "inputs": {}}}
    workflow = {"nodes": [], "links": [], "version": 0.4, "note": "ü"}
    result = I.SaveImage().save_images(images, "ComfyUI", prompt=prompt, extra_pnginfo={"workflow": workflow})
    assert result == {"ui": {"images": [{"filename": "ComfyUI_00001_.png", "subfolder": "", "type": "output"},
                                        {"filename": "ComfyUI_00002_.png", "subfolder": "", "type": "output"}]}}
    saved = folders.output_dir / "ComfyUI_00002_.png"
    assert read_workflow(saved) == {"prompt": prompt, "workflow": workflow}
    with Image.open(saved) as picture:
        assert picture.size == (6, 4)
        assert picture.getpixel((0, 0)) == (127, 127, 127)  # truncation, not rounding
        assert json.loads(picture.text["workflow"]) == workflow


def test_save_image_counter_continues_after_existing_files_and_supports_subfolders(folders):
    (folders.output_dir / "shots").mkdir()
    (folders.output_dir / "shots" / "cat_00007_.png").write_bytes(b"")
    (folders.output_dir / "shots" / "cat_final.png").write_bytes(b"")
    (folders.output_dir / "shots" / "category_00042_.png").write_bytes(b"")
    result = I.SaveImage().save_images(torch.zeros(1, 2, 2, 3), "shots/cat")
    assert result["ui"]["images"] == [{"filename": "cat_00008_.png", "subfolder": "shots", "type": "output"}]


def test_save_image_refuses_prefixes_outside_the_output_folder(folders):
    with pytest.raises(ValueError, match="SaveImage: input 'filename_prefix'.*outside"):
        I.SaveImage().save_images(torch.zeros(1, 2, 2, 3), "../escape")


def test_save_image_substitutes_size_variables(folders):
    result = I.SaveImage().save_images(torch.zeros(1, 2, 5, 3), "img_%width%x%height%")
    assert result["ui"]["images"][0]["filename"] == "img_5x2_00001_.png"


def test_preview_image_goes_to_temp_with_a_random_suffix(folders):
    node = I.PreviewImage()
    (entry,) = node.save_images(torch.zeros(1, 2, 2, 3))["ui"]["images"]
    assert entry["type"] == "temp" and entry["subfolder"] == ""
    assert re.fullmatch(r"ComfyUI_temp_[a-vxyz]{5}_00001_\.png", entry["filename"])
    assert (folders.temp_dir / entry["filename"]).is_file()
    assert "w" not in I.PREVIEW_SUFFIX_ALPHABET and I.PREVIEW_SUFFIX_ALPHABET.count("p") == 2


def test_image_scale_keeps_aspect_when_one_side_is_zero():
    image = torch.rand(1, 10, 20, 3)
    (out,) = I.ImageScale().upscale(image, "bilinear", 0, 5, "disabled")
    assert out.shape == (1, 5, 10, 3)
    (same,) = I.ImageScale().upscale(image, "bilinear", 0, 0, "disabled")
    assert same is image
    (cropped,) = I.ImageScale().upscale(image, "nearest-exact", 10, 10, "center")
    assert torch.equal(cropped, image[:, :, 5:15])
    (lanczos,) = I.ImageScale().upscale(image, "lanczos", 7, 3, "disabled")
    assert lanczos.shape == (1, 3, 7, 3)


def test_image_scale_by_and_to_total_pixels():
    image = torch.rand(1, 256, 512, 3)
    assert I.ImageScaleBy().upscale(image, "area", 0.5)[0].shape == (1, 128, 256, 3)
    (out,) = I.ImageScaleToTotalPixels().upscale(image, "bilinear", 0.5, 1)
    assert out.shape == (1, 512, 1024, 3)
    (stepped,) = I.ImageScaleToTotalPixels().upscale(image, "bilinear", 0.1, 64)
    assert stepped.shape[1] % 64 == 0 and stepped.shape[2] % 64 == 0


def test_invert_and_empty_image_colour():
    assert torch.allclose(I.ImageInvert().invert(torch.full((1, 2, 2, 3), 0.25))[0], torch.full((1, 2, 2, 3), 0.75))
    (solid,) = I.EmptyImage().generate(4, 3, 2, color=0xFF8000)
    assert solid.shape == (2, 3, 4, 3)
    assert torch.allclose(solid[1, 2, 3], torch.tensor([1.0, 128 / 255, 0.0]))


def test_image_batch_resizes_second_and_pads_alpha():
    first, second = torch.rand(1, 8, 8, 4), torch.rand(2, 4, 4, 3)
    (out,) = I.ImageBatch().batch(first, second)
    assert out.shape == (3, 8, 8, 4)
    assert torch.equal(out[1:, ..., 3], torch.ones(2, 8, 8))


def test_pad_for_outpaint_fills_grey_and_feathers_towards_padded_edges():
    image = torch.zeros(1, 100, 100, 3)
    padded, mask = I.ImagePadForOutpaint().expand_image(image, left=8, top=0, right=0, bottom=16, feathering=10)
    assert padded.shape == (1, 116, 108, 3) and mask.shape == (1, 116, 108)
    assert padded[0, 0, 0, 0] == 0.5 and padded[0, 0, 8, 0] == 0.0
    assert mask[0, :, :8].min() == 1 and mask[0, 100:].min() == 1
    assert mask[0, 50, 8] == 1.0  # distance 0 to the padded left edge: (10 - 0)/10 squared
    assert mask[0, 50, 13] == pytest.approx(0.25)  # distance 5
    assert mask[0, 50, 30] == 0.0 and mask[0, 0, 50] == 0.0  # far inside; top was not padded
    assert mask[0, 99, 50] == pytest.approx(0.81)  # distance 1 to the padded bottom edge


def test_crop_clips_to_the_image():
    image = torch.rand(1, 10, 10, 3)
    (out,) = I.ImageCrop().crop(image, width=8, height=4, x=6, y=20)
    assert torch.equal(out, image[:, 9:10, 6:10])


def test_composite_masked_pastes_through_the_mask():
    destination, source = torch.zeros(1, 4, 4, 3), torch.ones(1, 2, 2, 3)
    mask = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])
    (out,) = I.ImageCompositeMasked().composite(destination, source, 3, 1, False, mask)
    assert out[0, ..., 0].tolist() == [[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]]
    (resized,) = I.ImageCompositeMasked().composite(destination, torch.ones(1, 1, 1, 4), 0, 0, True)
    assert torch.equal(resized, torch.ones(1, 4, 4, 3))


def test_batch_number_goes_into_each_file_name(folders):
    result = I.SaveImage().save_images(torch.zeros(2, 2, 2, 3), "frame_%batch_num%")
    assert [entry["filename"] for entry in result["ui"]["images"]] == ["frame_0_00001_.png", "frame_1_00002_.png"]


def test_load_image_output_reads_annotated_output_files(folders):
    write_png(folders.output_dir / "done.png", np.full((3, 3, 3), 255))
    spec = I.LoadImageOutput.INPUT_TYPES()["required"]["image"]
    assert spec[0] == "COMBO" and spec[1]["image_folder"] == "output"
    assert I.LoadImageOutput.VALIDATE_INPUTS("done.png [output]") is True
    image, _ = I.LoadImageOutput().load_image("done.png [output]")
    assert torch.equal(image, torch.ones(1, 3, 3, 3))
