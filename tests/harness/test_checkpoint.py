"""Save the parameters of any style, load them into any other; refuse files that do not fit."""

import functools
import os
import pickle

import numpy as np
import pytest
import torch

import impl_numpy.checkpoint as np_ckpt
import impl_numpy.mlp as np_lesson
import impl_torch_nn.checkpoint as nn_ckpt
import impl_torch_nn.mlp as nn_lesson
from parity import checkpoint as ck
from parity import lockstep
from parity.examples.common import predict
from parity.problem import make_problem
from parity.spec import Spec
from parity.styles import STYLES, build, nn_state_keys
from parity.tolerance import compare_arrays, tolerance

FORMATS = [".safetensors", ".npz", ".pt"]
SPEC = Spec(name="ckpt", sizes=(3, 4, 2), activation="tanh", bias=True, loss="mse", lr=0.1, n_samples=6,
            steps=3)


@functools.lru_cache(maxsize=None)
def trained(dtype):
    """Every style trained 3 steps from seed 0, in lockstep (so they agree)."""
    report = lockstep.run(SPEC.replace(dtype=dtype))
    assert report.ok
    return report


def fresh(style, dtype, seed=1):
    """A style built from other initial weights, to load into."""
    return build(style, make_problem(SPEC.replace(dtype=dtype, seed=seed)))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("src", STYLES)
def test_any_style_round_trips_into_every_style(src, fmt, dtype, tmp_path):
    source = trained(dtype).built[src]
    path = tmp_path / f"net{fmt}"
    ck.save(source, path)
    x = make_problem(SPEC, ).x[:4]
    want_params = ck.get_params(source)
    want = predict(source, x)
    for dst in STYLES:
        target = fresh(dst, dtype)
        assert not np.array_equal(predict(target, x), want)          # it really starts elsewhere
        ck.load(target, path)
        got = ck.get_params(target)
        for name in want_params:
            np.testing.assert_array_equal(got[name], want_params[name], err_msg=f"{src}->{dst} {name}")
        if dst == src:
            np.testing.assert_array_equal(predict(target, x), want)   # the same code: bit for bit
        else:                                                          # other code: within the policy
            scale = float(np.max(np.abs(want)))                      # the policy's scale: the tensor's size
            err, idx, _, _ = compare_arrays(predict(target, x), want, scale)
            assert err <= tolerance(dtype), f"{src}->{dst}: prediction differs by {err:.3g} at {idx}"


def test_a_loaded_net_trains_on_exactly_as_the_saved_one(tmp_path):
    # save numpy after 3 steps, load into nn, take 3 more steps in each: still in parity
    source = trained("float64").built["numpy"]
    ck.save(source, tmp_path / "a.safetensors")
    problem = make_problem(SPEC)
    arrays = ck.read(tmp_path / "a.safetensors", SPEC)
    weights = [arrays[f"W{l + 1}"] for l in range(SPEC.depth)]
    biases = [arrays[f"b{l + 1}"] for l in range(SPEC.depth)]
    resumed = make_problem(SPEC, x=problem.x, y=problem.y, weights=weights, biases=biases)
    assert lockstep.run(SPEC, problem=resumed).ok


@pytest.mark.parametrize("fmt", FORMATS)
def test_prelu_slopes_round_trip_between_every_pair(fmt, tmp_path):
    spec = SPEC.replace(activation="prelu", optimizer="adam", lr=0.1)
    report = lockstep.run(spec)                       # 3 Adam steps move the slope off its 0.25
    assert report.ok
    for src in STYLES:
        ck.save(report.built[src], tmp_path / f"net{fmt}")
        want = ck.get_params(report.built[src])
        assert list(want) == ["W1", "b1", "p1", "W2", "b2"] and want["p1"][0] != 0.25
        for dst in STYLES:
            target = build(dst, make_problem(spec.replace(seed=1)))
            ck.load(target, tmp_path / f"net{fmt}")
            got = ck.get_params(target)
            for name in want:
                np.testing.assert_array_equal(got[name], want[name], err_msg=f"{src}->{dst} {name}")


@pytest.mark.parametrize("spec", [SPEC, SPEC.replace(bias=False), SPEC.replace(output_activation="sigmoid"),
                                  Spec(sizes=(2, 3, 2, 1), activation="identity", bias=True),
                                  SPEC.replace(activation="prelu", output_activation="prelu")],
                         ids=["tanh-bias", "no-bias", "sigmoid-out", "identity", "prelu"])
