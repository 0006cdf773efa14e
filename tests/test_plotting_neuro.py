"""Brain-map figures, checked by the data they draw (nilearn, Agg backend)."""

import re

import numpy as np
import pytest

pytest.importorskip("nilearn")
nib = pytest.importorskip("nibabel")
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from matplotlib.colors import Normalize  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from brainenc.io import load_runs  # noqa: E402
from brainenc.plotting import (  # noqa: E402
    plot_brain_map,
    plot_parcel_map,
    plot_surface_map,
    plot_volume_map,
)

# nothing may download (see conftest.no_network)
pytestmark = pytest.mark.usefixtures("no_network")


AFFINE = np.diag([3.0, 3.0, 3.0, 1.0])
AFFINE[:3, 3] = [-9.0, -12.0, -6.0]


@pytest.fixture
def mask():
    inside = np.zeros((7, 9, 5), dtype=np.uint8)
    inside[1:6, 1:8, 1:4] = 1
    inside[3, 4, 2] = 0  # a hole
    return inside


def _volume(inside, values):
    """The map by hand: values at the mask's voxels in C order, 0 elsewhere."""
    volume = np.zeros(inside.shape, dtype=np.float32)
    for value, voxel in zip(values, np.argwhere(inside != 0), strict=True):
        volume[tuple(voxel)] = value
    return volume


def _drawn(fig):
    """The stat-map arrays drawn, one per cut (nilearn's fillers left out)."""
    arrays = []
    for ax in fig.axes:
        images = [im for im in ax.images if abs(im.get_extent()[0]) != 5000]
        if images:
            arrays.append(np.ma.getdata(images[-1].get_array()))
    return arrays


def test_volume_slices_draw_the_values_at_the_cut(mask):
    values = np.linspace(-0.4, 0.8, int(mask.sum())).astype(np.float32)
    volume = _volume(mask, values)
    voxel = (2, 5, 3)
    world = (AFFINE @ [*voxel, 1])[:3]
    mask_img = nib.Nifti1Image(mask, AFFINE)
    fig = plot_volume_map(
        values, mask_img, bg_img=None, cut_coords=world, figure=Figure()
    )
    x_cut, y_cut, z_cut = _drawn(fig)
    # nilearn draws each slice transposed, top row first
    np.testing.assert_array_equal(x_cut, volume[voxel[0]].T[::-1])
    np.testing.assert_array_equal(y_cut, volume[:, voxel[1]].T[::-1])
    np.testing.assert_array_equal(z_cut, volume[:, :, voxel[2]].T[::-1])
    colorbar = fig.axes[-1]
    assert [float(v) for v in colorbar.get_ylim()] == pytest.approx([-0.8, 0.8])
    # the default background is the mask itself: two images per cut
    fig = plot_volume_map(
        values, mask_img, cut_coords=world, title="r", figure=Figure()
    )
    assert len(_drawn(fig)) == 3
    backgrounds = [
        np.ma.getdata(ax.images[-2].get_array())
        for ax in fig.axes
        if len(ax.images) >= 2 and abs(ax.images[-1].get_extent()[0]) != 5000
    ]
    np.testing.assert_array_equal(backgrounds[2] != 0, mask[:, :, 3].T[::-1] != 0)


def test_glass_brain_draws_signed_maximum_projections(mask):
    values = np.linspace(-0.9, 0.6, int(mask.sum())).astype(np.float32)
    volume = _volume(mask, values)
    fig = plot_volume_map(
        values, nib.Nifti1Image(mask, AFFINE), kind="glass", figure=Figure()
    )
    # the value of largest magnitude along each line of sight, sign kept
    deepest = np.take_along_axis(
        volume, np.abs(volume).argmax(axis=2)[..., None], axis=2
    )[..., 0]
    z_projection = _drawn(fig)[-1]
    np.testing.assert_array_equal(z_projection, deepest.T[::-1])
    assert [float(v) for v in fig.axes[-1].get_ylim()] == pytest.approx([-0.9, 0.9])


