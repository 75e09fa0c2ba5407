"""Speed and scale benchmarks: ``python -m benchmarks`` prints one Markdown table.

Each row group is a function ``rows(options) -> list[Row]`` in its own module, registered in
``benchmarks.harness.GROUPS``. Groups run in their own subprocess by default, so each gets a clean
peak-RSS reading and one group's allocations or thread pools cannot distort the next one's timing.
See ``benchmarks/RESULTS.md`` for how to run it and what the columns mean.
"""
