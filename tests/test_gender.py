"""Gender photos: image reading, the three sources, cleaning counts, splits, the nets' shapes.

Fixtures are tiny generated photos: class 0 (Female) reddish with horizontal stripes,
class 1 (Male) bluish with vertical stripes, so a model can learn them.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from econdl.errors import DataError
from econdl.data.faces import LECTURE_TEST_SHARE, GenderImageDataModule, split_sizes
from econdl.data.images import decode_image, greyscale_mask, list_images, read_images
from econdl.nets import MLP, FaceCNN, count_parameters
from econdl.tasks.sizing import materialize

CLASSES = ("Female", "Male")


def photo(cls: int, i: int, h: int = 40, w: int = 32) -> Image.Image:
    """A colour photo of class ``cls``; ``i`` varies its noise."""
    rng = np.random.default_rng(1000 * cls + i)
    img = rng.integers(0, 60, (h, w, 3)).astype(np.uint8)
    img[..., 0 if cls == 0 else 2] += 150
    if cls == 0:
        img[::4] += 40
    else:
        img[:, ::4] += 40
    return Image.fromarray(img)


def write_folder(root: Path, n: int = 12, corrupt: bool = True) -> Path:
    """root/Female, root/Male with ``n`` photos each (JPEG and PNG) and a corrupt file."""
    for c, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            photo(c, i).save(root / name / f"{i:02d}.{'jpg' if i % 2 else 'png'}")
    if corrupt:
        (root / "Male" / "corrupt.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return root


def write_manifest(folder: Path) -> Path:
    """A manifest of 30 rows: 20 good colour photos (codes in mixed case), 3 greyscale
    (2 single-channel PNGs, 1 RGB JPEG with equal channels), 5 uncoded rows, 1 corrupt
    file and 1 file that does not exist."""
    img = folder / "img"
    img.mkdir(parents=True)
    rows = []
    for i in range(20):
        c = i % 2
        photo(c, i).save(img / f"p{i}.jpg")
        rows.append((f"img/p{i}.jpg", ["F", "male", "Female", "M"][i % 4]))
    grey = np.asarray(photo(0, 99).convert("L"))
    Image.fromarray(grey).save(img / "g0.png")
    Image.fromarray(grey).save(img / "g1.png")
    Image.fromarray(np.stack([grey] * 3, axis=-1)).save(img / "g2.jpg", quality=90)
    rows += [("img/g0.png", "F"), ("img/g1.png", "M"), ("img/g2.jpg", "Male")]
    for i, code in enumerate(["", "unknown", "X", "  ", "NA"]):
        photo(1, 50 + i).save(img / f"u{i}.jpg")
        rows.append((f"img/u{i}.jpg", code))
    (img / "broken.jpg").write_bytes(b"broken")
    rows += [("img/broken.jpg", "F"), ("img/missing.jpg", "M")]
    csv = folder / "photos.csv"
    csv.write_text("file,sex\n" + "".join(f"{p},{g}\n" for p, g in rows))
    return csv


# --- image reading ------------------------------------------------------------------------
def test_read_images_matches_pil_resize_and_reports_bad_files(tmp_path):
    write_folder(tmp_path, n=3)
    paths = list_images(tmp_path / "Male")
    assert [p.name for p in paths] == ["00.png", "01.jpg", "02.png", "corrupt.jpg"]
    (tmp_path / "Male" / "notes.txt").write_text("not an image")
    assert len(list_images(tmp_path / "Male")) == 4
    with pytest.warns(UserWarning, match="corrupt.jpg"):
        images, kept, failed = read_images(paths, (20, 16))
    assert images.shape == (3, 3, 20, 16) and images.dtype == torch.uint8
    assert kept == paths[:3] and failed[0][0] == paths[3]
    oracle = np.asarray(Image.open(paths[0]).convert("RGB").resize((16, 20), Image.Resampling.BILINEAR))
    assert torch.equal(images[0], torch.from_numpy(oracle.copy()).permute(2, 0, 1))
    grey, _, _ = read_images(paths[:1], (20, 16), mode="L")
    assert grey.shape == (1, 1, 20, 16)
    with pytest.raises(ValueError, match="corrupt.jpg"):
        read_images(paths, (20, 16), on_error="raise")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        list_images(tmp_path / "nowhere")


def test_read_images_in_worker_processes_gives_the_same_tensor(tmp_path):
    paths = list_images(write_folder(tmp_path, n=4, corrupt=False) / "Female")
    assert torch.equal(read_images(paths, (24, 20))[0], read_images(paths, (24, 20), workers=2)[0])


@pytest.mark.parametrize("orientation", [3, 6, 8])
@pytest.mark.parametrize("fmt", ["jpg", "png"])
def test_a_photo_stored_turned_with_an_exif_orientation_is_read_upright(tmp_path, orientation, fmt):
    """Phones store a portrait photo turned and tag it (EXIF orientation 3, 6 or 8); it must be
    read as a viewer shows it, at the requested size, also when a large JPEG is decoded at a
    reduced scale."""
    upright = np.zeros((400, 320, 3), np.uint8)
    upright[:] = (120, 130, 190)
    upright[:, :80] = (255, 0, 0)  # a red band down the left side of the upright photo
    undo = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}
    stored = Image.fromarray(upright).transpose(undo[orientation])  # what the camera stores
    exif = stored.getexif()
    exif[0x0112] = orientation
    path = tmp_path / f"phone.{fmt}"
    stored.save(path, exif=exif, **({"quality": 95} if fmt == "jpg" else {}))
    plain = tmp_path / f"plain.{fmt}"
    Image.fromarray(upright).save(plain, **({"quality": 95} if fmt == "jpg" else {}))
    got = decode_image(path, (100, 80)).astype(int)
    assert got.shape == (3, 100, 80)
    np.testing.assert_allclose(got, decode_image(plain, (100, 80)), atol=12)
    assert got[0, :, :15].mean() > 230 and got[0, :, 30:].mean() < 140  # the band is on the left


def test_greyscale_mask_finds_single_channel_and_equal_channel_images(tmp_path):
    colour = photo(0, 1)
    grey = colour.convert("L")
    grey.save(tmp_path / "l.png")
    Image.merge("RGB", [grey] * 3).save(tmp_path / "rgb_grey.jpg")
    colour.save(tmp_path / "colour.jpg")
    images, _, _ = read_images([tmp_path / n for n in ("l.png", "rgb_grey.jpg", "colour.jpg")], (40, 32))
    assert greyscale_mask(images).tolist() == [True, True, False]
    assert decode_image(tmp_path / "l.png", (40, 32)).shape == (3, 40, 32)


def test_greyscale_mask_tolerates_exactly_two_levels_between_channels():
    """The default tolerance is 2 levels (JPEG leaves a level or two): channels 2 apart count
    as grey, 3 apart do not, on a single pixel too; 0 and 255 are 255 levels apart, not 1."""
    images = torch.full((7, 3, 4, 4), 100, dtype=torch.uint8)
    images[0, 1, 2, 3] = 102  # red 100, green 102: 2 levels
    images[1, 1, 2, 3] = 103  # 3 levels
    images[2, 2, 0, 0] = 98  # green 100, blue 98: 2 levels
    images[3, 2, 0, 0] = 97  # 3 levels
    images[4, 0], images[4, 1], images[4, 2] = 1, 255, 255  # 254 levels (uint8 arithmetic would wrap to 2)
    images[5, 0], images[5, 1], images[5, 2] = 0, 1, 2  # 1 level between neighbouring channels
    assert greyscale_mask(images).tolist() == [True, False, True, False, False, True, True]
    assert greyscale_mask(images, tolerance=0).tolist() == [False, False, False, False, False, False, True]


# --- the DataModule -------------------------------------------------------------------------
def test_split_sizes_hold_the_lecture_share_on_other_counts():
    # 4,997 / 40,932 = 12.208% of any collection: 10,000 photos -> 1,220.8 -> 1,221 test photos,
    # then a tenth of the 8,779 left (877.9 -> 878) for validation
    assert split_sizes(10_000, LECTURE_TEST_SHARE, 0.1) == (7_901, 878, 1_221)
    assert split_sizes(1_000, LECTURE_TEST_SHARE, 0.0) == (878, 0, 122)  # 122.08 -> 122
    assert split_sizes(1_000, LECTURE_TEST_SHARE, 50) == (828, 50, 122)  # a count of photos
    assert split_sizes(40_932, LECTURE_TEST_SHARE, 0.0) == (35_935, 0, 4_997)  # the lecture's own split


def test_split_sizes_keep_at_least_one_test_photo_and_one_validation_photo():
    # 5 photos x 0.05 = 0.25 rounds to 0 test photos: at least one is kept
    assert split_sizes(5, 0.05, 0) == (4, 0, 1)
    # and a validation fraction of the 4 left (0.1 x 4 = 0.4 -> 0) keeps one too
    assert split_sizes(5, 0.05, 0.1) == (3, 1, 1)


def test_val_size_vocabulary_and_its_errors(tmp_path):
    with pytest.warns(FutureWarning, match="val_size 0.2"):  # shown by Python, unlike a DeprecationWarning
        old = GenderImageDataModule(root=str(tmp_path), val_share=0.2)
    assert old.val_size == 0.2
    # both names, two values: val_share=0.3 won over val_size=0.2 without a word
    with pytest.raises(ValueError, match=r"val_share=0.3 and val_size=0.2 both set the validation split"):
        GenderImageDataModule(root=str(tmp_path), val_share=0.3, val_size=0.2)
    for bad, message in ((1.0, "val_size=1.0 is ambiguous"), (-3, "val_size=-3"), (2.5, "val_size=2.5")):
        with pytest.raises(ValueError, match=message):
            GenderImageDataModule(root=str(tmp_path), val_size=bad)
    with pytest.raises(ValueError, match="val_size=900 must be smaller than the 878 remaining photos"):
        split_sizes(1_000, LECTURE_TEST_SHARE, 900)


def test_folder_source_splits_deterministically_and_keeps_uint8(tmp_path, capsys):
    root = write_folder(tmp_path / "photos")
    dm = GenderImageDataModule(root=str(root), image_size=(40, 32), batch_size=8)
    dm.setup("fit")
    out = capsys.readouterr().out
    assert "dropped 1 unreadable image file" in out and "gender: 19 train / 2 val / 3 test photos" in out
    x, y = dm.split("train")
    assert x.dtype == torch.uint8 and x.shape[1:] == (3, 40, 32)
    sizes = tuple(len(dm.split(s)[1]) for s in ("train", "val", "test"))
    assert sizes == split_sizes(24, LECTURE_TEST_SHARE, 0.1) == (19, 2, 3)
    assert dm.class_names == ["Female", "Male"]
    every_label = torch.cat([dm.split(s)[1] for s in ("train", "val", "test")])
    assert sorted(every_label.tolist()) == [0] * 12 + [1] * 12
    # labels follow the folders: Female photos are red-dominant
    red_minus_blue = x[:, 0].float().mean((1, 2)) - x[:, 2].float().mean((1, 2))
    assert torch.equal(red_minus_blue > 0, y == 0)
    again = GenderImageDataModule(root=str(root), image_size=(40, 32))
    assert again.paths == {} and again.setup("fit") is None and again.paths == dm.paths
    other = GenderImageDataModule(root=str(root), image_size=(40, 32), split_seed=1)
    other.setup("fit")
    assert other.paths["test"] != dm.paths["test"]
    scaled = dm.example_input(4)
    assert scaled.dtype == torch.float32 and float(scaled.min()) >= 0.0 and float(scaled.max()) <= 1.0


def test_manifest_cleaning_counts_every_rule(tmp_path, capsys):
    csv = write_manifest(tmp_path)
    dm = GenderImageDataModule(
        source="manifest", path=str(csv), path_column="file", label_column="sex", image_size=(40, 32), on_error="skip"
    )
    dm.setup("fit")
    out = capsys.readouterr().out
    assert dm.report == {"rows": 30, "uncoded": 5, "unreadable": 2, "greyscale": 3, "kept": 20}
    assert "dropped 5 rows with missing or uncoded gender" in out and "dropped 3 greyscale images" in out
    assert "dropped 2 unreadable image files" in out and "missing.jpg" in out and "broken.jpg" in out
    kept = [p for s in ("train", "val", "test") for p in dm.paths[s]]
    assert sorted(p.name for p in kept) == sorted(f"p{i}.jpg" for i in range(20))
    y = torch.cat([dm.split(s)[1] for s in ("train", "val", "test")])
    assert int((y == 0).sum()) == 10  # F and Female rows, case-insensitive
    # a custom mapping: only 'female'/'male' recognised, then 'F'/'M' rows count as uncoded
    strict = GenderImageDataModule(
        source="manifest", path=str(csv), path_column="file", label_column="sex", image_size=(40, 32), codes={}
    )
    strict.setup("fit")
    assert strict.report["uncoded"] == 5 + 14


def test_flip_augmentation_only_in_training(tmp_path):
    dm = GenderImageDataModule(root=str(tmp_path), flip=True)
    x = torch.arange(64 * 3 * 2 * 4, dtype=torch.uint8).reshape(64, 3, 2, 4)
    dm.trainer = SimpleNamespace(training=True)
    out = dm.on_after_batch_transfer((x, torch.zeros(64)), 0)[0]
    plain, flipped = x.float() / 255, x.float().flip(-1) / 255
    same = (out == plain).flatten(1).all(1)
    assert torch.equal(same, ~(out == flipped).flatten(1).all(1)) and 0 < int(same.sum()) < 64
    dm.trainer = SimpleNamespace(training=False)
    assert torch.equal(dm.on_after_batch_transfer((x, torch.zeros(64)), 0)[0], plain)


def test_bad_input_fails_naming_the_path_or_columns(tmp_path):
    def build(**kw):
        GenderImageDataModule(image_size=(20, 16), **kw).setup("fit")

    with pytest.raises(FileNotFoundError, match="nowhere"):
        build(root=str(tmp_path / "nowhere"))
    root = write_folder(tmp_path / "photos", n=3)
    with pytest.raises(ValueError, match="corrupt.jpg"):
        build(root=str(root), on_error="raise")
    with pytest.raises(FileNotFoundError, match="Other"):
        build(root=str(root), classes=["Female", "Other"])
    (root / "Empty").mkdir()
    with pytest.raises(ValueError, match=r"photos/Empty holds no"):
        build(root=str(root), classes=["Female", "Empty"])
    csv = write_manifest(tmp_path / "m")
    with pytest.raises(ValueError, match=r"no column\(s\) \['path', 'gender'\]"):
        build(source="manifest", path=str(csv))
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        build(source="manifest", path=str(tmp_path / "nope.csv"))
    with pytest.raises(ValueError, match="source='pictures'"):
        GenderImageDataModule(source="pictures", root="x")
    with pytest.raises(ValueError, match="--data.root"):
        GenderImageDataModule(source="folder")
    with pytest.raises(ValueError, match="'W'.*not one of classes"):
        GenderImageDataModule(root="x", codes={"W": "Woman"})


def write_fake_celeba(root: Path, n: int = 12) -> list[int]:
    """CelebA's file layout with ``n`` generated photos; returns the Male attribute (0/1)."""
    base = root / "celeba"
    (base / "img_align_celeba").mkdir(parents=True)
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    male = [i % 2 for i in range(n)]
    for name, m in zip(names, male, strict=True):
        photo(m, int(name[:6])).save(base / "img_align_celeba" / name)
    rows = lambda fmt: "".join(fmt(name, m) for name, m in zip(names, male, strict=True))  # noqa: E731
    (base / "list_attr_celeba.txt").write_text(f"{n}\nMale Smiling\n" + rows(lambda f, m: f"{f} {2 * m - 1} -1\n"))
    (base / "list_eval_partition.txt").write_text(rows(lambda f, m: f"{f} 0\n"))
    (base / "identity_CelebA.txt").write_text(rows(lambda f, m: f"{f} 1\n"))
    (base / "list_bbox_celeba.txt").write_text(
        f"{n}\nimage_id x_1 y_1 width height\n" + rows(lambda f, m: f"{f} 0 0 4 4\n")
    )
    (base / "list_landmarks_align_celeba.txt").write_text(
        f"{n}\nlx ly rx ry nx ny a b c d\n" + rows(lambda f, m: f"{f}" + " 1" * 10 + "\n")
    )
    return male


