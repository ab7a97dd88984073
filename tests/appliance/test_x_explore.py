import pytest, time, asyncio, gc
from appliance.line import LineState
from tests.appliance.conftest import FAMILIES, open_bench, run_virtual

def test_teardown(tmp_path):
    box = {}
    async def body():
        async with open_bench(tmp_path, "sim800") as bench:
            box["b"] = bench
            v = bench.ring()
            await bench.wait_state(LineState.CHALLENGING)
        b = box["b"]
        print("after stop: state", b.line.state, "channel", b.line.channel, "call", b.line.call, b.line._call_task)
        print(b.rows())
    run_virtual(body)
