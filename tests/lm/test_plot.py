import pytest

from lm.schedules import make_schedule

pytest.importorskip("matplotlib")  # the optional `plot` extra; CI does not install it

from lm.plot import plot_history, plot_schedule  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def test_plot_schedule_and_history_write_pngs(tmp_path):
    sched = make_schedule("inverse_sqrt", lr_max=1e-3, n_warmup=50)
    a = plot_schedule(sched, 500, tmp_path / "lr.png")
    hist = {"step": list(range(1, 101)), "loss": [5.0 / (1 + 0.05 * t) for t in range(1, 101)], "lr": [1e-3] * 100,
            "eval_step": [50, 100], "eval_loss": [2.0, 1.5]}
    b = plot_history(hist, tmp_path / "loss.png")
    for path in (a, b):
        data = path.read_bytes()
        assert data.startswith(PNG) and len(data) > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loss.png", "lr.png"]  # no temp files left
