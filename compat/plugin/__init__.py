"""The pytest edge: the only package that imports pytest.

``hooks`` is the plugin pytest loads (entry point ``pytest11: compat``): options, markers and
hooks, cheap to import; ``fixtures`` holds the fixtures scenarios take. Everything heavy is
imported inside hooks and fixtures once a compat run is asked for.
"""