def test_celeba_source_reads_the_male_attribute(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "celeba")):
        GenderImageDataModule(source="celeba", root=str(tmp_path), image_size=(20, 16)).setup("fit")
    male = write_fake_celeba(tmp_path)
    # the real files' MD5 sums cannot match generated ones; everything else is torchvision's own parser
    from torchvision.datasets import CelebA

    monkeypatch.setattr(CelebA, "_check_integrity", lambda self: True)
    dm = GenderImageDataModule(source="celeba", root=str(tmp_path), image_size=(40, 32), max_images=10)
    dm.setup("fit")
    assert dm.report["rows"] == 12 and dm.report["kept"] == 10
    for split in ("train", "val", "test"):
        truth = [male[int(p.name[:6]) - 1] for p in dm.paths[split]]
        assert dm.split(split)[1].tolist() == truth


# --- the networks -----------------------------------------------------------------------------
def test_mlp_on_flattened_photos_has_the_lecture_counts():
    net = MLP(widths=[128, 128], out_features=2, flatten=True)
    materialize(net, torch.zeros(2, 3, 135, 110))
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert linears[0].weight.shape == (128, 44_550)
    assert [count_parameters(m) for m in linears] == [(44_550 + 1) * 128, (128 + 1) * 128, (128 + 1) * 2]
    assert net(torch.zeros(5, 3, 135, 110)).shape == (5, 2)