def test_the_pt_names_are_the_nn_lessons_state_dict_keys(spec):
    nn_style = build("torch_nn", make_problem(spec.replace(n_samples=2)))
    keys = nn_state_keys(spec)
    state = nn_style.net.model.state_dict()
    assert set(keys.values()) == set(state)
    # each name points at the very tensor the harness reads as that parameter
    W, b = nn_style.weights_and_biases()
    p, _ = nn_style.slopes()
    for l in range(spec.depth):
        named = [(f"W{l + 1}", W[l])] + ([(f"b{l + 1}", b[l])] if spec.bias else []) \
            + ([(f"p{l + 1}", p[l])] if p[l] is not None else [])
        for name, tensor in named:
            assert state[keys[name]].data_ptr() == tensor.data_ptr(), name


# ---------------------------------------------------------------------------- files that do not fit


def saved(tmp_path, fmt, spec=SPEC, style="numpy"):
    path = tmp_path / f"other{fmt}"
    ck.save(build(style, make_problem(spec.replace(n_samples=2))), path)
    return path


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_wrong_shape_names_the_tensor_and_both_shapes(fmt, tmp_path):
    path = saved(tmp_path, fmt, SPEC.replace(sizes=(3, 5, 2)))
    target = fresh("torch_autograd", "float64")
    before = ck.get_params(target)
    with pytest.raises(ck.CheckpointError, match=r"W1 has shape \(5, 3\) in the file, but the spec 3-4-2, "
                                                 r"bias on needs \(4, 3\)"):
        ck.load(target, path)
    after = ck.get_params(target)
    assert all(np.array_equal(before[n], after[n]) for n in before)    # refused before touching the net


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_and_unexpected_names_are_listed(fmt, tmp_path):
    # .pt files name their tensors as the nn lesson's Sequential does: 0.bias is b1, 2.bias is b2
    b1, b2 = ("0.bias", "2.bias") if fmt == ".pt" else ("b1", "b2")
    path = saved(tmp_path, fmt, SPEC.replace(bias=False))
    with pytest.raises(ck.CheckpointError, match=f"does not fit the spec 3-4-2, bias on: missing {b1}, {b2}"):
        ck.load(fresh("numpy", "float64"), path)
    path = saved(tmp_path, fmt, SPEC)
    with pytest.raises(ck.CheckpointError, match=f"unexpected {b1}, {b2}"):
        ck.load(build("torch_nn", make_problem(SPEC.replace(bias=False))), path)


