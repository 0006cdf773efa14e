"""
Brain maps: NIfTI runs in, an r map out
=======================================

The usual fMRI workflow end to end: 4-D NIfTI runs and a brain mask go in
through :func:`brainenc.io.load_runs`, a :class:`brainenc.DelayedRidge` is
fitted on some runs and scored per voxel on a held-out run, and the Pearson r
goes back into the mask's grid with :func:`brainenc.io.save_map`, as a NIfTI
file any viewer opens, and as a figure with
:func:`brainenc.plotting.plot_volume_map`. The same works for GIFTI surface
series (shown at the end, on nilearn's fsaverage5), CIFTI series and MNE
objects. The command line does it in one line::

    brainenc fit --features feats/ --responses run-*.nii.gz --mask mask.nii.gz --out res/

The images here are synthetic (written with nibabel), so we know where the
signal is: a blob of voxels driven by the stimulus features, noise elsewhere.
Everything runs offline; it needs the ``neuro`` extra
(``pip install "brainenc[neuro]"``).
"""

# %%
# Write four runs of 80 TRs (TR 2 s) on a 4 mm grid, a mask (an ellipsoid
# "brain" with its grid's affine) and one features file per run.
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np

from brainenc import DelayedRidge, pearson_r
from brainenc.io import load_map, load_runs, save_map
from brainenc.plotting import plot_surface_map, plot_volume_map

folder = Path(tempfile.mkdtemp())
(folder / "feats").mkdir()
rng = np.random.default_rng(0)
affine = np.diag([4.0, 4.0, 4.0, 1.0])
affine[:3, 3] = [-38.0, -50.0, -30.0]
grid = np.indices((20, 25, 16))
ellipsoid = ((grid[0] - 9.5) / 9) ** 2 + ((grid[1] - 12) / 11.5) ** 2
inside = ellipsoid + ((grid[2] - 7.5) / 7) ** 2 < 1
nib.save(nib.Nifti1Image(inside.astype(np.uint8), affine), folder / "mask.nii.gz")

# how strongly each voxel follows the stimulus: a blob at one place
blob = np.exp(-((grid[0] - 5) ** 2 + (grid[1] - 14) ** 2 + (grid[2] - 8) ** 2) / 12)
weights = rng.standard_normal((5, 1))
for run in ("run-1", "run-2", "run-3", "run-4"):
    X = rng.standard_normal((80, 5))
    signal = np.zeros(80)
    signal[2:] = (X @ weights)[:-2, 0]  # the response lags the stimulus by 4 s
    bold = blob[..., None] * signal + rng.standard_normal((*inside.shape, 80))
    image = nib.Nifti1Image(bold.astype(np.float32), affine)
    image.header.set_xyzt_units("mm", "sec")
    image.header.set_zooms((4.0, 4.0, 4.0, 2.0))
    nib.save(image, folder / f"{run}.nii.gz")
    np.save(folder / "feats" / f"{run}.npy", X)

# %%
# Load: the in-mask voxels (in C order) become the columns of ``y``; the
# sampling rate comes from the NIfTI headers and the mask is kept in
# ``data.space``.
data = load_runs(
    folder / "feats", sorted(folder.glob("run-*.nii.gz")), mask=folder / "mask.nii.gz"
)
print(data.X.shape, data.y.shape, data.runs, data.sfreq, data.space)

# %%
# Fit on three runs (delays of 2 to 6 s), score every voxel on the fourth.
train, test = data.groups != "run-4", data.groups == "run-4"
model = DelayedRidge(delays=[1, 2, 3], backend="numpy")
model.fit(data.X[train], data.y[train], groups=data.groups[train])
r = pearson_r(data.y[test], model.predict(data.X[test], groups=data.groups[test]))
print(f"{r.size} voxels, mean r {r.mean():.3f}, best r {r.max():.3f}")

# %%
# Back into the brain: a NIfTI file with the mask's affine and header (0
# outside the mask; ``fill_value=np.nan`` marks those voxels missing), read
# back exactly.
path = save_map(r, folder / "r.nii.gz", like=data)
r_image = nib.load(path)
print(path.name, r_image.shape, np.array_equal(r_image.affine, affine))
print("round trip exact:", np.array_equal(load_map(path, like=data), r.astype("f4")))

# %%
# And a figure: three slices through the strongest cluster, on the mask.
fig = plot_volume_map(r, data, title="held-out r")
plt.show()

# %%
# Surface data work the same way. A GIFTI series on fsaverage5 (10242
# vertices of the left hemisphere, which nilearn ships) gives ``y`` with one
# column per vertex, ``save_map(r, "r.func.gii", like=data)`` a GIFTI map on
# the same mesh, and the figure is drawn on the inflated surface. Here the
# values are a made-up pattern, to show the figure.
from nilearn.datasets import load_fsaverage

xyz = np.asarray(load_fsaverage("fsaverage5").pial.parts["left"].coordinates)
pattern = np.exp(-((xyz - xyz[2000]) ** 2).sum(axis=1) / 900) * 0.6
series = nib.gifti.GiftiImage(
    darrays=[nib.gifti.GiftiDataArray(pattern.astype(np.float32))],
    meta=nib.gifti.GiftiMetaData({"AnatomicalStructurePrimary": "CortexLeft"}),
)
fig = plot_surface_map(pattern, series, title="a pattern on fsaverage5")
plt.show()