def test_face_cnn_has_the_lecture_shapes_and_counts():
    net = FaceCNN()
    x = torch.zeros(2, 3, 135, 110)
    materialize(net, x)
    first = net.features[:3](x)
    assert first.shape == (2, 64, 66, 54)
    assert net.features(x).shape == (2, 64, 32, 26) and 64 * 32 * 26 == 53_248
    head = net.head[1]
    assert count_parameters(head) == 2 * (53_248 + 1)
    assert count_parameters(net) == (3 * 9 + 1) * 64 + (64 * 9 + 1) * 64 + 2 * (53_248 + 1)
    assert net(x).shape == (2, 2)
    with pytest.raises(ValueError, match="channels"):
        FaceCNN(channels=[])


def test_val_size_zero_validates_on_the_test_photos(tmp_path, capsys):
    root = write_folder(tmp_path / "photos", corrupt=False)
    dm = GenderImageDataModule(root=str(root), image_size=(40, 32), val_size=0)
    dm.setup("fit")
    assert "gender: 21 train / 0 val / 3 test photos" in capsys.readouterr().out
    assert dm.paths["val"] == dm.paths["test"]
    assert all(torch.equal(a, b) for a, b in zip(dm.split("val"), dm.split("test"), strict=True))


def test_max_images_that_cannot_hold_every_class_is_refused_naming_it(tmp_path):
    """-1 was accepted (a subset of all but one photo), 0 and 2 ended in 'add photos of every
    class', which is not what was wrong."""
    for bad in (-1, 0, 3):
        with pytest.raises(ValueError, match=f"max_images={bad} must be a count of photos, at least 4"):
            GenderImageDataModule(root=str(tmp_path), max_images=bad)
    root = write_folder(tmp_path / "photos", n=12, corrupt=False)
    # a subset of 4 of 24 photos that lacks a class: the fix named is max_images, not more photos
    for seed in range(50):
        dm = GenderImageDataModule(root=str(root), image_size=(40, 32), max_images=4, split_seed=seed)
        try:
            dm.setup("fit")
        except ValueError as err:
            assert "raise max_images=4" in str(err) and "add photos" not in str(err)
            break
    else:
        pytest.fail("no split_seed drew a one-class subset")
    # a class whose photos are all greyscale: max_images is not what to change
    for path in (root / "Female").iterdir():
        Image.open(path).convert("L").convert("RGB").save(path)
    with pytest.raises(ValueError, match="drop_greyscale false") as err:
        GenderImageDataModule(root=str(root), image_size=(40, 32), max_images=20).setup("fit")
    assert "max_images" not in str(err.value).split(";")[-1]


