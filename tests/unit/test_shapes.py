import pytest

from harness.locust.shape_plan import ShapeSettings, plan_for


def users_over(settings: ShapeSettings, times: list[float]) -> list[int | None]:
    plan = plan_for(settings)
    return [plan(t) for t in times]


def test_steady_and_soak_hold_the_peak_until_the_end():
    for shape in ("steady", "soak"):
        assert users_over(ShapeSettings(shape, 100, 60), [0, 30, 59.9, 60]) == [100, 100, 100, None]


def test_ramp_grows_linearly_from_zero():
    assert users_over(ShapeSettings("ramp", 100, 100), [0, 25, 50, 99, 100]) == [
        0,
        25,
        50,
        99,
        None,
    ]


def test_step_climbs_in_equal_steps():
    times = [0, 19, 20, 45, 79, 80, 99]
    assert users_over(ShapeSettings("step", 100, 100, steps=5), times) == [
        20,
        20,
        40,
        60,
        80,
        100,
        100,
    ]


def test_spike_jumps_to_the_peak_in_the_middle():
    settings = ShapeSettings("spike", 500, 100, baseline=50, spike_length_s=20)
    assert users_over(settings, [0, 39, 40, 59, 60, 99, 100]) == [50, 50, 500, 500, 50, 50, None]


def test_unknown_shape_is_refused():
    with pytest.raises(ValueError, match="unknown shape 'wave'"):
        plan_for(ShapeSettings("wave", 10, 10))