def test_parcel_map_paints_each_parcel(mask):
    atlas = np.zeros(mask.shape, dtype=np.int16)
    atlas[1:3, 1:8, 1:4] = 4
    atlas[3:6, 1:8, 1:4] = 9
    atlas[3:6, 1:4, 1:2] = 2
    values = np.array([0.1, -0.3, 0.5], dtype=np.float32)  # labels 2, 4, 9
    expected = np.zeros(mask.shape, dtype=np.float32)
    for label, value in zip((2, 4, 9), values, strict=True):
        expected[atlas == label] = value
    voxel = (4, 2, 1)
    world = (AFFINE @ [*voxel, 1])[:3]
    image = nib.Nifti1Image(atlas, AFFINE)
    fig = plot_parcel_map(values, image, cut_coords=world, figure=Figure())
    _, _, z_cut = _drawn(fig)
    np.testing.assert_array_equal(z_cut, expected[:, :, 1].T[::-1])
    # labels in another order
    fig = plot_parcel_map(
        values[::-1], image, labels=[9, 4, 2], cut_coords=world, figure=Figure()
    )
    np.testing.assert_array_equal(_drawn(fig)[2], expected[:, :, 1].T[::-1])
    with pytest.raises(ValueError, match=re.escape(
        "values must have shape (3,), one value per parcel (label), got shape (2,)."
    )):  # fmt: skip
        plot_parcel_map(values[:2], image)
    with pytest.raises(ValueError, match=re.escape(
        "labels [5] are not in the atlas, whose labels are [2, 4, 9]."
    )):  # fmt: skip
        plot_parcel_map(values, image, labels=[2, 4, 5])


def _fsaverage_series(values, hemi="CortexRight"):
    meta = nib.gifti.GiftiMetaData({"AnatomicalStructurePrimary": hemi})
    darray = nib.gifti.GiftiDataArray(np.asarray(values, dtype=np.float32))
    return nib.gifti.GiftiImage(darrays=[darray], meta=meta)


def _rows(colours):
    """Colours as a sorted list of rows (3-D axes draw faces in depth order)."""
    colours = np.asarray(colours)[:, :3]
    return colours[np.lexsort(colours.T[::-1])]


def test_surface_map_colours_faces_by_their_mean_value():
    from nilearn.datasets import load_fsaverage
    from nilearn.plotting.cm import cold_hot

    mesh = load_fsaverage("fsaverage5").inflated.parts["right"]
    coords = np.array(mesh.coordinates)
    faces = np.asarray(mesh.faces)
    values = np.exp(-((coords - coords[500]) ** 2).sum(axis=1) / 400.0) - 0.2
    fig = plot_surface_map(
        values, _fsaverage_series(values), views=["lateral"], figure=Figure()
    )
    ax = fig.axes[0]
    assert ax.get_title() == "right, lateral"
    colours = ax.collections[0].get_facecolors()
    assert colours.shape == (faces.shape[0], 4)
    # an independent computation: the cmap at the mean of each face's vertices
    vmax = np.abs(values).max()
    expected = cold_hot(Normalize(-vmax, vmax)(values[faces].mean(axis=1)))
    np.testing.assert_allclose(_rows(colours), _rows(expected), atol=1e-6)
    assert [float(v) for v in fig.axes[-1].get_ylim()] == pytest.approx(
        [-vmax, vmax], rel=1e-6
    )