def test_photos_in_subfolders_of_a_class_folder_are_read_and_hidden_ones_are_not(tmp_path, capsys):
    """As torchvision's ImageFolder reads a class folder: nested photos belong to the class;
    hidden folders and files (.ipynb_checkpoints, macOS ._ files) are not photos."""
    root = write_folder(tmp_path / "photos", n=6, corrupt=False)
    for c, name in enumerate(CLASSES):
        deeper = root / name / "2019" / "batch b"
        deeper.mkdir(parents=True)
        for i in range(6, 10):
            photo(c, i).save(deeper / f"{i:02d}.jpg")
        hidden = root / name / ".ipynb_checkpoints"
        hidden.mkdir()
        photo(1 - c, 99).save(hidden / "99.png")  # of the other class: read, it would mislabel
        photo(1 - c, 98).save(root / name / "._98.png")
    paths = list_images(root / "Female")
    assert [p.relative_to(root / "Female").as_posix() for p in paths] == [
        *(f"{i:02d}.{'jpg' if i % 2 else 'png'}" for i in range(6)),
        *(f"2019/batch b/{i:02d}.jpg" for i in range(6, 10)),
    ]
    dm = GenderImageDataModule(root=str(root), image_size=(40, 32), batch_size=8)
    dm.setup("fit")
    assert "20 images" in capsys.readouterr().out
    every_label = torch.cat([dm.split(s)[1] for s in ("train", "val", "test")])
    assert sorted(every_label.tolist()) == [0] * 10 + [1] * 10
    x, y = (torch.cat(t) for t in zip(*(dm.split(s)[:2] for s in ("train", "val", "test")), strict=True))
    red_minus_blue = x[:, 0].float().mean((1, 2)) - x[:, 2].float().mean((1, 2))
    assert torch.equal(red_minus_blue > 0, y == 0)  # no photo of the other class came in


