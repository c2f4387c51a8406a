"""`python -m parity pictures` writes both PNGs (a short run: one epoch)."""

from parity.cli import main


def test_pictures_command_writes_both_pngs(tmp_path, capsys):
    status = main(["pictures", "--out", str(tmp_path / "pics"), "--epochs", "1"])
    out = capsys.readouterr().out
    assert status == 0, out
    for name in ("activations.png", "optimizers.png"):
        data = (tmp_path / "pics" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    for label in ("SGD", "Momentum", "RMSprop", "Adam"):
        assert f"{label}" in out and "styles agree" in out


def test_epochs_past_the_step_limit_are_refused_before_any_picture_or_run(tmp_path, capsys):
    from parity import cli
    out = tmp_path / "pics"
    assert cli.main(["pictures", "--out", str(out), "--epochs", "100000000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--epochs must be a whole number from 1 to 31250" in err
    assert not out.exists()
    for name, per_epoch in (("prelu", 5), ("all", 5)):
        assert cli.main(["example", name, "--epochs", "1000000000"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"takes {per_epoch} steps an epoch" in err and "--epochs 200000" in err


def test_ctrl_c_before_the_first_picture_leaves_no_empty_folder(tmp_path, monkeypatch):
    from parity import cli, pictures

    def interrupted(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(pictures, "activations_png", interrupted)
    assert cli.main(["pictures", "--out", str(tmp_path / "pics")]) == 130       # (one line: interrupted)
    assert not (tmp_path / "pics").exists()
    (tmp_path / "mine").mkdir()                       # a folder that was there stays
    assert cli.main(["pictures", "--out", str(tmp_path / "mine")]) == 130
    assert (tmp_path / "mine").is_dir()


def test_a_folder_where_a_picture_goes_is_named_and_the_fix_is_another_place(tmp_path, capsys):
    # pics/activations.png a folder: the fix was "give a file path in it, e.g. pics/activations.png/out", which
    # this command, whose file names are fixed, cannot take
    (tmp_path / "pics" / "activations.png").mkdir(parents=True)
    assert main(["pictures", "--out", str(tmp_path / "pics"), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and (f"{tmp_path / 'pics' / 'activations.png'} is a folder, and this command "
                                     "writes its picture activations.png there: move that folder away, or give "
                                     "another --out folder") in err
    assert not (tmp_path / "pics" / "optimizers.png").exists()