def test_surface_map_through_load_runs_with_a_vertex_mask(tmp_path):
    from nilearn.datasets import load_fsaverage

    mesh = load_fsaverage("fsaverage5").inflated.parts["left"]
    faces = np.asarray(mesh.faces)
    keep = np.asarray(mesh.coordinates)[:, 1] > -20  # the back of the brain left out
    rng = np.random.default_rng(0)
    (tmp_path / "feats").mkdir()
    for run in ("run-1", "run-2"):
        series = rng.standard_normal((10242, 12)).astype(np.float32)
        darrays = [nib.gifti.GiftiDataArray(column) for column in series.T]
        nib.save(nib.gifti.GiftiImage(darrays=darrays), tmp_path / f"{run}.func.gii")
        np.save(tmp_path / "feats" / f"{run}.npy", rng.standard_normal((12, 2)))
    data = load_runs(tmp_path / "feats", tmp_path / "*.func.gii", mask=keep)
    values = np.linspace(0.5, 0.9, int(keep.sum()))  # a face with one: >= 0.17
    # vmax=2: the map's colours are reds (cold_hot is black at 0, white at vmax)
    fig = plot_brain_map(
        values, data, views=["lateral", "medial"], vmax=2.0, figure=Figure()
    )
    surfaces = [ax for ax in fig.axes if ax.name == "3d"]
    assert [ax.get_title() for ax in surfaces] == ["left, lateral", "left, medial"]
    full = np.zeros(10242)
    full[keep] = values
    hidden = np.abs(full[faces].mean(axis=1)) <= 1e-6  # faces left out entirely
    assert 0 < hidden.sum() < faces.shape[0]
    # those faces show the grey sulcal background; the others the map's colours
    colours = surfaces[0].collections[0].get_facecolors()[:, :3]
    grey = np.ptp(colours, axis=1) < 1e-6
    assert grey.sum() == hidden.sum()


def test_brain_map_errors(tmp_path):
    values = np.zeros(50)
    series = nib.gifti.GiftiImage(
        darrays=[nib.gifti.GiftiDataArray(values.astype(np.float32))]
    )
    with pytest.raises(ValueError, match=re.escape(
        "the data have 50 (left) vertices, not fsaverage5's 10242 per hemisphere: "
        "give mesh= (the .surf.gii of their mesh)"
    )):  # fmt: skip
        plot_surface_map(values, series)
    with pytest.raises(ValueError, match=re.escape(
        "values must have shape (50,), one value per target, got shape (3,)."
    )):  # fmt: skip
        plot_surface_map([1.0, 2.0, 3.0], series)
    mask = nib.Nifti1Image(np.ones((2, 2, 2), np.uint8), np.eye(4))
    with pytest.raises(ValueError, match="kind must be 'slices' or 'glass', got 'mip'"):
        plot_volume_map(np.ones(8), mask, kind="mip")
    with pytest.raises(ValueError, match="like must describe surface"):
        plot_surface_map(np.ones(8), mask)
    with pytest.raises(ValueError, match="like must describe a volume"):
        plot_volume_map(values, series)


def test_a_mesh_given_by_file(tmp_path):
    # a tiny tetrahedron mesh, written as GIFTI, with one value per vertex
    coords = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0], [0, 0, 10]], np.float32)
    faces = np.array([[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]], np.int32)
    mesh = nib.gifti.GiftiImage(
        darrays=[
            nib.gifti.GiftiDataArray(coords, intent="NIFTI_INTENT_POINTSET"),
            nib.gifti.GiftiDataArray(faces, intent="NIFTI_INTENT_TRIANGLE"),
        ]
    )
    nib.save(mesh, tmp_path / "tiny.surf.gii")
    values = np.array([0.2, 0.4, -0.6, 0.8])
    fig = plot_surface_map(
        values,
        _fsaverage_series(values, hemi="CortexLeft"),
        mesh=tmp_path / "tiny.surf.gii",
        views=["lateral"],
        figure=Figure(),
    )
    colours = fig.axes[0].collections[0].get_facecolors()
    assert colours.shape == (4, 4)
    with pytest.raises(
        ValueError, match="the left mesh has 4 vertices but the data have 3"
    ):
        plot_surface_map(
            values[:3],
            _fsaverage_series(values[:3], hemi="CortexLeft"),
            mesh=tmp_path / "tiny.surf.gii",
        )