def test_a_folder_of_photos_that_is_not_a_class_is_left_out_and_said(tmp_path, capsys):
    """A third label (``Unknown/``) or a misspelt class beside the class folders is not
    trained on; the cleaning line names it, with its count and the option that takes it in.
    A folder without photos (``__MACOSX``-like leftovers) is not worth a mention."""
    root = write_folder(tmp_path / "photos", n=6, corrupt=False)
    (root / "Unknown").mkdir()
    for i in range(3):
        photo(i % 2, 50 + i).save(root / "Unknown" / f"{i}.jpg")
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("not a photo")
    dm = GenderImageDataModule(root=str(root), image_size=(40, 32), batch_size=8)
    dm.setup("fit")
    out = capsys.readouterr().out
    assert "left out Unknown/ (3 images), not one of classes ['Female', 'Male']" in out
    assert "--data.classes" in out and "notes/" not in out
    assert "12 images in the class folders" in out
    assert sorted(torch.cat([dm.split(s)[1] for s in ("train", "val", "test")]).tolist()) == [0] * 6 + [1] * 6
    three = GenderImageDataModule(root=str(root), image_size=(40, 32), classes=["Female", "Male", "Unknown"])
    three.setup("fit")
    assert "left out" not in capsys.readouterr().out
    assert sum(len(three.split(s)[1]) for s in ("train", "val", "test")) == 15


