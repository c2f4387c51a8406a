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
