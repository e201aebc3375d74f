"""A run: which cells it executes (``plan``, split into ``--compat-shard`` slices by
``shard``) and one cell's live system: exchange, gateway and client drivers brought up and
swapped live (``stack``), and the ``Scenario``/``Session`` objects a scenario body drives
(``scenario``)."""