def test_two_folders_of_one_class_in_other_cases_are_refused_naming_both(tmp_path):
    """Male/ and male/ (a case-sensitive file system) both matched the class Male: one was read,
    and the photos of the other were left out without a word, by the note on left-out folders too."""
    root = write_folder(tmp_path / "photos", n=6, corrupt=False)
    (root / "male").mkdir()
    for i in range(3):
        photo(1, 70 + i).save(root / "male" / f"{i}.jpg")
    dm = GenderImageDataModule(root=str(root), image_size=(40, 32), batch_size=8)
    with pytest.raises(DataError, match=r"class 'Male' matches 2 folders of .*, Male/, male/ .*move their photos"):
        dm.setup("fit")


def test_greyscale_photos_to_predict_are_labelled_with_a_note_when_training_dropped_them(tmp_path, capsys):
    """Training drops greyscale photos (drop_greyscale), so a model has seen none: predict still
    labels them (the user asked), and says how many there are and that their labels are less
    reliable; with drop_greyscale false the model saw them too, and nothing is said."""
    new = tmp_path / "new"
    new.mkdir()
    for i in range(4):
        photo(i % 2, 300 + i).save(new / f"c{i}.png")
    photo(0, 310).convert("L").save(new / "grey.png")
    photo(1, 311).convert("L").convert("RGB").save(new / "grey_rgb.jpg")
    dm = GenderImageDataModule(root=str(tmp_path / "absent"), image_size=(40, 32), predict_dir=str(new))
    dm.setup("predict")
    out = capsys.readouterr().out
    assert "predict: 6 photos in" in out and "2 of them greyscale" in out and "less reliable" in out
    assert len(dm.predict_dataloader().tensors[0]) == 6
    kept = GenderImageDataModule(
        root=str(tmp_path / "absent"), image_size=(40, 32), predict_dir=str(new), drop_greyscale=False
    )
    kept.setup("predict")
    assert "of them greyscale" not in capsys.readouterr().out