def test_a_deeper_net_is_refused_with_the_extra_names(tmp_path):
    path = saved(tmp_path, ".safetensors", SPEC.replace(sizes=(3, 4, 4, 2)))
    with pytest.raises(ck.CheckpointError, match="unexpected W3, b3"):
        ck.load(fresh("torch_manual", "float64"), path)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_damaged_file_is_named_truncated_or_corrupt(fmt, damage, tmp_path):
    path = saved(tmp_path, fmt)
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x00not a checkpoint" * 8,
                      "empty": b""}[damage])
    with pytest.raises(ck.CheckpointError, match="truncated or corrupt") as e:
        ck.load(fresh("numpy", "float64"), path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_non_float_and_non_finite_arrays_are_refused(tmp_path):
    from safetensors.numpy import save_file
    arrays = {n: np.zeros(s) for n, s in ck.expected(SPEC).items()}
    save_file({**arrays, "W1": np.zeros((4, 3), dtype=np.int64)}, str(tmp_path / "int.safetensors"))
    with pytest.raises(ck.CheckpointError, match="W1 holds int64 numbers"):
        ck.load(fresh("numpy", "float64"), tmp_path / "int.safetensors")
    save_file({**arrays, "b2": np.array([0.0, np.nan])}, str(tmp_path / "nan.safetensors"))
    with pytest.raises(ck.CheckpointError, match="b2 holds NaN or inf"):
        ck.load(fresh("numpy", "float64"), tmp_path / "nan.safetensors")


def test_float16_arrays_are_refused_as_the_message_says(tmp_path):
    from safetensors.numpy import save_file
    arrays = {n: np.zeros(s) for n, s in ck.expected(SPEC).items()}
    save_file({**arrays, "W2": np.zeros((2, 4), dtype=np.float16)}, str(tmp_path / "half.safetensors"))
    with pytest.raises(ck.CheckpointError, match="W2 holds float16 numbers: expected float32 or float64"):
        ck.load(fresh("numpy", "float64"), tmp_path / "half.safetensors")


def test_a_folder_is_named_a_folder_not_a_damaged_file(tmp_path):
    (tmp_path / "net.safetensors").mkdir()
    with pytest.raises(ck.CheckpointError, match="is a folder, not a checkpoint file"):
        ck.load(fresh("numpy", "float64"), tmp_path / "net.safetensors")


def test_a_pickled_model_in_a_pt_file_is_named_a_pickle_with_the_fix(tmp_path):
    torch.save(torch.nn.Sequential(torch.nn.Linear(3, 4)), tmp_path / "model.pt")     # the whole module
    with pytest.raises(ck.CheckpointError, match=r"pickled Python object.*torch.save\(model.state_dict\(\), path\)"):
        ck.load(fresh("numpy", "float64"), tmp_path / "model.pt")


@pytest.mark.parametrize("style", ["numpy", "torch_nn"])          # torch_nn's .pt: the nn lesson's own save
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_saved_file_has_the_mode_a_plain_open_would_give(fmt, style, tmp_path):
    umask = os.umask(0o022)
    try:
        path = saved(tmp_path, fmt, style=style)
    finally:
        os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o644


def test_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(ck.CheckpointError, match="unknown checkpoint format '.pkl'"):
        ck.save(fresh("numpy", "float64"), tmp_path / "net.pkl")
    with pytest.raises(ck.CheckpointError, match="no such checkpoint file"):
        ck.load(fresh("numpy", "float64"), tmp_path / "none.safetensors")


# ---------------------------------------------------------------------------- a failed save


class DiskFull(OSError):
    pass


@pytest.mark.parametrize("style", ["numpy", "torch_nn"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_an_interrupted_save_leaves_the_old_file_intact(fmt, style, tmp_path, monkeypatch):
    good = trained("float64").built[style]
    path = tmp_path / f"net{fmt}"
    ck.save(good, path)
    old_bytes = path.read_bytes()
    written = {}

    def fail_after_writing(fd):         # the bytes were written; the disk fails before the rename
        written["size"] = os.fstat(fd).st_size
        raise DiskFull("no space left on device")

    monkeypatch.setattr(os, "fsync", fail_after_writing)
    with pytest.raises(DiskFull):
        ck.save(fresh(style, "float64"), path)
    monkeypatch.undo()
    assert written["size"] > 0                                  # it failed mid-save, not before
    assert path.read_bytes() == old_bytes                       # the good file is untouched
    assert os.listdir(tmp_path) == [path.name]                  # and no temporary file is left
    target = fresh("torch_manual", "float64")
    ck.load(target, path)
    np.testing.assert_array_equal(ck.get_params(target)["W1"], ck.get_params(good)["W1"])


@pytest.mark.parametrize("fmt, target", [(".npz", "numpy.savez"), (".pt", "torch.save")])
def test_a_save_killed_half_way_through_the_serializer_leaves_the_old_file_intact(fmt, target, tmp_path,
                                                                                  monkeypatch):
    good = trained("float64").built["torch_nn"]
    path = tmp_path / f"net{fmt}"
    ck.save(good, path)
    old_bytes = path.read_bytes()

    def half_then_interrupt(obj_or_file, *args, **kwargs):
        f = obj_or_file if hasattr(obj_or_file, "write") else args[0]
        f.write(old_bytes[: len(old_bytes) // 2])          # some bytes out, then Ctrl-C
        raise KeyboardInterrupt

    module, name = target.split(".")
    monkeypatch.setattr({"numpy": np, "torch": torch}[module], name, half_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        ck.save(fresh("torch_nn", "float64"), path)
    monkeypatch.undo()
    assert path.read_bytes() == old_bytes and os.listdir(tmp_path) == [path.name]


def test_without_the_rename_a_failed_save_would_destroy_the_file(tmp_path):
    # The same failure written straight to the target (what the rename prevents) leaves a broken file.
    path = tmp_path / "net.safetensors"
    ck.save(fresh("numpy", "float64"), path)
    data = path.read_bytes()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])                          # half written when the disk fails
    with pytest.raises(ck.CheckpointError, match="truncated or corrupt"):
        ck.load(fresh("numpy", "float64"), path)


# ---------------------------------------------------------------------------- the lessons' own


def test_the_numpy_lesson_round_trips_with_savez_and_refuses_pickles(tmp_path):
    problem = make_problem(SPEC)
    a = np_lesson.MLP(problem.weights, problem.biases, activation="tanh")
    b = np_lesson.MLP(make_problem(SPEC.replace(seed=3)).weights, make_problem(SPEC.replace(seed=3)).biases,
                      activation="tanh")
    np_ckpt.save(a, tmp_path / "a.npz")
    np_ckpt.load(b, tmp_path / "a.npz")
    np.testing.assert_array_equal(a.forward(problem.x), b.forward(problem.x))
    np.savez(tmp_path / "obj.npz", W1=np.array([{"code": "runs"}], dtype=object))
    with pytest.raises(ValueError, match="holds pickled Python objects"):
        np_ckpt.load_arrays(tmp_path / "obj.npz")            # allow_pickle=False: objects are refused
    with pytest.raises(ck.CheckpointError, match="holds pickled Python objects"):
        ck.load(fresh("numpy", "float64"), tmp_path / "obj.npz")


def test_the_nn_lesson_saves_a_state_dict_and_refuses_a_pickled_module(tmp_path):
    problem = make_problem(SPEC)
    a = nn_lesson.MLP([torch.from_numpy(w) for w in problem.weights],
                      [torch.from_numpy(b) for b in problem.biases], activation="tanh")
    other = make_problem(SPEC.replace(seed=3))
    b = nn_lesson.MLP([torch.from_numpy(w) for w in other.weights],
                      [torch.from_numpy(v) for v in other.biases], activation="tanh")
    nn_ckpt.save(a.model, tmp_path / "a.pt")
    nn_ckpt.load(b.model, tmp_path / "a.pt")
    x = torch.from_numpy(problem.x)
    torch.testing.assert_close(b.model(x), a.model(x), rtol=0, atol=0)
    # seed 002's other way: the whole module, pickled. weights_only=True refuses to rebuild it.
    torch.save(a.model, tmp_path / "module.pt")
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        torch.load(tmp_path / "module.pt", weights_only=True)
    # and a state_dict that does not fit is refused by load_state_dict, naming the mismatch
    small = nn_lesson.MLP([torch.zeros(4, 3), torch.zeros(1, 4)], None, activation="tanh")
    with pytest.raises(RuntimeError, match="size mismatch for 2.weight"):
        nn_ckpt.load(small.model, tmp_path / "a.pt")


def test_the_numpy_checkpoint_lesson_never_imports_torch_or_the_harness():
    import subprocess
    import sys
    code = ("import sys, impl_numpy.checkpoint, impl_numpy.mlp; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'parity')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("fmt", ["safetensors", "npz", "pt"])
def test_a_save_keeps_the_permissions_of_the_file_it_replaces_and_writes_through_a_link(fmt, tmp_path):
    # a private (0600) checkpoint was widened to 0644 by the .npz and .pt saves; a link was replaced by a file
    style = build("numpy" if fmt != "pt" else "torch_nn", make_problem(Spec(steps=1)))
    private = tmp_path / f"private.{fmt}"
    private.write_bytes(b"")
    os.chmod(private, 0o600)
    ck.save(style, private)
    assert os.stat(private).st_mode & 0o777 == 0o600 and private.stat().st_size > 0
    target, link = tmp_path / f"target.{fmt}", tmp_path / f"link.{fmt}"
    target.write_bytes(b"old")
    link.symlink_to(target)
    ck.save(style, link)
    assert link.is_symlink() and target.read_bytes() != b"old"


@pytest.mark.parametrize("change, words", [
    (lambda t: t.to(torch.bfloat16), "holds bfloat16 numbers"),
    (lambda t: t.to_sparse(), "is a sparse_coo tensor: save the dense one"),
    (lambda t: torch.empty_like(t, device="meta"), "on the meta device, which holds a shape but no numbers"),
], ids=["bfloat16", "sparse", "meta"])
def test_a_state_dict_of_tensors_with_no_numpy_form_is_named_not_called_corrupt(change, words, tmp_path):
    style = build("torch_nn", make_problem(Spec(steps=1)))
    path = tmp_path / "net.pt"
    ck.save(style, path)
    torch.save({k: change(v) for k, v in torch.load(path, weights_only=True).items()}, path)
    with pytest.raises(ck.CheckpointError, match=words) as info:
        ck.load(style, path)
    assert "corrupt" not in str(info.value)
