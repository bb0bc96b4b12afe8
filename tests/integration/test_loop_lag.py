import asyncio
import time

from harness.metrics.loop_lag import LoopLagMonitor


def test_a_blocked_loop_is_reported_with_its_lag():
    windows: list[list[float]] = []
    overloads: list[tuple[float, float]] = []

    async def main() -> None:
        monitor = LoopLagMonitor(
            lambda started, lags: windows.append(lags),
            lambda p99, top: overloads.append((p99, top)),
            window_s=0.3,
        )
        task = asyncio.create_task(monitor.run())
        await asyncio.sleep(0.05)
        for _ in range(3):
            time.sleep(0.04)  # the loop is stuck: every callback runs 40 ms late
            await asyncio.sleep(0.02)
        while not overloads:
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(asyncio.wait_for(main(), timeout=5))
    p99, top = overloads[0]
    assert p99 >= 30 and top >= 35  # the 40 ms stalls, not scheduling noise
    assert windows and all(lag >= 0 for lag in windows[0])