def test_a_photo_listed_twice_is_read_once_and_one_listed_with_two_genders_not_at_all(tmp_path, capsys):
    """A manifest listing a photo again (the same row, another path to it, a link) trained on it
    twice or put one copy in training and one in test; a photo listed as Male and as Female took
    the last row's class for both copies."""
    csv = write_manifest(tmp_path)
    (tmp_path / "img/link.jpg").symlink_to(tmp_path / "img/p3.jpg")
    rows = csv.read_text()
    rows += "img/p0.jpg,F\n"  # the same row again
    rows += f"{tmp_path / 'img/p1.jpg'},M\n"  # the same photo by its absolute path
    rows += "img/../img/p2.jpg,Female\n"  # and by a roundabout one
    rows += "img/link.jpg,M\n"  # a link to p3.jpg (Male)
    rows += "img/p4.jpg,M\n"  # p4.jpg is listed as Female above
    csv.write_text(rows)
    dm = GenderImageDataModule(
        source="manifest", path=str(csv), path_column="file", label_column="sex", image_size=(40, 32), on_error="skip"
    )
    dm.setup("fit")
    out = capsys.readouterr().out
    assert dm.report["repeated"] == 4 and dm.report["conflicting"] == 1 and dm.report["kept"] == 19
    assert "dropped 4 rows listing a photo again (the same file, by another path or link)" in out
    assert "dropped 1 photo listed with different classes (" in out and "p4.jpg)" in out
    kept = [p.resolve() for s in ("train", "val", "test") for p in dm.paths[s]]
    assert len(kept) == len(set(kept)) == 19 and tmp_path / "img/p4.jpg" not in kept


def test_a_test_set_without_a_class_says_so(tmp_path, capsys):
    """30 Male photos and 3 Female: the random split put every Female photo in training, and the
    test row showed "-" for Female without a word why."""
    for c, (name, n) in enumerate((("Female", 3), ("Male", 30))):
        (tmp_path / name).mkdir()
        for i in range(n):
            photo(c, i).save(tmp_path / name / f"{i:02d}.png")
    for seed, absent in ((0, True), (6, False)):  # seed 6's test photos hold a Female one
        dm = GenderImageDataModule(root=str(tmp_path), image_size=(40, 32), split_seed=seed)
        dm.setup("fit")
        out = capsys.readouterr().out
        assert bool((dm.split("test")[1] == 0).sum() == 0) is absent
        said = "gender: the test set holds no Female photo, so its accuracy for it is not measured"
        assert (said in out) is absent, out
        assert ("or raise --data.test_share (now 0.122" in out) is absent  # the option, as it is given


def test_a_training_set_without_a_class_says_so(tmp_path, capsys):
    """Two Female photos among 20: where the split leaves none in training, no model can learn
    Female, and a line says so (as for a digit set of some digits)."""
    for c, (name, n) in enumerate((("Female", 2), ("Male", 20))):
        (tmp_path / name).mkdir()
        for i in range(n):
            photo(c, i).save(tmp_path / name / f"{i:02d}.png")
    seen = set()
    for seed in range(12):
        dm = GenderImageDataModule(root=str(tmp_path), image_size=(40, 32), split_seed=seed, test_share=0.3)
        dm.setup("fit")
        out = capsys.readouterr().out
        absent = not bool((dm.split("train")[1] == 0).any())
        said = "gender: the training images hold 1 of the 2 classes (Male); no model learns the other"
        assert (said in out) is absent and "learns the others" not in out, out
        seen.add(absent)
        if absent:  # a test or predict may score a checkpoint fitted on other photos: nothing said
            again = GenderImageDataModule(root=str(tmp_path), image_size=(40, 32), split_seed=seed, test_share=0.3)
            again.setup("test")
            assert "no model learns" not in capsys.readouterr().out
    assert seen == {True, False}  # both cases came up


def test_an_image_size_that_is_not_two_positive_numbers_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"image_size=\[0, 24\] must be two positive whole numbers"):
        GenderImageDataModule(root="photos", image_size=(0, 24))


def test_the_old_name_val_share_counts_as_the_val_size_it_stands_for():
    """A test given --data.val_share 0.1 of a fit given val_size 0.1 carves the same sets: it was
    refused as 'val_share null in the fit, 0.1 now'."""
    from econdl.checkpoint_check import split_mismatch

    cls = "econdl.data.faces.GenderImageDataModule"
    saved = {"_class_path": cls, "val_size": 0.1, "val_share": None, "test_share": 0.12, "split_seed": 0}
    ckpt = {"datamodule_hyper_parameters": saved}

    def now(**args: object) -> dict:
        return {"class_path": cls, "init_args": {**saved, **args}}

    assert split_mismatch(ckpt, now(val_share=0.1, val_size=0.1), "test") is None
    assert split_mismatch(ckpt, now(val_share=0.1), "validate") is None
    refused = split_mismatch(ckpt, now(val_share=0.2), "test")
    assert refused is not None and "(val_size 0.1 in the fit, 0.2 now)" in refused


def test_a_resume_may_read_the_same_photos_elsewhere_but_not_label_them_otherwise():
    """The settings a resume leaves to the photos' fingerprints say where and how photos are read
    and split; labels are not in the fingerprints, so the settings that give them stay checked
    (a manifest resumed with its F and M codes swapped kept every pixel and flipped every label)."""
    import inspect

    keys = set(GenderImageDataModule.read_keys)
    assert keys <= set(inspect.signature(GenderImageDataModule).parameters)
    assert {"root", "path", "workers", "val_size", "split_seed"} <= keys
    assert not keys & {"label_column", "codes", "classes", "image_size", "flip", "batch_size"}


def test_a_16_bit_or_transparent_image_decodes_as_a_viewer_shows_it(tmp_path):
    """PIL's convert clipped 16-bit values at 255 (a silhouette) and dropped the alpha channel
    (ink drawn in it vanished)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, size=(20, 16), dtype=np.uint8)
    Image.fromarray(grey, "L").save(tmp_path / "eight.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "sixteen.png")  # the same picture, 16-bit
    assert Image.open(tmp_path / "sixteen.png").mode.startswith("I")
    np.testing.assert_array_equal(decode_image(tmp_path / "sixteen.png", (20, 16), "L"), grey[None])
    # black ink whose shape is in the alpha channel, on a transparent background
    ink = np.zeros((20, 16, 4), dtype=np.uint8)
    ink[..., 3] = grey
    Image.fromarray(ink, "RGBA").save(tmp_path / "ink.png")
    on_white = np.round(255 * (1 - grey / 255)).astype(int)  # alpha-blended onto white
    np.testing.assert_allclose(decode_image(tmp_path / "ink.png", (20, 16), "L")[0].astype(int), on_white, atol=1)
